#!/usr/bin/env bash
# `make demo`: the churn example on the embedded default (SQLite + local files, no services).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tabops="$root/.venv/bin/tabops"
demo="$root/demo/churn"
rule() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"

rule "1. Export the IBM Telco churn data (7,043 customers) and a later batch with defects"
"$tabops" examples export churn --output data

rule "2. Infer the project spec: roles, types, contract"
"$tabops" init --data data/churn.csv --target churn --name churn

rule "3. Ingest: check every row against the contract, snapshot the good ones"
"$tabops" ingest

rule "4. Ingest a later batch (append) that has bad rows: they are quarantined, not dropped"
"$tabops" ingest --set source.path=data/churn_update.csv --set ingest.mode=append

rule "5. The quarantine, with a reason for every bad row"
"$tabops" quarantine list --limit 20

rule "6. Ingest the same file again: the ledger knows it, nothing is loaded twice"
"$tabops" ingest

rule "7. Data versions"
"$tabops" data history

rule "8. Train: tune a linear model and LightGBM with Optuna, every trial tracked in MLflow"
"$tabops" train --trials 10

rule "9. Register the best candidate; the gate decides whether it becomes the champion"
"$tabops" register

rule "10. Promotion history (audited)"
"$tabops" history
report="$("$tabops" report)"

cat <<MSG

Done. Where to look:
  spec           $demo/tabops.yaml
  snapshots      $demo/.tabops/snapshots/churn/  (content-hashed Parquet)
  tabops store   $demo/.tabops/tabops.db         (SQLite: ledger, quarantine, audit, ...)
  model report   $report
  MLflow         $demo/.tabops/mlflow.db, artifacts in $demo/.tabops/mlartifacts/
                 open the UI with: (cd $demo && $tabops ui)
Try next (from $demo):
  $tabops quarantine export -o fixes.csv     # fix the rows, then:
  $tabops quarantine replay fixes.csv
  $tabops data batches
  $tabops ingest --json
  $tabops run --trials 20          # ingest, train, register in one go
MSG
