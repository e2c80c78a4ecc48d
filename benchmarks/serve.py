"""Benchmark: online serving of a 1-row request, ``tabops serve`` vs ``mlflow models serve``.

One project is generated, trained and registered (a ColumnTransformer + LightGBM pipeline with
200 trees, compiled to ONNX at registration). Three servers then serve its champion, each one
worker pinned to core 0 (``taskset -c 0``, ``OMP_NUM_THREADS=1``):

* ``mlflow``: ``mlflow models serve -m models:/<name>@champion --env-manager local --no-conda``
  (the pyfunc of the registered sklearn pipeline, MLflow's scoring server on uvicorn);
* ``tabops``: ``tabops serve`` with its defaults: strict validation, every prediction journaled
  and copied into the tabops store, metrics, request ids;
* ``bare``: ``benchmarks/bare_onnx_app.py``, FastAPI on uvicorn (httptools, uvloop) running the
  same compiled predictor with nothing around it (the ceiling for a Python service).

Outputs are compared before timing. ``wrk`` (pinned to core 1) sends the same record to each,
at 1 connection and at 16, in A/B pairs (mlflow, tabops, bare; repeated ``--pairs`` times), and
the ratios are computed per pair. In-process figures of the compiled predictor (one row, and
1,000-row batches) complete the picture. Results go to BENCHMARKS.md ("Serving").

The default data is generated: 20 features (10 continuous numbers, 3 counts, 2 flags, 5
categories). ``--dataset churn`` uses the IBM Telco churn example instead; its LightGBM fails
the ONNX parity check at registration today (float32 inputs flip splits whose thresholds sit
one ulp above a training value, e.g. repeated ``monthly_charges``), so tabops serves the sklearn
pipeline there and the report says so.

Usage: python benchmarks/serve.py [--pairs 3] [--duration 10] [--warmup 2] [--quick]
       [--dataset synthetic|churn] [--invocations] [--workdir DIR] [--no-write]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml
from common import write_section  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TABOPS, MLFLOW = str(BIN / "tabops"), str(BIN / "mlflow")
SERVER_CORE, LOADGEN_CORE = "0", "1"
CONNECTIONS = (1, 16)
CONTENDERS = ("mlflow", "tabops", "bare")
#: Targets from the serving issue (#4).
TARGET_SPEEDUP, TARGET_LATENCY, TARGET_OF_BARE, TARGET_PREDICT_US = 30.0, 20.0, 0.70, 50.0
CATEGORIES = {
    "merchant_category": [f"mcc_{i:02d}" for i in range(20)],
    "channel": ["web", "app", "pos", "atm"],
    "country": [f"c{i:02d}" for i in range(30)],
    "segment": ["retail", "business", "premium"],
    "device": ["ios", "android", "desktop", "terminal", "other"],
}


# -- the project --------------------------------------------------------------------------


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """20 features: 10 continuous numbers (two with gaps), 3 counts, 2 flags, 5 categories."""
    pacsv.write_csv(synthetic_table(rows, seed), path)


def synthetic_table(rows: int, seed: int = 0) -> pa.Table:
    """The rows of :func:`generate` (an id, the 20 features, the label)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {"id": np.arange(1, rows + 1)}
    signal = np.zeros(rows)
    for i in range(10):
        values = rng.normal(size=rows) * (1 + i)
        signal += values / (1 + i) * (0.7 if i < 4 else 0.08)
        if i in (8, 9):  # nullable: the numeric imputer adds missing-indicator columns
            values = np.where(rng.random(rows) < 0.05, np.nan, values)
        columns[f"num_{i}"] = pa.array(values, from_pandas=True)
    for i in range(3):
        counts = rng.poisson(3 + 5 * i, rows)
        columns[f"count_{i}"] = counts
        signal += (counts > 4 + 5 * i) * 0.3
    for i in range(2):
        flags = rng.random(rows) < 0.3
        columns[f"flag_{i}"] = flags
        signal += flags * (0.6 - 0.4 * i)
    for name, categories in CATEGORIES.items():
        picked = rng.integers(0, len(categories), rows)
        columns[name] = np.array(categories)[picked]
        signal += (picked % 3 == 0) * 0.4
    noise = rng.normal(scale=1.2, size=rows)
    columns["label"] = np.where(signal + noise > 1.2, "yes", "no")
    return pa.table(columns)


