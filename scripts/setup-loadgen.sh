#!/usr/bin/env bash
# Make the HTTP load generators used by benchmarks/serve.py available: wrk (throughput, with a
# Lua script for POST bodies) and hey (fixed request rates), both from Debian. Nothing here
# starts a server.
set -euo pipefail
missing=()
for tool in wrk hey; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "Load generators: $(command -v wrk), $(command -v hey)"
  exit 0
fi
echo "Load generator(s) not found: ${missing[*]}; installing the Debian package(s)."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "Run as root, or install them yourself: apt-get install -y ${missing[*]}" >&2
    exit 1
  }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
echo "Load generators: $(command -v wrk), $(command -v hey)"
