#!/usr/bin/env bash
# The Kafka tests (contract suite + tests/kafka without `slow`) at the LOWEST aiokafka that
# pyproject.toml allows, while .venv has the highest: both ends of the pin are tested.
# The venv in .cache/venv-aiokafka-low holds only aiokafka (and what it adds); everything
# else comes from .venv through a .pth line, so setting it up takes seconds.
# Needs running brokers (scripts/brokers.sh start). Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
low="$(grep -o 'aiokafka>=[0-9.]*' pyproject.toml | head -1 | cut -d= -f2)"
venv=.cache/venv-aiokafka-low
[ -x "$venv/bin/python" ] || .venv/bin/python -m venv "$venv"
purelib='import sysconfig; print(sysconfig.get_paths()["purelib"])'
site="$("$venv/bin/python" -c "$purelib")"
.venv/bin/python -c "$purelib" > "$site/zz-anymq-dev-venv.pth"
version='import aiokafka; print(aiokafka.__version__)'
if [ "$("$venv/bin/python" -c "$version" 2>/dev/null || true)" != "$low" ]; then
  echo "aiokafka-low: installing aiokafka==$low into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "aiokafka==$low"
fi
got="$("$venv/bin/python" -c "$version")"
[ "$got" = "$low" ] || { echo "aiokafka-low: expected aiokafka $low, imported $got" >&2; exit 1; }
echo "aiokafka-low: Kafka tests with aiokafka $got"
export PYTHONPATH="$ROOT/src:$ROOT/plugins${PYTHONPATH:+:$PYTHONPATH}"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" \
  tests/contract/test_kafka.py tests/kafka "$@"