def synthetic_spec(path: Path) -> dict[str, Any]:
    columns: dict[str, Any] = {"id": {"type": "integer", "role": "id", "unique": True}}
    columns |= {f"num_{i}": {"type": "numeric", "nullable": i >= 8} for i in range(10)}
    columns |= {f"count_{i}": {"type": "integer", "min": 0} for i in range(3)}
    columns |= {f"flag_{i}": {"type": "boolean"} for i in range(2)}
    columns |= {n: {"type": "categorical", "categories": v} for n, v in CATEGORIES.items()}
    columns["label"] = {"type": "categorical", "role": "target", "categories": ["no", "yes"]}
    return {"name": "bench_serve", "task": "classification", "target": "label",
            "positive_class": "yes", "source": {"path": str(path)}, "columns": columns}  # fmt: skip


#: One candidate, no tuning: LightGBM with 200 trees (the issue's reference model).
TRAIN = {
    "trials": 1,
    "cv_folds": 2,
    "candidates": [{"estimator": "lightgbm", "params": {"n_estimators": 200}, "search": {}}],
}


@dataclass
class Project:
    folder: Path
    name: str
    version: str
    compiled: str  # the version's compiled tag: onnx, or sklearn when parity/compile failed
    compile_reason: str
    record: dict[str, Any]  # the request: one record as a client sends it
    examples: list[dict[str, Any]]
    features: int

    @property
    def home(self) -> Path:
        return self.folder / ".tabops"

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{self.home / 'mlflow.db'}"


