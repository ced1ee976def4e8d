#!/usr/bin/env bash
# The whole test suite against every backend on a fresh machine: installs Python deps,
# Debian packages and Kafka's jars, starts the brokers natively, then runs lint, types, the
# docs build, twine check of the sdist and wheel, and pytest, plus the Kafka tests at the
# lowest supported aiokafka (scripts/aiokafka-low.sh).
# pytest runs as parallel lanes, one process per broker (scripts/lanes.py); with arguments
# it is one pytest process that gets them (e.g. scripts/test.sh -m memory).
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
# The Kafka tests at the lowest aiokafka the pin allows (.venv has the highest) run in the
# background while lint, types and docs build; ANYMQ_AIOKAFKA_LOW=0 skips them.
low_pid=""
if [ "${ANYMQ_AIOKAFKA_LOW:-1}" != 0 ]; then
  echo "test: Kafka tests at the lowest aiokafka (background, log in .cache/aiokafka-low.log)"
  bash scripts/aiokafka-low.sh >.cache/aiokafka-low.log 2>&1 &
  low_pid=$!
  trap 'kill "$low_pid" 2>/dev/null || true' EXIT
fi
echo "test: ruff"; ruff check src plugins tests benchmarks examples
echo "test: mypy --strict"; mypy && mypy examples
echo "test: docs build (mkdocs --strict)"; mkdocs build --strict -q -d .cache/site
# What PyPI would get: the sdist, the wheel built from it, and their metadata and README
# as PyPI renders them (offline: build and hatchling come from the dev extra).
echo "test: sdist + wheel (python -m build) and twine check --strict"
rm -rf .cache/dist
if ! python -m build -q --no-isolation --outdir .cache/dist . >.cache/build.log 2>&1; then
  cat .cache/build.log
  echo "test: python -m build failed" >&2
  exit 1
fi
twine check --strict .cache/dist/*
if [ -n "$low_pid" ]; then
  echo "test: waiting for the lowest-aiokafka Kafka tests"
  if ! wait "$low_pid"; then
    cat .cache/aiokafka-low.log
    echo "test: the Kafka tests failed at the lowest supported aiokafka" >&2
    exit 1
  fi
  trap - EXIT
  grep -E "aiokafka-low:|passed|failed" .cache/aiokafka-low.log | tail -n 2
fi
if [ "$#" -gt 0 ]; then
  echo "test: pytest $*"
  exec python -m pytest "$@"
fi
echo "test: pytest, one lane per broker in parallel (scripts/lanes.py)"
exec python scripts/lanes.py
