#!/usr/bin/env bash
# `make docs-screenshot`: regenerate docs/images/monitor-report.png, the picture of
# `tabops monitor report` in docs/monitoring.md, from a real run: the fraud example trained on
# 60 days, then three weeks streamed at the served model (`tabops simulate`) with a drift
# calendar (amounts inflated, a new merchant category, a broken merchant_category feed) and
# late labels; the monitor measures every day and the page is rendered by headless Chromium
# (Debian: apt-get install chromium). Takes about ten minutes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${TABOPS_BIN:-$root/.venv/bin}"
work="$root/demo/monitor-report"
image="$root/docs/images/monitor-report.png"
chromium="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$chromium" ] || { echo "needs Chromium (apt-get install chromium)" >&2; exit 1; }
rule() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

rm -rf "$work"
mkdir -p "$work"
cp "$root/examples/fraud/"{tabops.yaml,rules.yaml,synth.yaml} "$work/"
cd "$work"
cat >> tabops.yaml <<'YAML'
monitor:
  alerts:
    - {name: amount-drift, metric: drifted, column: amount, above: 0.5}
    - {name: dataset-drift, metric: drift_share, above: 0.25, windows: 2, severity: critical}
    - {name: pr-auc-drop, metric: pr_auc, below: 0.3, min_rows: 500}
YAML
# The stream's config: the example's, plus labels within days and the drift calendar.
cat synth.yaml - > stream.yaml <<'YAML'
maturity_days: 2
label_delay: {distribution: lognormal, median_days: 2, sigma: 0.5}
drift:
  - {scenario: amount_inflation, start_day: 7, end_day: 14, multiplier: 1.8}
  - {scenario: new_merchant_category, start_day: 10, end_day: 21, terminal_fraction: 0.3}
  - {scenario: null_column, column: merchant_category, start_day: 15, end_day: 18, fraction: 0.5}
YAML

rule "1. Train and register on 60 generated days"
"$bin/tabops" synth fraud --config synth.yaml --days 60 --customers 600 --seed 7 \
  -o data/train --format csv
"$bin/tabops" run --trials 2

rule "2. Serve it and stream 21 drifting days at it, as fast as it answers; labels come late"
port="$("$bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin/tabops" serve --port "$port" > serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
"$bin/python" - "$port" <<'PY' || { cat serve.log; exit 1; }
import sys, time, urllib.error, urllib.request
for _ in range(480):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz")
        break
    except (urllib.error.URLError, ConnectionError):
        time.sleep(0.5)
PY
"$bin/tabops" simulate --config stream.yaml --to "http://127.0.0.1:$port" --days 21 \
  --customers 600 --seed 8 --start-date 2026-04-01 --day-seconds 0.5 --duration 900 --count 100000
kill -TERM $server && wait $server
trap - EXIT
# The log holds wall-clock times (the whole stream took minutes), and the simulated clock ran on
# until every label was out. Make the log what a report made at the end of the 21st day sees:
# each prediction at its transaction's simulated time, and no label from after that day.
"$bin/python" - <<'PY'
import sqlite3
from datetime import date
from pathlib import Path

from tabops.synth.config import load_fraud_config
from tabops.synth.fraud import generate_fraud

settings = {"days": 21, "n_customers": 600, "seed": 8, "start_date": date(2026, 4, 1)}
stream = generate_fraud(load_fraud_config(Path("stream.yaml"), settings))
frame, labels = stream.transactions, stream.labels
stamp = "%Y-%m-%d %H:%M:%S.%f"
times = [(t.strftime(stamp), f"tx-{i}") for i, t in zip(frame["transaction_id"], frame["tx_datetime"])]
late = labels[labels["label_time"] >= "2026-04-22"]["transaction_id"]
db = sqlite3.connect(".tabops/tabops.db")
db.executemany("update predictions set created_at = ? where request_id = ?", times)
db.executemany("delete from labels where request_id = ?", [(f"tx-{i}",) for i in late])
db.commit()
print(f"{len(times):,} predictions stamped with their simulated time; {len(late):,} later labels left out")
PY

rule "3. Measure every day, then write the report"
"$bin/tabops" monitor run > /dev/null
"$bin/tabops" monitor report --out monitor-report.html

rule "4. Screenshot it (1280 px wide, the top of the page) into $image"
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --window-size=1280,2400 --screenshot="$work/full.png" "file://$work/monitor-report.html" 2>/dev/null
mkdir -p "$(dirname "$image")"
# 256 colours: a page of flat colours and lines loses nothing visible, and stays small.
"$bin/python" -c "
import sys
from PIL import Image
Image.open(sys.argv[1]).convert('RGB').quantize(256).save(sys.argv[2], optimize=True)
" "$work/full.png" "$image"
ls -l "$image"