def build_project(folder: Path, dataset: str, rows: int) -> Project:
    """Generate (or export) the data, write tabops.yaml, and ``tabops run`` it."""
    folder.mkdir(parents=True, exist_ok=True)
    env = server_env(folder / ".tabops")
    if dataset == "churn":
        _run([TABOPS, "examples", "export", "churn", "--output", "data"], folder, env)
        raw = yaml.safe_load((ROOT / "examples" / "churn" / "tabops.yaml").read_text())
    else:
        generate(folder / "data.csv", rows)
        raw = synthetic_spec(folder / "data.csv")
    raw["train"] = TRAIN
    (folder / "tabops.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    started = time.perf_counter()
    done = _run([TABOPS, "run", "--json"], folder, env)
    result = json.loads(done.stdout)
    print(f"trained and registered in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return describe_project(folder, raw["name"], result)


def describe_project(folder: Path, name: str, result: dict[str, Any] | None = None) -> Project:
    from tabops.registry.compiled import request_example
    from tabops.registry.models import Registry

    registry = Registry(f"sqlite:///{folder / '.tabops' / 'mlflow.db'}", name)
    version = registry.by_alias("champion")
    assert version is not None, f"{name} has no champion: {result}"
    report = json.loads(registry.run_artifact(version.run_id, "compiled/compile.json").read_text())
    examples = request_example(registry, version)
    complete = [r for r in examples if all(v is not None for v in r.values())]
    assert complete, "no request example without nulls"
    return Project(
        folder=folder,
        name=name,
        version=version.version,
        compiled=version.tags.get("tabops.compiled", "?"),
        compile_reason=report.get("reason", ""),
        record=complete[0],
        examples=examples,
        features=len(complete[0]),
    )


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of every child: no inherited TABOPS_/MLFLOW_ settings, one thread."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TABOPS_", "MLFLOW_"))}
    env |= {"TABOPS_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    # mlflow models serve runs `bash -c "exec uvicorn ..."`: the venv's bin must be on PATH.
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env | extra


def model_record(project: Project, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as MLflow's signature wants it: the model frame (booleans as 0.0/1.0)."""
    import pandas as pd

    from tabops.model.frame import model_frame
    from tabops.spec import load_spec

    frame = model_frame(pd.DataFrame([record]), load_spec(project.folder))
    row = frame.to_dict(orient="records")[0]
    plain = {str(k): v.item() if isinstance(v, np.generic) else v for k, v in row.items()}
    return {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in plain.items()}


# -- the compiled predictor, in process ------------------------------------------------------


def export_onnx(project: Project, target: Path) -> str:
    """Write the compiled predictor's files for the bare endpoint; which predictor it is."""
    from tabops.model.compile import estimator_to_onnx, plan_from_pipeline
    from tabops.registry.models import Registry
    from tabops.spec import load_spec

    spec = load_spec(project.folder)
    registry = Registry(project.mlflow_uri, project.name)
    version = registry.version(project.version)
    target.mkdir(parents=True, exist_ok=True)
    if project.compiled == "onnx":
        for name in ("model.onnx", "plan.json", "compile.json"):
            shutil.copy(registry.run_artifact(version.run_id, f"compiled/{name}"), target / name)
        classes = json.loads((target / "compile.json").read_text())["classes"]
        kind = "the registered compiled predictor"
    else:  # not served by tabops: compile it here so the bare endpoint still has one
        pipeline = registry.load_pipeline(version)
        plan = plan_from_pipeline(pipeline)
        (target / "model.onnx").write_bytes(estimator_to_onnx(pipeline[-1], plan.width))
        (target / "plan.json").write_text(plan.to_json())
        classes = [str(c) for c in pipeline.classes_]
        kind = "compiled here (the registered version failed its parity check)"
    positive = spec.positive_class if spec.positive_class in classes else classes[-1]
    (target / "meta.json").write_text(json.dumps({"classes": classes, "positive": positive}))
    return kind


def _timed(call: Callable[[], object], calls: int, warmup: int) -> list[float]:
    """Seconds of each of ``calls`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    clock = time.perf_counter
    for _ in range(calls):
        started = clock()
        call()
        times.append(clock() - started)
    return times


def predictor_figures(project: Project, model_dir: Path, quick: bool) -> dict[str, float]:
    """Single-row and 1,000-row-batch figures of the compiled predictor and its references,
    in this process pinned to the server core."""
    import mlflow
    import pandas as pd

    from tabops.model.compile import EncoderPlan, OnnxPredictor
    from tabops.model.frame import model_frame
    from tabops.registry.models import Registry
    from tabops.serve.schema import RequestSchema
    from tabops.spec import load_spec

    spec = load_spec(project.folder)
    meta = json.loads((model_dir / "meta.json").read_text())
    predictor = OnnxPredictor(
        EncoderPlan.from_json((model_dir / "plan.json").read_text()),
        (model_dir / "model.onnx").read_bytes(),
        meta["classes"],
    )
    registry = Registry(project.mlflow_uri, project.name)
    pipeline = registry.load_pipeline(registry.version(project.version))
    schema = RequestSchema(spec)
    row = schema.model_rows([project.record], batch=False)[0]
    one = model_frame(pd.DataFrame([project.record]), spec)
    snapshots = sorted((project.home / "snapshots" / project.name).glob("*.parquet"))
    batch = model_frame(pq.read_table(snapshots[-1]).slice(0, 1000), spec)
    mlflow.set_tracking_uri(project.mlflow_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{project.name}@champion")
    fast, slow = (4_000, 60) if quick else (20_000, 300)  # calls timed per path
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(SERVER_CORE)})
    try:
        figures = {
            "onnx_row_us": _median_us(_timed(lambda: predictor.predict_rows([row]), fast, 1000)),
            "validate_row_us": _median_us(
                _timed(lambda: schema.model_rows([project.record], False), fast, 1000)
            ),
            "sklearn_row_us": _median_us(_timed(lambda: pipeline.predict_proba(one), slow, 20)),
            "pyfunc_row_us": _median_us(_timed(lambda: pyfunc.predict(one), slow, 20)),
        }
        onnx_batch = statistics.median(_timed(lambda: predictor.predict_frame(batch), 30, 3))
        sklearn_batch = statistics.median(_timed(lambda: pipeline.predict_proba(batch), 10, 2))
    finally:
        os.sched_setaffinity(0, previous)
    figures["onnx_batch_rows_s"] = len(batch) / onnx_batch
    figures["sklearn_batch_rows_s"] = len(batch) / sklearn_batch
    return figures


def _median_us(times: Sequence[float]) -> float:
    return statistics.median(times) * 1e6


# -- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    path: str  # the prediction route
    log: Path
    body: bytes = b""

    def cpu_seconds(self) -> float:
        """User + system CPU of every live process in the server's session."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[3]) == self.process.pid:  # fields[3] is the session id
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    name: str, command: list[str], project: Project, env: dict[str, str], path: str, ready: str
) -> Server:
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    log = project.folder / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *command],
            cwd=project.folder,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )
    server = Server(name, process, f"http://127.0.0.1:{port}", path, log)
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            sys.exit(f"{name} exited {process.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(server.url + ready, timeout=2).status_code == 200:
                break
        if time.monotonic() > deadline:
            server.stop()
            sys.exit(f"{name} not ready after 180 s:\n{log.read_text()[-4000:]}")
        time.sleep(0.25)
    print(f"{name} ready on {server.url}", file=sys.stderr)
    return server


@contextlib.contextmanager
def servers(project: Project, model_dir: Path) -> Iterator[dict[str, Server]]:
    env = server_env(project.home)
    commands: dict[str, tuple[list[str], dict[str, str], str, str]] = {
        "mlflow": (
            [MLFLOW, "models", "serve", "-m", f"models:/{project.name}@champion",
             "--env-manager", "local", "--no-conda", "--host", "127.0.0.1", "--port", "{port}",
             "--workers", "1"],
            server_env(project.home, MLFLOW_TRACKING_URI=project.mlflow_uri),
            "/invocations",
            "/ping",
        ),
        "tabops": (
            [TABOPS, "serve", "--spec", str(project.folder), "--port", "{port}"],
            env,
            "/predict",
            "/readyz",
        ),
        "bare": (
            [sys.executable, str(ROOT / "benchmarks" / "bare_onnx_app.py"),
             "--model-dir", str(model_dir), "--port", "{port}"],
            env,
            "/predict",
            "/ping",
        ),
    }  # fmt: skip
    started: dict[str, Server] = {}
    try:
        for name, (command, environment, path, ready) in commands.items():
            started[name] = start_server(name, command, project, environment, path, ready)
        yield started
    finally:
        for server in started.values():
            server.stop()


def check_outputs(project: Project, found: dict[str, Server]) -> dict[str, Any]:
    """Same answers before timing: tabops /invocations labels == mlflow's predictions, and the
    bare endpoint's score == tabops /predict's score, for every example record."""
    mlflow, tabops, bare = found["mlflow"], found["tabops"], found["bare"]
    # The same compiled predictor gives the same score; tabops' sklearn fallback (a version
    # that failed its parity check) differs from ONNX by float32 rounding.
    tolerance = 1e-9 if project.compiled == "onnx" else 1e-5
    checked = []
    for record in project.examples:
        mine = model_record(project, record)
        theirs = _post(mlflow.url + "/invocations", {"dataframe_records": [mine]})
        ours = _post(tabops.url + "/invocations", {"dataframe_records": [record]})
        assert ours["predictions"] == theirs["predictions"], (record, ours, theirs)
        scored = _post(tabops.url + "/predict", record)
        reference = _post(bare.url + "/predict", record)
        assert abs(scored["score"] - reference["score"]) <= tolerance, (record, scored, reference)
        checked.append((theirs["predictions"][0], scored["score"], scored["label"]))
    print(f"outputs match on {len(checked)} records: {checked}", file=sys.stderr)
    return {"records": len(checked), "first": checked[0]}


def _post(url: str, payload: Any) -> Any:
    response = httpx.post(url, content=orjson.dumps(payload), timeout=30,
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 200, (url, response.status_code, response.text[:500])
    return response.json()


# -- load ----------------------------------------------------------------------------------


@dataclass
class Run:
    contender: str
    connections: int
    pair: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx responses and socket errors
    cpu_ms: float  # server CPU per request
    extra: dict[str, float] = field(default_factory=dict)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def lua_script(folder: Path, name: str, body: bytes) -> Path:
    path = folder / f"{name}.lua"
    text = body.decode()
    assert "]==]" not in text
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{text}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


def wrk(server: Server, script: Path, connections: int, seconds: float) -> dict[str, Any]:
    command = ["taskset", "-c", LOADGEN_CORE, "wrk", "-t1", f"-c{connections}",
               f"-d{seconds:g}s", "--timeout", "10s", "--latency", "-s", str(script),
               server.url + server.path]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    out = done.stdout
    if done.returncode != 0 or "Requests/sec" not in out:
        sys.exit(f"wrk failed on {server.name}:\n{out}\n{done.stderr}")
    percentiles = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)\s*$", out, re.MULTILINE))  # "1.04s "
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(g) for g in sockets.groups()) if sockets else 0
    return {
        "rps": float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        "p50_ms": _ms(percentiles["50"]),
        "p90_ms": _ms(percentiles["90"]),
        "p99_ms": _ms(percentiles["99"]),
        "requests": int(_find(r"(\d+) requests in", out)),
        "errors": errors,
    }


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"no {pattern!r} in wrk's output:\n{text}"
    return match.group(1)


