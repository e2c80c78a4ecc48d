"""Benchmark: how fast serving starts, ``tabops serve`` vs ``mlflow models serve``.

Two figures, each the median of fresh processes on the churn champion (trained and registered
once, as in ``benchmarks/serve.py --dataset churn``):

* **import**: ``python -c "import tabops.serve.app"`` in a new interpreter (the server module
  with everything it imports), and which heavy packages came along (none of the training stack
  may: pandas, scikit-learn, optuna, mlflow, matplotlib, dvc, faker);
* **time to ready**: from starting the command to the first 200 on its readiness route
  (``/readyz``: model loaded, checked and warmed; ``/ping`` for mlflow), each on core 0 with
  one thread, run alternately: tabops on the embedded registry (SQLite, read from MLflow's
  tables: no mlflow import), tabops on a tracking server (the same registry behind
  ``mlflow server``, read over its REST API: no mlflow import) and ``mlflow models serve``.

Targets (issue 12): import <= 1 s, ready <= 3 s. Results go to BENCHMARKS.md ("Serving start").

Usage: python benchmarks/serve_startup.py [--runs 5] [--workdir DIR] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
from common import write_section  # benchmarks/ is on sys.path when run as a script
from serve import (  # the serving benchmark's project, servers and machine description
    MLFLOW,
    SERVER_CORE,
    TABOPS,
    Project,
    build_project,
    describe_project,
    free_port,
    machine,
    server_env,
)

HEAVY = ("pandas", "sklearn", "optuna", "mlflow", "matplotlib", "dvc", "faker", "pyarrow",
         "lightgbm", "onnxruntime", "sqlalchemy", "psycopg")  # fmt: skip
PROBE = (
    "import sys, time; t = time.perf_counter(); import tabops.serve.app; "
    "elapsed = time.perf_counter() - t; "
    f"print(elapsed, ','.join(m for m in {HEAVY!r} if m in sys.modules))"
)


def import_figures(runs: int) -> tuple[list[float], str]:
    """Seconds to import the server module in ``runs`` fresh interpreters, and the heavy
    packages it pulled in."""
    times, heavy = [], ""
    for _ in range(runs):
        done = subprocess.run(
            ["taskset", "-c", SERVER_CORE, sys.executable, "-c", PROBE],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        seconds, _, heavy = done.stdout.strip().partition(" ")
        times.append(float(seconds))
    return times, heavy or "none"


#: What starting a server imports, timed alone, to show where the time goes.
PARTS = ("fastapi", "sqlalchemy", "psycopg", "pandas", "onnxruntime", "lightgbm", "mlflow")


def import_costs(runs: int) -> dict[str, float]:
    """Median seconds to import each of :data:`PARTS` alone in a fresh interpreter."""
    costs = {}
    for name in PARTS:
        probe = (
            f"import time; t = time.perf_counter(); import {name}; print(time.perf_counter() - t)"
        )
        times = [
            float(subprocess.run(["taskset", "-c", SERVER_CORE, sys.executable, "-c", probe],
                                 capture_output=True, text=True, check=True).stdout)
            for _ in range(runs)
        ]  # fmt: skip
        costs[name] = statistics.median(times)
    return costs


def time_to_ready(command: list[str], project: Project, env: dict[str, str], ready: str) -> float:
    """Seconds from starting ``command`` to a 200 on ``ready`` (polled every 20 ms)."""
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    started = time.perf_counter()
    process = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, *command], cwd=project.folder, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if process.poll() is not None:
                sys.exit(f"{command[0]} exited {process.returncode} before it was ready")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            time.sleep(0.02)
        sys.exit(f"{command[0]} not ready after 180 s")
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, help="reuse a trained project folder")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="tabops-startup-")) / "churn"
    if (folder / ".tabops").exists():
        project = describe_project(folder, "churn")
    else:
        project = build_project(folder, "churn", 0)
    imports, heavy = import_figures(args.runs)
    with ExitStack() as stack:
        ready = _ready_times(project, folder, stack, args.runs)
    figures = {
        "import_s": statistics.median(imports),
        "heavy_imports": heavy,
        "ready_s": {name: statistics.median(times) for name, times in ready.items()},
        "compiled": project.compiled,
        "parts_s": import_costs(args.runs),
    }
    print(json.dumps(figures, indent=2))
    if not args.no_write:
        write_section("serve-startup", report(figures, args.runs))


def _ready_times(
    project: Project, folder: Path, stack: ExitStack, runs: int
) -> dict[str, list[float]]:
    """Seconds to ready of each server, ``runs`` times alternately; the tracking server (on
    the project's own registry database, not pinned) runs until ``stack`` closes."""
    from tabops.devtools.mlflow_server import mlflow_server

    tracking = stack.enter_context(
        mlflow_server(f"sqlite:///{project.home / 'mlflow.db'}", folder / "server-artifacts")
    )
    serve = [TABOPS, "serve", "--spec", str(folder), "--port", "{port}"]
    commands = {
        "tabops": (serve, server_env(project.home), "/readyz"),
        "tabops_server": (serve, server_env(project.home, TABOPS_TRACKING_URI=tracking),
                          "/readyz"),
        "mlflow": ([MLFLOW, "models", "serve", "-m", f"models:/{project.name}@champion",
                    "--env-manager", "local", "--no-conda", "--host", "127.0.0.1", "--port",
                    "{port}", "--workers", "1"],
                   server_env(project.home, MLFLOW_TRACKING_URI=project.mlflow_uri), "/ping"),
    }  # fmt: skip
    ready: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):  # alternately, so a slow phase of the machine hits all
        for name, (command, env, route) in commands.items():
            ready[name].append(time_to_ready(command, project, env, route))
    return ready


