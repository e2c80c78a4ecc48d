#!/usr/bin/env bash
# Install tabops for one role into a virtual environment, from the locked requirements.
#
#   deploy/install.sh ROLE PREFIX [SOURCE]
#
#   ROLE    serve: the serving-only install (tabops[serve], requirements/serve.txt)
#           full:  training and orchestration, with S3 (tabops[all,s3], requirements/full.txt)
#   PREFIX  the virtual environment; made with $PYTHON (default python3) if missing
#   SOURCE  what to install as tabops: a wheel or a source tree (default: this repository)
#
# The one install path of both images (deploy/Dockerfile, deploy/Dockerfile.serve) and of the
# CI test that runs it in a fresh venv (tests/integration/deploy/), so the images' install is
# exercised without a Docker engine. Dependencies come only from the lock, checked against its
# hashes; tabops itself goes in with --no-deps, so nothing unlocked can slip in.
# uv is used when it is on PATH (fast, cached), pip otherwise (the images).
set -euo pipefail

usage() {
  echo "usage: $0 serve|full PREFIX [SOURCE]" >&2
  exit 2
}

[ $# -ge 2 ] && [ $# -le 3 ] || usage
role=$1
prefix=$2
root="$(cd "$(dirname "$0")/.." && pwd)"
source=${3:-$root}

case "$role" in
  serve) lock="$root/requirements/serve.txt" ;;
  full) lock="$root/requirements/full.txt" ;;
  *) echo "unknown role '$role'" >&2; usage ;;
esac
[ -f "$lock" ] || { echo "missing lock file $lock (make lock)" >&2; exit 2; }

if [ ! -x "$prefix/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$prefix"
fi
python="$prefix/bin/python"

if command -v uv >/dev/null 2>&1; then
  # Compiled now, as pip does: the images set PYTHONDONTWRITEBYTECODE, so an uncompiled module
  # would be compiled again on every start of every tabops process.
  install=(uv pip install --quiet --compile-bytecode --python "$python")
else
  install=("$python" -m pip install --quiet --no-cache-dir --disable-pip-version-check)
fi

"${install[@]}" --require-hashes -r "$lock"
"${install[@]}" --no-deps "$source"

# The install is whole: every installed distribution's requirements are met, and the CLI runs.
"$python" -m pip check
"$prefix/bin/tabops" --version