def journal_backlog(server: Server) -> int:
    body = httpx.get(server.url + "/readyz", timeout=10).json()
    return int(body["prediction_log"]["queue_rows"])


def wait_for_journal(server: Server, timeout: float = 300) -> tuple[int, float]:
    """Rows not yet copied into the store when the load stopped, and seconds to copy them."""
    started = time.monotonic()
    backlog = journal_backlog(server)
    while journal_backlog(server) and time.monotonic() - started < timeout:
        time.sleep(0.2)
    return backlog, time.monotonic() - started


def measure(
    server: Server, script: Path, connections: int, pair: int, seconds: float, warmup: float
) -> tuple[Run, int]:
    """One timed run after an untimed warm-up; the run and all 2xx responses it caused."""
    warm = wrk(server, script, connections, warmup) if warmup else {"requests": 0, "errors": 0}
    if server.name.startswith("tabops"):
        wait_for_journal(server)
    cpu = server.cpu_seconds()
    result = wrk(server, script, connections, seconds)
    cpu = server.cpu_seconds() - cpu
    extra: dict[str, float] = {}
    if server.name.startswith("tabops"):
        backlog, drain = wait_for_journal(server)
        extra = {"log_backlog_rows": backlog, "log_drain_s": drain}
    else:
        time.sleep(0.5)
    run = Run(server.name, connections, pair, cpu_ms=cpu * 1e3 / max(1, result["requests"]),
              extra=extra, **result)  # fmt: skip
    print(
        f"pair {pair} {run.contender:<18} c={connections:<2} {run.rps:>9,.0f} req/s  "
        f"p50 {run.p50_ms:8.3f} ms  p99 {run.p99_ms:8.3f} ms  cpu {run.cpu_ms:.3f} ms/req  "
        f"errors {run.errors}  {extra or ''}",
        file=sys.stderr,
    )
    served = result["requests"] - result["errors"] + warm["requests"] - warm["errors"]
    return run, served


