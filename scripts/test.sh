#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: install, start PostgreSQL, run pytest.
# Every test that needs PostgreSQL runs against the cluster started here (and on SQLite too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
eval "$(bash scripts/postgres.sh)"
export MQTTCLOUD_TEST_DATABASE_URL
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
