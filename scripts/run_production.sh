#!/usr/bin/env bash
# make run-production: every service in several instances behind HAProxy, on the
# local PostgreSQL, Redis and RabbitMQ (or those the settings name).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
export SWITCHBOARD_MODE=production

scripts/install_haproxy.sh
"$PY" -m bot production prepare
"$PY" -m bot db upgrade
"$PY" -m bot seed --if-empty
exec "$PY" -m bot production start
