#!/usr/bin/env bash
# Make PostgreSQL server binaries (initdb, pg_ctl) available. Tests and benchmarks start their
# own throwaway cluster on 127.0.0.1; nothing here starts a server.
set -euo pipefail
for dir in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
  if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
    echo "PostgreSQL server binaries: $dir"
    exit 0
  fi
done
if command -v initdb >/dev/null 2>&1; then
  echo "PostgreSQL server binaries: $(dirname "$(command -v initdb)")"
  exit 0
fi
echo "PostgreSQL server binaries not found; installing the 'postgresql' package."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "Run as root or install PostgreSQL yourself (set PG_BINDIR)." >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq postgresql >/dev/null
# The Debian package starts a system cluster; tabops does not need it.
$SUDO service postgresql stop >/dev/null 2>&1 || true
ls -d /usr/lib/postgresql/*/bin
