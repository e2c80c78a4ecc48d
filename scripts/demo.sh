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

rule "11. Serve the champion (compiled to ONNX), predict, and see the prediction logged"
port="$("$root/.venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$tabops" serve --port "$port" > serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
"$root/.venv/bin/python" - "$port" <<'PY' || { cat serve.log; exit 1; }
import json, sys, time, urllib.error, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(120):  # wait until the model is loaded, checked and warmed
    try:
        urllib.request.urlopen(f"{base}/readyz")
        break
    except (urllib.error.URLError, ConnectionError):
        time.sleep(0.5)
record = json.load(urllib.request.urlopen(f"{base}/openapi.json"))["components"]["schemas"]["Record"]["examples"][0]
print("POST /predict", json.dumps(record)[:110] + "...")
request = urllib.request.Request(f"{base}/predict", json.dumps(record).encode(), {"content-type": "application/json"})
print("  ->", urllib.request.urlopen(request).read().decode())
bad = dict(record, tenure=1.5, extra=1)
request = urllib.request.Request(f"{base}/predict", json.dumps(bad).encode(), {"content-type": "application/json"})
try:
    urllib.request.urlopen(request)
except urllib.error.HTTPError as error:
    print(f"POST /predict with tenure=1.5 and an extra field -> {error.code}", error.read().decode()[:160] + "...")
PY
kill -TERM $server && wait $server
trap - EXIT
"$root/.venv/bin/python" -c "import sqlite3; print('predictions logged in the store:', sqlite3.connect('.tabops/tabops.db').execute('select count(*) from predictions').fetchone()[0])"

rule "12. Batch-score the later customers into a store table and a CSV (refused rows go to the rejects)"
if [ -f data/churn_drifted.csv ]; then later=data/churn_drifted.csv; else later=data/churn_update.csv; fi
"$tabops" predict --input "$later" --output table:churn_scores --run-date 2026-12-01
mkdir -p scores
"$tabops" predict --input "$later" --output scores/churn_scores.csv --run-date 2026-12-01
"$root/.venv/bin/python" -c "import sqlite3; print('churn_scores rows for 2026-12-01:', sqlite3.connect('.tabops/tabops.db').execute(\"select count(*) from churn_scores where run_date = '2026-12-01'\").fetchone()[0])"

rule "13. Monitor two later months against the champion's training profile: one steady, one after a price rise"
"$tabops" monitor run --data data/churn_steady.csv
"$tabops" monitor run --data data/churn_drifted.csv
"$tabops" monitor report --source churn_drifted --out monitor-report.html

cat <<MSG

Done. Where to look:
  spec           $demo/tabops.yaml
  snapshots      $demo/.tabops/snapshots/churn/  (content-hashed Parquet)
  tabops store   $demo/.tabops/tabops.db         (SQLite: ledger, quarantine, audit, ...)
  model report   $report
  monitoring     $demo/monitor-report.html (the drifted month's page);
                 table monitor_metrics in the tabops store (sources churn_steady, churn_drifted);
                 tabops monitor run --data ... --json prints every measurement
  batch scores   table churn_scores (rejects: churn_scores_rejects) in the tabops store,
                 $demo/scores/churn_scores.csv (rejects: scores/churn_scores.rejects.csv)
  MLflow         $demo/.tabops/mlflow.db, artifacts in $demo/.tabops/mlartifacts/
                 open the UI with: (cd $demo && $tabops ui)
Try next (from $demo):
  $tabops quarantine export -o fixes.csv     # fix the rows, then:
  $tabops quarantine replay fixes.csv
  $tabops data batches
  $tabops ingest --json
  $tabops run --trials 20          # ingest, train, register in one go
  $tabops serve                    # http://127.0.0.1:8000/docs
  $tabops predict -i $later -o scores/again.parquet --json
MSG
