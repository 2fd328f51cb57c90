#!/usr/bin/env bash
# Placeholder until the services work lands: no service is needed yet.
case "${1:-}" in
  deps|start|stop) exit 0 ;;
  *) echo "usage: $0 deps|start|stop" >&2; exit 2 ;;
esac
