#!/usr/bin/env bash
# `make demo-fraud`: the fraud example end to end on the embedded default (no services).
# Generates 75 days of card transactions, trains on the first 60, backtests the rules, the
# model and the combined policy on the last 15, then serves the model and streams a later
# period at it with an accelerated clock while the labels arrive late.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/.venv/bin"
demo="$root/demo/fraud"
rule() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

rm -rf "$demo"
mkdir -p "$demo"
cp "$root/examples/fraud/"{tabops.yaml,rules.yaml,synth.yaml} "$demo/"
cd "$demo"

rule "1. Generate 75 days of transactions (frauds, late labels, ground truth)"
"$bin/tabops" synth fraud --config synth.yaml --days 75 --customers 2000 --seed 7 -o data/all --format csv
"$bin/python" - <<'PY'
import pandas as pd
frame = pd.read_csv("data/all/transactions.csv", parse_dates=["tx_datetime"])
cut = frame["tx_datetime"].min().normalize() + pd.Timedelta(days=60)
for name, part in (("train", frame[frame["tx_datetime"] < cut]), ("later", frame[frame["tx_datetime"] >= cut])):
    import pathlib
    pathlib.Path(f"data/{name}").mkdir(parents=True, exist_ok=True)
    part.to_csv(f"data/{name}/transactions.csv", index=False)
    print(f"data/{name}/transactions.csv: {len(part):,} transactions, {part['is_fraud'].mean():.2%} fraud")
PY

rule "2. Check the rules against the spec"
"$bin/tabops" rules check rules.yaml

rule "3. Ingest, train (PR AUC, cost threshold), register: the champion"
"$bin/tabops" run --trials 5

rule "4. Backtest on the 15 later days: rules alone, model alone, combined"
"$bin/python" "$root/examples/fraud/backtest.py" data/later/transactions.csv results.json

rule "5. Serve, and stream a later month at it (one simulated day per second); labels arrive late"
port="$("$bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin/tabops" serve --port "$port" > serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
"$bin/python" - "$port" <<'PY' || { cat serve.log; exit 1; }
import sys, time, urllib.error, urllib.request
for _ in range(240):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz")
        break
    except (urllib.error.URLError, ConnectionError):
        time.sleep(0.5)
PY
"$bin/tabops" simulate --config synth.yaml --to "http://127.0.0.1:$port" --days 30 --customers 300 \
  --seed 8 --start-date 2026-04-01 --day-seconds 1 --duration 45 --count 30000
kill -TERM $server && wait $server
trap - EXIT
"$bin/python" - <<'PY'
import sqlite3
db = sqlite3.connect(".tabops/tabops.db")
print("predictions logged:", db.execute("select count(*) from predictions").fetchone()[0])
print("decisions:", dict(db.execute("select decision, count(*) from predictions group by 1").fetchall()))
print("labels received:", db.execute("select count(*) from labels").fetchone()[0])
PY

"$bin/python" - <<'PY'
import json
r = json.load(open("results.json"))
print(f"\nOn the 15 later days ({r['rows']:,} transactions, {r['frauds']} frauds): model PR AUC "
      f"{r['pr_auc']:.3f}, recall at a 1% alert rate {r['recall_at_1pct_alerts']:.1%}")
for name, p in r["policies"].items():
    print(f"  {name:<9} precision {p['precision']:.3f}  recall {p['recall']:.3f}  "
          f"alert rate {p['alert_rate']:.2%}  cost {p['cost']:,.0f}")
PY

cat <<MSG

Done. Where to look:
  spec and rules   $demo/tabops.yaml, $demo/rules.yaml
  backtest         $demo/results.json
  predictions      $demo/.tabops/tabops.db  (tables predictions, labels)
  model report     $("$bin/tabops" report)
MSG