def report(figures: dict[str, object], runs: int) -> str:
    ready = figures["ready_s"]
    assert isinstance(ready, dict)
    host = machine()
    import_s = float(str(figures["import_s"]))
    tabops_s, server_s, mlflow_s = ready["tabops"], ready["tabops_server"], ready["mlflow"]

    def verdict(value: float, limit: float) -> str:
        return f"<= {limit:g} s ({'met' if value <= limit else 'not met'})"

    rows = [
        ("import the server module (`import tabops.serve.app`)", f"{import_s:.2f} s", "",
         verdict(import_s, 1)),
        ("start to ready, tracking server (`/readyz` 200; mlflow: `/ping` 200)",
         f"{server_s:.2f} s", f"{mlflow_s:.2f} s", verdict(server_s, 3)),
        ("start to ready, embedded registry (SQLite, read from MLflow's tables)",
         f"{tabops_s:.2f} s", "", ""),
    ]  # fmt: skip
    table = "\n".join(f"| {' | '.join(row)} |" for row in rows)
    costs = figures["parts_s"]
    assert isinstance(costs, dict)
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in costs.items())
    return f"""## Serving start

`make bench-serve-startup` ({datetime.now(UTC):%Y-%m-%d}; median of {runs} fresh processes,
each on core 0 with one thread; the churn champion, predictor: {figures["compiled"]}).

| figure | tabops | mlflow models serve | target |
|---|---|---|---|
{table}

Where the time goes, each package imported alone in a fresh interpreter: {parts}. The
server module needs FastAPI (and pydantic for the spec); onnxruntime loads with the first
model, inside the time to ready; LightGBM (for rows on a split threshold, with pandas and
scikit-learn where installed) on a background thread, outside it; SQLAlchemy and psycopg when
the prediction log first opens the store. On a tracking
server the registry is read over MLflow's REST API (`tabops.registry.rest`), and the embedded
registry (a SQLite file) from MLflow's own tables (`tabops.registry.sql`): neither imports
mlflow, whose import alone is the mlflow figure above (until 2026-12-07 the embedded registry
was read by the MLflow client: 6.78 s to ready on the Xeon machine, 2.94 s on a tracking
server).

Heavy packages loaded by importing the server module: {figures["heavy_imports"]} (the
training stack never: import-linter's "Serving loads no training stack" contract in
`make lint`).

Machine: {host["cpu"]}; {host["software"]}.
"""


if __name__ == "__main__":
    main()
