"""L3: capacity and soak of ``tabops serve`` (RELIABILITY.md).

A step test finds the knee (the throughput at 16 connections with ``wrk``), then ``hey`` holds
70% of it at a fixed rate for ``--minutes`` in one-minute slices, recording per minute the rate,
p50/p99, errors, the server's memory (RSS), open file descriptors and TCP connections. At the
end every 2xx must be in the prediction log. Server on core 0, load generators on core 1.

    python benchmarks/soak.py --minutes 30          (make bench-soak)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from common import write_section  # benchmarks/ is on sys.path when run as a script
from serve import (
    LOADGEN_CORE,
    TABOPS,
    Server,
    build_project,
    check_tools,
    logged_rows,
    lua_script,
    machine,
    server_env,
    start_server,
    wait_for_journal,
    wrk,
)

SHARE = 0.7
CONNECTIONS = 16


def process_figures(pid: int) -> dict[str, float]:
    """RSS (MB), open descriptors and TCP sockets of the server process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
    targets = [_link(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    sockets = sum(1 for target in targets if target.startswith("socket:"))
    return {"rss_mb": rss, "fds": len(targets), "sockets": sockets}


def _link(fd: Path) -> str:
    """Where a descriptor points; one closed while listing points nowhere."""
    try:
        return str(fd.readlink())
    except FileNotFoundError:
        return ""


def hey(server: Server, body: Path, rate: float, seconds: int) -> dict[str, Any]:
    """A fixed total rate for ``seconds``: ``hey -q`` is per connection."""
    per_worker = max(1.0, rate / CONNECTIONS)
    command = ["taskset", "-c", LOADGEN_CORE, "hey", "-z", f"{seconds}s", "-q", f"{per_worker:.1f}",
               "-c", str(CONNECTIONS), "-m", "POST", "-T", "application/json", "-D", str(body),
               server.url + "/predict"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    errors = re.search(r"Error distribution:\n((?:\s+\[\d+\].*\n?)+)", out)
    failed = sum(int(n) for n in re.findall(r"\[(\d+)\]", errors.group(1))) if errors else 0
    percentiles = dict(re.findall(r"^\s+(50|99)%+ in ([\d.]+) secs", out, re.MULTILINE))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": float(percentiles.get("50", "nan")) * 1e3,
        "p99_ms": float(percentiles.get("99", "nan")) * 1e3,
        "ok": codes.get(200, 0),
        "errors": sum(n for c, n in codes.items() if c != 200) + failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30, help="Soak length (default 30).")
    parser.add_argument("--rows", type=int, default=20_000, help="Training rows.")
    parser.add_argument("--no-write", action="store_true", help="Do not update BENCHMARKS.md.")
    args = parser.parse_args()
    check_tools()
    folder = Path(tempfile.mkdtemp(prefix="tabops-soak-"))
    project = build_project(folder, "synthetic", args.rows)
    body = folder / "body.json"
    body.write_bytes(orjson.dumps(project.record))
    server = start_server("tabops", [TABOPS, "serve", "--port", "{port}"], project,
                          server_env(project.home), "/predict", "/readyz")  # fmt: skip
    try:
        step = wrk(server, lua_script(folder, "soak", body.read_bytes()), CONNECTIONS, 10)
        knee, answered = step["rps"], step["requests"] - step["errors"]
        rate = SHARE * knee
        print(f"knee {knee:,.0f} req/s; soaking at {rate:,.0f} req/s", file=sys.stderr)
        wait_for_journal(server)
        minutes = []
        for minute in range(1, args.minutes + 1):
            result = hey(server, body, rate, 60) | process_figures(server.process.pid)
            minutes.append(result)
            print(f"minute {minute}: {result}", file=sys.stderr)
        backlog, drain = wait_for_journal(server)
        logged = logged_rows(project)
    finally:
        server.stop()
    answered += sum(m["ok"] for m in minutes)
    report(args, knee, rate, minutes, (logged, answered), backlog, drain)


def report(
    args: argparse.Namespace, knee: float, rate: float, minutes: list[dict[str, Any]],
    log: tuple[int, int], backlog: int, drain: float,
) -> None:  # fmt: skip
    ok = sum(m["ok"] for m in minutes)
    errors = sum(m["errors"] for m in minutes)
    first, last = minutes[0], minutes[-1]
    lines = [
        "## Soak: `tabops serve` at 70% of its knee (`benchmarks/soak.py`)",
        "",
        f"Knee (wrk, {CONNECTIONS} connections, 10 s): {knee:,.0f} req/s. Soak: `hey` at "
        f"{rate:,.0f} req/s for {len(minutes)} minutes ({CONNECTIONS} connections), one worker "
        "pinned to core 0, load on core 1, SQLite store (embedded default), validation and "
        "logging on.",
        "",
        "| minute | req/s | p50 (ms) | p99 (ms) | errors | RSS (MB) | open fds | sockets |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, m in enumerate(minutes, 1):
        cells = [f"{m['rps']:,.0f}", f"{m['p50_ms']:.2f}", f"{m['p99_ms']:.2f}", m["errors"],
                 f"{m['rss_mb']:.0f}", m["fds"], m["sockets"]]  # fmt: skip
        lines.append(f"| {i} | " + " | ".join(str(c) for c in cells) + " |")
    lines += [
        "",
        f"Totals: {ok:,} answered 200, {errors} errors. Memory {first['rss_mb']:.0f} → "
        f"{last['rss_mb']:.0f} MB, descriptors {first['fds']} → {last['fds']}, sockets "
        f"{first['sockets']} → {last['sockets']}. Prediction log: {log[0]:,} rows in the store for "
        f"{log[1]:,} 2xx counted by the load generators (knee run included; wrk does not count "
        f"requests cut at the end of its run); {backlog} rows were still to copy when the load "
        f"stopped (done in {drain:.1f} s).",
        "",
        f"Machine: {machine()['cpu']}; {machine()['software']}. Measured "
        f"{time.strftime('%Y-%m-%d')}.",
        f"Command: `python benchmarks/soak.py --minutes {args.minutes}`.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("soak", text)


if __name__ == "__main__":
    main()
