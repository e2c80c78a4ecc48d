#!/usr/bin/env bash
# First start of the stack's PostgreSQL (an empty data volume): one role and database per
# service, each with its own password from deploy/.env, and a read-only role for Grafana.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v tabops="$TABOPS_DB_PASSWORD" -v mlflow="$MLFLOW_DB_PASSWORD" \
  -v airflow="$AIRFLOW_DB_PASSWORD" -v grafana="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE tabops LOGIN PASSWORD :'tabops';
CREATE DATABASE tabops OWNER tabops;
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow';
CREATE DATABASE mlflow OWNER mlflow;
CREATE ROLE airflow LOGIN PASSWORD :'airflow';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE grafana_reader LOGIN PASSWORD :'grafana';
GRANT pg_read_all_data TO grafana_reader;
SQL
