#!/usr/bin/env bash
# Debian's Chromium for the headless rendering test of the replay report
# (tests/replay/test_report_html.py). Idempotent and silent when it is already installed.
# Needs root (apt-get); without root it only says what is missing and exits 0, and the test
# then fails with a message naming this script.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [[ "$(id -u)" != "0" ]]; then
  echo "install_chromium.sh: chromium is missing; run as root: apt-get install -y chromium" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
