#!/usr/bin/env bash
# Install everything the platform and its tests need on a fresh Debian machine (run as root, idempotent):
# Debian packages (PostgreSQL, mosquitto + clients for interop and benchmarks, Chromium for the console
# tests, nats-server for clusters, redis-server for the Redis action, gcc and the Python headers), then
# the project's venv in .venv with the dev extras, and the compiled broker core (`mqttcloud compile`).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto_sub >/dev/null || need+=(mosquitto-clients)
[ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v chromium >/dev/null || need+=(chromium)
# CJK glyphs so the zh-CN console screenshots (artifacts/screenshots) are readable
[ -d /usr/share/fonts/truetype/wqy ] || need+=(fonts-wqy-microhei)
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || need+=(postgresql)
command -v openssl >/dev/null || need+=(openssl)
# curl and jq: every example of the user guide (docs/) uses them, and tests/docs runs them all
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
# nats-server joins the nodes of multi-node deployments (serve starts it; tests/integration/cluster);
# redis-server is the target of the Redis data-integration action's tests
[ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null || need+=(nats-server)
[ -x /usr/bin/redis-server ] || command -v redis-server >/dev/null || need+=(redis-server)
# gcc and the Python headers: `mqttcloud compile` builds the broker core with mypyc (mqttcloud/compiled.py)
command -v cc >/dev/null || need+=(gcc libc6-dev)
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
headers=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$headers/Python.h" ] || need+=("$(basename "$headers")-dev")  # e.g. python3.11-dev
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's mosquitto, nats-server and redis services would take 1883, 4222 and 6379; our tests never use
# fixed ports, but keep them quiet (serve starts its own nats-server when a deployment needs one).
systemctl disable --now mosquitto >/dev/null 2>&1 || true
systemctl disable --now nats-server >/dev/null 2>&1 || true
systemctl disable --now redis-server >/dev/null 2>&1 || true

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/pip install -q -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import mqttcloud, fastapi, paho.mqtt, playwright' >/dev/null
# The compiled broker core (about a minute and a half when the core's source changed, else instant)
.venv/bin/mqttcloud compile --if-stale
echo "setup: ok"
