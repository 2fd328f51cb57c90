#!/usr/bin/env bash
# Local services for riskstream: Redis (Debian's redis-server) and Kafka (one KRaft node from
# Apache Kafka's jars, fetched with Maven). The work is done by riskstream/stream/localservices.py.
#
#   deps   install redis-server (apt-get, as root) and fetch the Kafka jars; idempotent, silent
#          when everything is already there
#   start  start Redis on 127.0.0.1:${REDIS_PORT:-6379} and Kafka on 127.0.0.1:${KAFKA_PORT:-9092},
#          data and pid files under ${SERVICES_DIR:-.services}/run, return once both answer
#   stop   stop what `start` started and remove its data
#
# The test suite does not need `start`: its fixtures start servers of their own on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -x .venv/bin/python ]]; then
  PY=.venv/bin/python
else
  PY=python3  # `deps` needs only the standard library
fi
SERVICES_DIR="${SERVICES_DIR:-.services}"

run() { "$PY" -m riskstream.stream.localservices "$@"; }

case "${1:-}" in
  deps)
    run deps
    bash scripts/install_chromium.sh  # headless Chromium for the replay report test
    ;;
  start)
    run start --dir "$SERVICES_DIR" --redis-port "${REDIS_PORT:-6379}" \
      --kafka-port "${KAFKA_PORT:-9092}"
    ;;
  stop)
    run stop --dir "$SERVICES_DIR"
    ;;
  *)
    echo "usage: $0 deps|start|stop" >&2
    exit 2
    ;;
esac
