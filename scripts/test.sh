#!/usr/bin/env bash
# The whole test suite against every backend on a fresh machine: installs Python deps,
# Debian packages and Kafka's jars, starts the brokers natively, then runs lint, types and
# pytest. Extra arguments go to pytest (e.g. scripts/test.sh -m memory).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
export PATH="$ROOT/.venv/bin:$PATH"
if ! command -v chromium >/dev/null 2>&1; then
  echo "test: installing Debian's chromium for the report rendering test"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
bash scripts/brokers.sh start
echo "test: ruff"; ruff check src plugins tests benchmarks
echo "test: mypy --strict"; mypy
echo "test: docs build (mkdocs --strict)"; mkdocs build --strict -q -d .cache/site
echo "test: pytest"
exec python -m pytest "$@"
