#!/usr/bin/env bash
# Apache Airflow 3 in its own venv (.venv-airflow), never in tabops' .venv: Airflow pins many
# packages (and conflicts with MLflow's), so it is installed with a constraints file, and its
# tasks call tabops' own CLI as a subprocess. tabops goes in with --no-deps only so that DAG
# files can import the stdlib-only DAG factory (tabops.orchestrate.airflow_dags).
# Cached: a stamp records the version and the constraints' hash; a second run is a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."

AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"  # the latest 3.x on PyPI supporting Python 3.11
PYTHON_VERSION="3.11"
VENV="${AIRFLOW_VENV:-.venv-airflow}"
CONSTRAINTS="scripts/airflow-constraints-${AIRFLOW_VERSION}.txt"
OFFICIAL="https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-${PYTHON_VERSION}.txt"
UV="${UV:-$(command -v uv || echo .venv/bin/uv)}"

if [ ! -f "$CONSTRAINTS" ]; then
  # Only a version bump gets here: vendor its official constraints so installs stay reproducible.
  echo "Fetching Airflow's constraints for ${AIRFLOW_VERSION} into ${CONSTRAINTS}"
  curl -fsSL "$OFFICIAL" -o "$CONSTRAINTS"
fi

STAMP="$VENV/.airflow-stamp"
WANT="apache-airflow==${AIRFLOW_VERSION} $(sha256sum "$CONSTRAINTS" | cut -c1-16)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "Airflow ${AIRFLOW_VERSION}: $VENV (cached)"
  exit 0
fi

echo "Installing Apache Airflow ${AIRFLOW_VERSION} into $VENV (Python ${PYTHON_VERSION})"
"$UV" venv --quiet --allow-existing --python "$PYTHON_VERSION" "$VENV"
# Compiled at install: with PYTHONDONTWRITEBYTECODE set, every Airflow process would otherwise
# compile Airflow's modules as it starts.
"$UV" pip install --quiet --compile-bytecode --python "$VENV/bin/python" \
  "apache-airflow==${AIRFLOW_VERSION}" --constraint "$CONSTRAINTS"
"$UV" pip install --quiet --python "$VENV/bin/python" --no-deps -e .
"$VENV/bin/python" -c "import airflow.sdk, tabops.orchestrate.graph"
echo "$WANT" > "$STAMP"
echo "Airflow ${AIRFLOW_VERSION}: $VENV"
