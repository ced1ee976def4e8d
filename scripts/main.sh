#!/usr/bin/env bash
# The main job on a fresh machine: set up, then compare brokers side by side
# (memory:// by default; add broker URLs as arguments or ANYMQ_*_URL variables).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
if .venv/bin/anymq compare --help >/dev/null 2>&1; then
  exec .venv/bin/anymq compare "$@"
fi
exec .venv/bin/anymq demo "$@"
