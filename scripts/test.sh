#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: install (and compile the broker core), start
# PostgreSQL, run pytest.
# Every test that needs PostgreSQL runs against the cluster started here (and on SQLite too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
eval "$(bash scripts/postgres.sh)"
export MQTTCLOUD_TEST_DATABASE_URL
# Every broker the tests start runs the compiled core (setup.sh built it); it refuses to start otherwise.
export MQTTCLOUD_CORE=compiled
if [ $# -eq 0 ]; then  # the core's own unit tests once more, in-process on the compiled modules
  MQTTCLOUD_TEST_CORE=compiled .venv/bin/python -m pytest -p no:cacheprovider -q \
    tests/unit/protocol tests/unit/broker tests/unit/runtime
fi
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
