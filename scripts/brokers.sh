#!/usr/bin/env bash
# Start (or stop) every real broker the tests use, natively, with the scripts in compose/.
# Each script is idempotent: a broker that already answers is left as it is.
#   scripts/brokers.sh start | stop | status
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$ROOT/.venv/bin:$PATH"
action="${1:-start}"
for kind in kafka rabbitmq sqs redis nats; do
  bash "$ROOT/compose/$kind.sh" "$action"
done
