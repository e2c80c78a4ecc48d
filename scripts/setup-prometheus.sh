#!/usr/bin/env bash
# Make the Prometheus server and promtool available (Debian package). Tests start their own
# Prometheus on 127.0.0.1 with a generated config; nothing here starts a server.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  echo "Prometheus: $(command -v prometheus)"
  exit 0
fi
echo "Prometheus not found; installing the 'prometheus' package."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "Run as root or install Prometheus yourself." >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package may start a system service on :9090; tabops does not need it.
$SUDO service prometheus stop >/dev/null 2>&1 || true
command -v promtool