def logged_rows(project: Project) -> int:
    with contextlib.closing(sqlite3.connect(project.home / "tabops.db")) as db:
        return int(db.execute("SELECT count(*) FROM predictions").fetchone()[0])


# -- the report ----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    packages = ["mlflow", "fastapi", "uvicorn", "onnxruntime", "scikit-learn", "lightgbm"]
    versions = ", ".join(f"{p} {package_version(p)}" for p in packages)
    if shutil.which("wrk"):  # the load benchmarks' generator; the start benchmark needs none
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        versions += f", wrk {(wrk.stdout or wrk.stderr).split()[1]}"
    return {
        "cpu": f"{platform.machine()}, {os.cpu_count()} cores ({model})",
        "software": f"Python {platform.python_version()}, {versions}",
    }


def _ratio_line(label: str, values: list[float], target: str, met: bool, unit: str = "x") -> str:
    shown = ", ".join(f"{v:.2f}{unit}" if unit == "x" else f"{v:.0%}" for v in values)
    median = statistics.median(values)
    median_text = f"{median:.1f}x" if unit == "x" else f"{median:.0%}"
    return (
        f"| {label} | {shown} | **{median_text}** | {target} | {'met' if met else '**not met**'} |"
    )


def report(
    runs: list[Run],
    figures: dict[str, float],
    project: Project,
    args: argparse.Namespace,
    notes: dict[str, Any],
) -> str:
    def pick(contender: str, connections: int) -> list[Run]:
        return [r for r in runs if r.contender == contender and r.connections == connections]

    def by_pair(contender: str, connections: int) -> dict[int, Run]:
        return {r.pair: r for r in pick(contender, connections)}

    pairs = sorted({r.pair for r in runs})
    high, low = CONNECTIONS[-1], CONNECTIONS[0]
    speedup = [by_pair("tabops", high)[p].rps / by_pair("mlflow", high)[p].rps for p in pairs]
    latency = [by_pair("mlflow", low)[p].p50_ms / by_pair("tabops", low)[p].p50_ms for p in pairs]
    of_bare = [by_pair("tabops", high)[p].rps / by_pair("bare", high)[p].rps for p in pairs]
    contenders = [*CONTENDERS, *(["tabops-invocations"] if args.invocations else [])]
    what = {
        "mlflow": "`mlflow models serve` (pyfunc, `/invocations`)",
        "tabops": "`tabops serve` `/predict` (validation + logging)",
        "bare": "bare FastAPI + ONNX (`bare_onnx_app.py`)",
        "tabops-invocations": "`tabops serve` `/invocations` (MLflow protocol)",
    }
    quick = args.quick
    lines = [
        "## Serving: 1-row requests, tabops vs `mlflow models serve` (`benchmarks/serve.py`)",
        "",
    ]
    if quick:
        lines += [
            f"**Quick run** (`--quick`: {len(pairs)} pair, {args.duration:g} s runs; load "
            f"average before it {notes['load_before']}): a smoke test of the benchmark, not a "
            "measurement. The full run is `make bench-serve`, on a quiet machine.",
            "",
        ]
    lines += [
        f"Model: `{project.name}` v{project.version}, a ColumnTransformer (impute + scale, "
        f"impute + one-hot) + LightGBM (200 trees) on {project.features} input features "
        f"({args.dataset} data), served from the `champion` alias by every contender; tabops "
        f"serves its {notes['tabops_predictor']} predictor. Each server is one worker pinned to "
        f"core {SERVER_CORE} with `OMP_NUM_THREADS=1`; `wrk` (1 thread) is pinned to core "
        f"{LOADGEN_CORE} and sends the same 1-row record for {args.duration:g} s after a "
        f"{args.warmup:g} s warm-up; contenders alternate within each of {len(pairs)} pair(s). "
        f"Outputs were compared first ({notes['checked']['records']} records: tabops "
        "`/invocations` labels equal mlflow's predictions, the bare endpoint's score equals "
        "tabops `/predict`'s).",
        "",
        "| contender | connections | req/s | p50 (ms) | p90 (ms) | p99 (ms) | "
        "server CPU (ms/request) |",
        "|---|---|---|---|---|---|---|",
    ]
    for connections in CONNECTIONS:
        for contender in contenders:
            chosen = pick(contender, connections)
            if not chosen:
                continue

            def med(attr: str, chosen: list[Run] = chosen) -> float:
                return float(statistics.median(getattr(r, attr) for r in chosen))

            lines.append(
                f"| {what[contender]} | {connections} | {med('rps'):,.0f} | "
                f"{med('p50_ms'):.3f} | {med('p90_ms'):.3f} | {med('p99_ms'):.3f} | "
                f"{med('cpu_ms'):.3f} |"
            )
    errors = sum(r.errors for r in runs)
    lines += [
        "",
        f"Medians over the pairs; {errors} non-2xx responses or socket errors in all runs. "
        "Server CPU is user + system time of the server's processes per request.",
        "",
        "| ratio (per pair) | pairs | median | target | |",
        "|---|---|---|---|---|",
        _ratio_line(f"tabops / mlflow req/s, {high} connections", speedup,
                    f">= {TARGET_SPEEDUP:g}x", statistics.median(speedup) >= TARGET_SPEEDUP),
        _ratio_line(f"mlflow p50 / tabops p50, {low} connection", latency,
                    f">= {TARGET_LATENCY:g}x", statistics.median(latency) >= TARGET_LATENCY),
        _ratio_line(f"tabops / bare req/s, {high} connections", of_bare,
                    f">= {TARGET_OF_BARE:.0%}", statistics.median(of_bare) >= TARGET_OF_BARE,
                    unit="%"),
        "",
    ]  # fmt: skip
    tabops_runs = [r for r in runs if r.contender.startswith("tabops")]
    if tabops_runs:
        backlog = max(r.extra.get("log_backlog_rows", 0) for r in tabops_runs)
        drain = max(r.extra.get("log_drain_s", 0) for r in tabops_runs)
        lines += [
            f"Prediction log: {notes['logged']:,} rows in the tabops store for "
            f"{notes['served_2xx']:,} 2xx tabops predictions counted by wrk (connections cut "
            "at the end of a run may add a few answered requests wrk did not count). When a run "
            f"ended, at most {backlog:,.0f} rows were still to be copied into the store (caught "
            f"up within {drain:.1f} s).",
            "",
        ]
        if notes["logged"] < notes["served_2xx"]:
            lines[-1:-1] = [
                f"**{notes['served_2xx'] - notes['logged']:,} answered predictions are missing "
                "from the prediction log.**",
                "",
            ]
    row_met = figures["onnx_row_us"] <= TARGET_PREDICT_US
    lines += [
        "In process, one core (median per call):",
        "",
        "| path | 1 row | 1,000-row batch |",
        "|---|---|---|",
        f"| compiled predictor (`OnnxPredictor.predict_rows` / `predict_frame`) | "
        f"{figures['onnx_row_us']:.1f} µs (target <= {TARGET_PREDICT_US:g} µs: "
        f"{'met' if row_met else '**not met**'}) | "
        f"{figures['onnx_batch_rows_s']:,.0f} rows/s |",
        f"| tabops request validation (`RequestSchema.model_rows`) | "
        f"{figures['validate_row_us']:.1f} µs | |",
        f"| sklearn pipeline `predict_proba` on a DataFrame | "
        f"{figures['sklearn_row_us'] / 1e3:.2f} ms | "
        f"{figures['sklearn_batch_rows_s']:,.0f} rows/s |",
        f"| MLflow pyfunc `predict` (schema enforcement + pipeline) | "
        f"{figures['pyfunc_row_us'] / 1e3:.2f} ms | |",
        "",
    ]
    if project.compiled != "onnx":
        lines += [
            f"**Warning:** the registered version is not compiled ({project.compile_reason}); "
            "tabops serves the sklearn pipeline and the bare endpoint runs an ONNX graph "
            "compiled by the benchmark.",
            "",
        ]
    info = machine()
    command = "python benchmarks/serve.py" + (
        " --quick"
        if quick
        else f" --pairs {args.pairs} --duration {args.duration:g} --warmup {args.warmup:g}"
    )
    if args.dataset != "synthetic":
        command += f" --dataset {args.dataset}"
    if args.invocations:
        command += " --invocations"
    lines += [
        f"Machine: {info['cpu']}; {info['software']}. Load average before/after: "
        f"{notes['load_before']} / {notes['load_after']}. Measured {datetime.now(UTC):%Y-%m-%d}.",
        f"Command: `{command}` (or `make bench-serve`).",
    ]
    return "\n".join(lines) + "\n"


# -- main ----------------------------------------------------------------------------------


def check_tools() -> None:
    missing = [tool for tool in ("wrk", "hey", "taskset") if shutil.which(tool) is None]
    if missing:
        sys.exit(
            f"Missing: {', '.join(missing)}. Install the load generators with "
            "'bash scripts/setup-loadgen.sh' (Debian: apt-get install -y wrk hey; taskset is "
            "in util-linux), or run 'make bench-serve'."
        )
    if len(os.sched_getaffinity(0)) < 2 or not {0, 1} <= os.sched_getaffinity(0):
        sys.exit("This benchmark needs cores 0 and 1: the servers on one, wrk on the other.")


def _load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="A/B rounds (default 3).")
    parser.add_argument("--duration", type=float, default=10, help="Seconds per timed run.")
    parser.add_argument("--warmup", type=float, default=2, help="Untimed seconds before each.")
    parser.add_argument("--quick", action="store_true", help="1 pair, 3 s runs, 1 s warm-ups.")
    parser.add_argument("--dataset", choices=["synthetic", "churn"], default="synthetic")
    parser.add_argument("--rows", type=int, default=20_000, help="Rows of synthetic data.")
    parser.add_argument(
        "--invocations", action="store_true", help="Also time tabops' MLflow-protocol route."
    )
    parser.add_argument("--workdir", type=Path, help="Keep the project and logs here.")
    parser.add_argument("--no-write", action="store_true", help="Do not update BENCHMARKS.md.")
    args = parser.parse_args()
    if args.quick:
        args.pairs, args.duration, args.warmup = 1, 3.0, 1.0
    check_tools()
    notes: dict[str, Any] = {"load_before": _load()}
    with contextlib.ExitStack() as stack:
        if args.workdir:
            work = args.workdir.resolve()
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tabops-bserve-")))
        project = build_project(work / "project", args.dataset, args.rows)
        print(
            f"{project.name} v{project.version}: {project.features} features, compiled "
            f"{project.compiled} {project.compile_reason}",
            file=sys.stderr,
        )
        notes["tabops_predictor"] = "compiled ONNX" if project.compiled == "onnx" else "sklearn"
        model_dir = work / "bare-model"
        print(f"bare endpoint model: {export_onnx(project, model_dir)}", file=sys.stderr)
        figures = predictor_figures(project, model_dir, args.quick)
        print(f"in process: {figures}", file=sys.stderr)
        runs: list[Run] = []
        served_2xx = 0
        with servers(project, model_dir) as found:
            notes["checked"] = check_outputs(project, found)
            served_2xx += 2 * len(project.examples)  # the checks: /invocations and /predict
            bodies = {
                "mlflow": {"dataframe_records": [model_record(project, project.record)]},
                "tabops": project.record,
                "bare": project.record,
            }
            if args.invocations:
                tabops = found["tabops"]
                found["tabops-invocations"] = Server(
                    "tabops-invocations", tabops.process, tabops.url, "/invocations", tabops.log
                )
                bodies["tabops-invocations"] = {"dataframe_records": [project.record]}
            scripts = {
                name: lua_script(work, name, orjson.dumps(body)) for name, body in bodies.items()
            }
            for pair in range(1, args.pairs + 1):
                for connections in CONNECTIONS:
                    for name in scripts:
                        run, served = measure(
                            found[name], scripts[name], connections, pair,
                            args.duration, args.warmup,
                        )  # fmt: skip
                        runs.append(run)
                        if name.startswith("tabops"):
                            served_2xx += served
        notes["served_2xx"] = served_2xx
        notes["logged"] = logged_rows(project)
        notes["load_after"] = _load()
        text = report(runs, figures, project, args, notes)
    print(text)
    if not args.no_write:
        write_section("serve", text)


if __name__ == "__main__":
    main()
