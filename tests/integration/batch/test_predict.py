"""``tabops predict`` end to end on real SQLite and PostgreSQL stores: files, folders, globs
and SQL tables/queries in; CSV, Parquet, partitioned folders and store tables out; rows in =
scored + rejected; reruns of a run date replace its rows (also after SIGKILL mid-write);
the store keeps every run's scores per entity; ``--monitor`` measures a run like a window
of the log; user mistakes get clear messages."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from tabops import storage
from tabops.batch.run import run_predict
from tabops.batch.sinks import parse_destination
from tabops.batch.sources import Input
from tabops.context import Context
from tabops.devtools.s3 import S3Server
from tabops.settings import Settings
from tabops.store.batch import batch_history
from tabops.store.db import open_store, sqlalchemy_url
from tests.integration.serve.conftest import TABOPS, ServedProject, make_project
from tests.unit.model.conftest import synthetic_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mlflow")]

D1, D2 = date(2026, 12, 1), date(2026, 12, 2)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return make_project(tmp_path_factory.mktemp("predict"), rows=600)


def _input_rows(count: int, seed: int, bad: int = 0) -> pa.Table:
    """Rows without the target; the first ``bad`` have an ``x`` the contract refuses."""
    table = synthetic_table(count, seed=seed).drop(["label"])
    x = table.column("x").cast(pa.string()).to_pylist()
    x[:bad] = ["oops"] * bad
    return table.set_column(table.column_names.index("x"), "x", pa.array(x, pa.string()))


def _predict(project: ServedProject, *args: str, env: dict[str, str] | None = None) -> Any:
    done = subprocess.run(
        [TABOPS, "predict", "--spec", str(project.folder), "--json", *args],
        capture_output=True, text=True, env=env or project.env(), timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _error(project: ServedProject, *args: str, **env: str) -> str:
    done = subprocess.run(
        [TABOPS, "predict", "--spec", str(project.folder), *args],
        capture_output=True, text=True, env=project.env(COLUMNS="1000", **env), timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return " ".join((done.stdout + done.stderr).split())


def test_csv_to_csv_with_rejects_and_history(project: ServedProject, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    pacsv.write_csv(_input_rows(300, seed=1, bad=4), source)
    out = tmp_path / "out" / "scores.csv"
    out.parent.mkdir()
    summary = _predict(project, "--input", str(source), "--output", str(out),
                       "--run-date", D1.isoformat())  # fmt: skip
    assert (summary["rows_in"], summary["scored"], summary["rejected"]) == (300, 296, 4)
    assert summary["rejected_by"] == {"x": {"type": 4}}
    assert summary["run_date"] == "2026-12-01" and summary["model_version"] == "1"
    scored = pacsv.read_csv(out)
    rejects = pacsv.read_csv(tmp_path / "out" / "scores.rejects.csv")
    assert scored.num_rows == 296 and rejects.num_rows == 4
    assert set(rejects.column("reject_column").to_pylist()) == {"x"}
    assert all("oops" in r for r in rejects.column("reject_reason").to_pylist())
    assert set(scored.column("batch_id").to_pylist()) == {summary["batch_id"]}
    assert sorted(scored.column("id").to_pylist() + rejects.column("id").to_pylist()) == list(
        range(300)
    )
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []

    store = open_store(project.settings.store_url)
    history = batch_history(store, "synthetic", D1)
    assert history.num_rows == 296
    by_id = dict(zip(scored.column("id").to_pylist(), scored.column("score").to_pylist(),
                     strict=True))  # fmt: skip
    stored = dict(zip(history.column("entity_id").to_pylist(), history.column("score").to_pylist(),
                      strict=True))  # fmt: skip
    assert stored == {str(k): v for k, v in by_id.items()}

    again = _predict(project, "--input", str(source), "--output", str(out),
                     "--run-date", D1.isoformat())  # fmt: skip
    assert again["batch_id"] != summary["batch_id"]
    history = batch_history(store, "synthetic", D1)
    assert history.num_rows == 296  # replaced, not added
    assert set(history.column("batch_id").to_pylist()) == {again["batch_id"]}
    _predict(project, "--input", str(source), "--output", str(out), "--run-date", D2.isoformat())
    assert batch_history(store, "synthetic").num_rows == 2 * 296  # a new date adds its rows


def test_the_summary_says_which_checks_rejected_rows_and_how_to_score_missing_values(
    project: ServedProject, tmp_path: Path
) -> None:
    rows = _input_rows(40, seed=5, bad=2)
    x = rows.column("x").to_pylist()
    x[2:5] = [None] * 3  # missing, where training had every value
    source = tmp_path / "in.csv"
    pacsv.write_csv(rows.set_column(rows.column_names.index("x"), "x", pa.array(x)), source)
    done = subprocess.run(
        [TABOPS, "predict", "--spec", str(project.folder), "--input", str(source),
         "--output", str(tmp_path / "out.csv")],
        capture_output=True, text=True, env=project.env(COLUMNS="200"), timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "Rejected rows" in text
    assert re.search(r"\bx\W+missing\W+3\b", text), text
    assert "Missing values in x" in text and "'nullable: true'" in text
    assert "out.rejects.csv" in text


def test_kept_columns_ride_along_into_the_scores_and_the_rejects(
    project: ServedProject, tmp_path: Path
) -> None:
    rows = _input_rows(30, seed=3, bad=2)
    rows = rows.append_column("customer", pa.array([f"c{i}" for i in range(30)]))
    source = tmp_path / "in.csv"
    pacsv.write_csv(rows.append_column("score", pa.array([0.5] * 30)), source)
    out = tmp_path / "out.parquet"
    summary = _predict(project, "--input", str(source), "--output", str(out),
                       "--keep", "customer", "--keep", "n,id")  # fmt: skip
    assert (summary["scored"], summary["rejected"]) == (28, 2)
    scored, rejects = pq.read_table(out), pq.read_table(tmp_path / "out.rejects.parquet")
    assert scored.column_names[:4] == ["id", "customer", "n", "label"]
    assert scored.schema.field("n").type == pa.int64()  # a feature, as the model read it
    ids = scored.column("id").to_pylist()
    assert scored.column("customer").to_pylist() == [f"c{i}" for i in ids]
    assert rejects.column("customer").to_pylist() == ["c0", "c1"]

    everything = tmp_path / "all.csv"
    pacsv.write_csv(rows, source)
    _predict(project, "--input", str(source), "--output", str(everything), "--keep", "*")
    assert pacsv.read_csv(everything).column_names[: len(rows.column_names)] == rows.column_names

    unknown = _error(project, "--input", str(source), "--output", str(out), "--keep", "custmer")
    assert "in.csv has no column 'custmer'; it has id, x" in unknown and "customer" in unknown
    pacsv.write_csv(rows.append_column("score", pa.array([0.5] * 30)), source)
    clash = _error(project, "--input", str(source), "--output", str(out), "--keep", "*")
    assert "column(s) 'score' would take the name of a column tabops writes" in clash
    assert "instead of *" in clash


def test_parquet_glob_to_partitioned_folder(project: ServedProject, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for part in range(3):
        pq.write_table(_input_rows(100, seed=10 + part), tmp_path / "in" / f"p{part}.parquet")
    folder = tmp_path / "scores"
    first = _predict(project, "--input", str(tmp_path / "in" / "*.parquet"),
                     "--output", str(folder), "--run-date", D1.isoformat())  # fmt: skip
    assert (first["rows_in"], first["scored"], first["rejected"]) == (300, 300, 0)
    _predict(project, "--input", str(tmp_path / "in"), "--output", str(folder),
             "--run-date", D2.isoformat(), "--chunk-rows", "7")  # fmt: skip
    second = _predict(project, "--input", str(tmp_path / "in"), "--output", str(folder),
                      "--run-date", D1.isoformat())  # fmt: skip
    assert sorted(p.name for p in folder.iterdir()) == [
        "run_date=2026-12-01",
        "run_date=2026-12-02",
    ]
    day1 = pq.read_table(folder / "run_date=2026-12-01")
    assert day1.num_rows == 300 and set(day1.column("batch_id").to_pylist()) == {second["batch_id"]}
    day2 = pq.read_table(folder / "run_date=2026-12-02")
    assert day1.column("score").to_pylist() == day2.column("score").to_pylist()  # chunking
    # The run date is the partition's name, not a column of its file: the folder reads as one.
    assert "run_date" not in pq.read_schema(next((folder / "run_date=2026-12-01").iterdir()))
    whole = pd.read_parquet(folder)
    assert whole["run_date"].astype(str).value_counts().to_dict() == {
        D1.isoformat(): 300,
        D2.isoformat(): 300,
    }


def test_objects_in_s3_are_scored_as_the_same_local_files(
    project: ServedProject, tmp_path: Path, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prefix (CSV, gzipped CSV and Parquet objects, a hidden one skipped), a glob and one
    object, read from a real S3 server (moto) and scored as the same files on disk are."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    bucket = s3.create_bucket("predict-inputs")
    local = tmp_path / "days"
    local.mkdir()
    pacsv.write_csv(_input_rows(120, seed=21, bad=3), local / "a.csv")
    (local / "b.csv.gz").write_bytes(gzip.compress(_csv_bytes(_input_rows(80, seed=22))))
    pq.write_table(_input_rows(50, seed=23), local / "c.parquet")
    for path in sorted(local.iterdir()):
        storage.write_bytes(f"{bucket}/days/{path.name}", path.read_bytes())
    storage.write_bytes(f"{bucket}/days/.partial.csv", b"not,a,data,file\n")
    env = project.env(**s3.env)

    def scored(source: str, name: str) -> tuple[Any, pa.Table]:
        out = tmp_path / f"{name}.parquet"
        summary = _predict(project, "--input", source, "--output", str(out), env=env)
        return summary, pq.read_table(out).sort_by("id").select(["id", "score", "label"])

    remote, remote_rows = scored(f"{bucket}/days/", "remote")
    on_disk, local_rows = scored(str(local), "local")
    assert (remote["rows_in"], remote["scored"], remote["rejected"]) == (250, 247, 3)
    assert (on_disk["rows_in"], on_disk["rejected"]) == (250, 3)
    assert remote_rows.equals(local_rows)
    globbed, _ = scored(f"{bucket}/days/*.csv*", "globbed")
    assert globbed["rows_in"] == 200
    recursive, _ = scored(f"{bucket}/**/*.csv*", "recursive")
    assert recursive["rows_in"] == 200
    one, _ = scored(f"{bucket}/days/c.parquet", "one")
    assert one["rows_in"] == 50
    missing = _error(project, "--input", f"{bucket}/nothing/", "--output",
                     str(tmp_path / "o.csv"), **s3.env)  # fmt: skip
    assert f"--input {bucket}/nothing/: no such object, nor CSV or Parquet files" in missing


def _csv_bytes(rows: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(rows, sink)
    return sink.getvalue()


def _sql_source(tmp_path: Path, rows: pa.Table) -> str:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = sa.create_engine(url)
    frame = rows.to_pandas()
    frame.to_sql("customers", engine, index=False)
    engine.dispose()
    return url


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_sql_table_and_query_into_a_store_table(
    project: ServedProject, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    env = project.env()
    if backend == "postgres":
        env["TABOPS_DATABASE_URL"] = request.getfixturevalue("pg_url")
    url = _sql_source(tmp_path, _input_rows(200, seed=5, bad=3))
    first = _predict(project, "--input", url, "--table", "customers", "--output",
                     "table:churn_scores", "--run-date", D1.isoformat(), env=env)  # fmt: skip
    assert (first["rows_in"], first["scored"], first["rejected"]) == (200, 197, 3)
    query = "SELECT * FROM customers WHERE id < 100"
    second = _predict(project, "--input", url, "--query", query, "--output",
                      "table:churn_scores", "--run-date", D1.isoformat(), env=env)  # fmt: skip
    # The run date's earlier run is replaced, and the summary says which.
    assert second["replaced"] == {"batch_id": first["batch_id"],
                                  "model_version": first["model_version"], "rows": 197}  # fmt: skip
    _predict(project, "--input", url, "--table", "customers", "--output", "table:churn_scores",
             "--run-date", D2.isoformat(), env=env)  # fmt: skip
    store = open_store(env.get("TABOPS_DATABASE_URL") or project.settings.store_url)
    with store.connect() as conn:
        counts = dict(conn.execute(sa.text(
            "SELECT run_date, count(*) FROM churn_scores GROUP BY run_date ORDER BY run_date"
        )).all())  # fmt: skip
        refused = conn.execute(sa.text("SELECT count(*) FROM churn_scores_rejects")).scalar_one()
    assert list(counts.values()) == [97, 197]  # the query's rerun replaced day 1's rows
    assert refused == 3 + 3  # day 1's rerun (ids 0-2 are < 100) and day 2
    assert batch_history(store, "synthetic", D1).num_rows == 97


def test_an_empty_input_does_not_wipe_a_run_dates_scores_unless_allowed(
    project: ServedProject, tmp_path: Path
) -> None:
    day = date(2026, 12, 20).isoformat()  # a run date of this test's own
    source, empty = tmp_path / "in.csv", tmp_path / "header-only.csv"
    pacsv.write_csv(_input_rows(25, seed=8), source)
    empty.write_text(source.read_text().splitlines()[0] + "\n")  # an export that came out empty
    out = tmp_path / "scores.csv"
    args = ["--output", str(out), "--run-date", day]
    assert _predict(project, "--input", str(source), *args)["scored"] == 25
    kept = out.read_bytes()
    refused = _error(project, "--input", str(empty), *args)
    assert "has no rows" in refused and "replace the 25 rows of run date 2026-12-20" in refused
    assert "--allow-empty" in refused
    assert out.read_bytes() == kept  # nothing published
    broken = tmp_path / "broken.csv"  # every row refused: an export with its columns shifted
    pacsv.write_csv(_input_rows(25, seed=8, bad=25), broken)
    rejected = _error(project, "--input", str(broken), *args)
    assert "has no row it can score (25 rejected): publishing would replace the 25" in rejected
    assert out.read_bytes() == kept
    emptied = _predict(project, "--input", str(empty), *args, "--allow-empty")
    assert (emptied["rows_in"], emptied["replaced"]["rows"]) == (0, 25)
    assert pacsv.read_csv(out).num_rows == 0


def test_a_run_whose_every_row_is_rejected_fails_for_its_scheduler(
    project: ServedProject, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.csv"  # a first run of its date: nothing to wipe
    pacsv.write_csv(_input_rows(12, seed=8, bad=12), broken)
    for mode in ([], ["--json"]):
        out = tmp_path / f"scores{len(mode)}.csv"
        done = subprocess.run(
            [TABOPS, "predict", "--spec", str(project.folder), "--input", str(broken), "-o",
             str(out), "--run-date", "2026-12-21", *mode],
            capture_output=True, text=True, env=project.env(COLUMNS="1000"), timeout=600,
        )  # fmt: skip
        assert done.returncode == 3, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        rejects = pacsv.read_csv(tmp_path / f"scores{len(mode)}.rejects.csv")
        assert rejects.num_rows == 12  # the reasons are written, for the user to read
        if not mode:
            assert "None of the 12 rows could be scored" in " ".join(done.stderr.split())
    allowed = _predict(project, "--input", str(broken), "-o", str(tmp_path / "ok.csv"),
                       "--run-date", "2026-12-22", "--allow-empty")  # fmt: skip
    assert (allowed["scored"], allowed["rejected"]) == (0, 12)


def test_user_mistakes_get_clear_messages(project: ServedProject, tmp_path: Path) -> None:
    missing = _error(project, "--input", str(tmp_path / "nope.csv"), "--output", "x.csv")
    assert "nope.csv does not exist" in missing
    source = tmp_path / "in.csv"
    pacsv.write_csv(_input_rows(20, seed=2).drop(["color"]), source)
    lacking = _error(project, "--input", str(source), "--output", str(tmp_path / "o.csv"))
    assert "lacks the column(s) ['color']" in lacking
    pacsv.write_csv(_input_rows(20, seed=2), source)
    unknown = _error(project, "--input", str(source), "--output", str(tmp_path / "o.csv"),
                     "--version", "99")  # fmt: skip
    assert "99" in unknown
    (tmp_path / "taken.csv").mkdir()
    folder = _error(project, "--input", str(source), "--output", str(tmp_path / "taken.csv"))
    assert "exists as a folder" in folder
    date_text = _error(project, "--input", str(source), "--output", "o.csv", "--run-date", "May")
    assert "--run-date 'May' is not a date" in date_text
    store_table = _error(project, "--input", str(source), "--output", "table:predictions")
    assert "tabops store's own tables" in store_table
    semicolons = tmp_path / "eu.csv"  # the same rows, saved by a European spreadsheet
    semicolons.write_text(source.read_text().replace('"', "").replace(",", ";"))
    eu = ["--input", str(semicolons), "--output", str(tmp_path / "eu-scores.csv")]
    told = _error(project, *eu)
    assert "its fields look separated by ';'" in told and "--set 'source.csv.delimiter=;'" in told
    assert _predict(project, *eu, "--set", "source.csv.delimiter=;")["scored"] == 20
    tsv = _error(project, "--input", str(source), "--output", str(tmp_path / "scores.tsv"))
    assert "writes .csv, .csv.gz (gzip) and .parquet files" in tsv and "not .tsv" in tsv
    assert not (tmp_path / "scores.tsv").exists()  # was made a folder of partitions


def test_a_gzipped_csv_output_and_its_rejects(project: ServedProject, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    pacsv.write_csv(_input_rows(50, seed=4, bad=2), source)
    out = tmp_path / "scores.csv.gz"
    summary = _predict(project, "--input", str(source), "--output", str(out),
                       "--run-date", date(2026, 12, 21).isoformat())  # fmt: skip
    assert (summary["scored"], summary["rejected"]) == (48, 2)
    assert out.read_bytes()[:2] == b"\x1f\x8b"  # gzip, read back by suffix
    assert pacsv.read_csv(out).num_rows == 48
    assert pacsv.read_csv(tmp_path / "scores.rejects.csv.gz").num_rows == 2


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        assert process.poll() is None, f"the run ended before {what}: {process.stderr}"
        assert time.monotonic() < deadline, f"no {what} within 300 s"
        time.sleep(0.005)


def _killed_then_rerun(
    project: ServedProject, args: list[str], env: dict[str, str], writing: Callable[[], bool]
) -> None:
    process = subprocess.Popen(
        [TABOPS, "predict", "--spec", str(project.folder), "--json", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(writing, process, "output being written")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


BIG = 200_000


@pytest.fixture(scope="module")
def big_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.parquet"
    pq.write_table(_input_rows(BIG, seed=21), path)
    return path


def test_a_killed_file_write_leaves_the_old_output_and_the_rerun_completes(
    project: ServedProject, tmp_path: Path, big_input: Path
) -> None:
    out = tmp_path / "scores.csv"
    args = ["--input", str(big_input), "--output", str(out), "--run-date", D1.isoformat()]
    first = _predict(project, *args)
    before = out.read_bytes()

    def temp_file() -> bool:
        return any(p.name.startswith(".scores.csv.tmp-") for p in tmp_path.iterdir())

    spills = tmp_path / "tmp"  # the runs' temporary folder
    spills.mkdir()
    env = project.env(TMPDIR=str(spills))
    _killed_then_rerun(project, args, env, temp_file)
    assert out.read_bytes() == before  # the old output, whole
    assert len(list(spills.glob("tabops-predict-*"))) == 1  # what the killed run left
    again = _predict(project, *args, env=env)
    assert list(spills.glob("tabops-predict-*")) == []  # removed, and the rerun's own too
    assert again["scored"] == first["scored"] == BIG
    scored = pacsv.read_csv(out)
    assert scored.num_rows == BIG and set(scored.column("batch_id").to_pylist()) == {
        again["batch_id"]
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv", "scores.rejects.csv", "tmp"]


@pytest.mark.postgres
def test_a_killed_table_write_commits_nothing_and_the_rerun_completes(
    project: ServedProject, pg_url: str, big_input: Path
) -> None:
    env = {**project.env(), "TABOPS_DATABASE_URL": pg_url}
    args = ["--input", str(big_input), "--output", "table:scores", "--run-date", D1.isoformat()]
    first = _predict(project, *args, env=env)
    engine = sa.create_engine(sqlalchemy_url(pg_url))

    def copying() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE state = 'active' AND query ILIKE 'COPY%'"
            )).scalar_one())  # fmt: skip

    def batches() -> dict[str, int]:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text(
                "SELECT batch_id, count(*) FROM scores GROUP BY batch_id"
            )).all())  # fmt: skip

    _killed_then_rerun(project, args, env, copying)
    assert batches() == {first["batch_id"]: BIG}  # nothing of the killed run
    again = _predict(project, *args, env=env)
    assert batches() == {again["batch_id"]: BIG}
    store = open_store(pg_url)
    history = batch_history(store, "synthetic", D1)
    assert history.num_rows == BIG and set(history.column("batch_id").to_pylist()) == {
        again["batch_id"]
    }
    engine.dispose()


def test_in_process_run_reports_every_output(project: ServedProject, tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(_input_rows(50, seed=3), source)
    ctx = Context(settings=Settings(home=project.home))
    folder = tmp_path / "scores" / "daily"  # made when written, as other commands' outputs
    out = parse_destination(str(folder / "o.parquet"), "--output")
    result = run_predict(project.spec, ctx, Input(str(source)), out, out.sibling(".rejects"),
                         run_date=D1)  # fmt: skip
    assert result.outputs["scored"] == str(folder / "o.parquet")
    assert result.outputs["rejects"] == str(folder / "o.rejects.parquet")
    assert pq.read_table(folder / "o.parquet").num_rows == 50


def test_monitor_measures_the_run_as_a_batch_window(project: ServedProject, tmp_path: Path) -> None:
    from tabops.store.monitoring import window_metrics

    rows = _input_rows(300, seed=8, bad=5)
    x = [float(v) + 3.0 if v != "oops" else v for v in rows.column("x").to_pylist()]
    source = tmp_path / "drifted.csv"
    pacsv.write_csv(rows.set_column(1, "x", pa.array([str(v) for v in x])), source)
    args = ["--input", str(source), "--output", str(tmp_path / "o.csv"), "--monitor"]
    summary = _predict(project, *args, "--run-date", D1.isoformat())
    assert summary["monitoring"]["source"] == "batch"
    assert summary["monitoring"]["window_start"].startswith("2026-12-01")
    assert (
        "x" in summary["monitoring"]["drifted"] and "color" not in summary["monitoring"]["drifted"]
    )
    assert summary["monitoring"]["features_compared"] >= 3
    store = open_store(project.settings.store_url)

    def metric(name: str, column: str | None = None) -> list[float]:
        frame = window_metrics(store, "synthetic", "synthetic", source="batch")
        chosen = frame[frame["metric"] == name]
        if column is not None:
            chosen = chosen[chosen["column_name"] == column]
        return list(chosen["value"])

    assert metric("rows") == [295] and metric("refused_rows") == [5]
    assert metric("psi", "x")[0] > 1.0 and metric("psi", "color")[0] < 0.2
    _predict(project, *args, "--run-date", D1.isoformat())  # a rerun replaces its window
    assert metric("rows") == [295]
    _predict(project, *args, "--run-date", D2.isoformat())
    assert metric("rows") == [295, 295]
    log = window_metrics(store, "synthetic", "synthetic")
    assert log.empty  # the prediction log's series is untouched


def test_monitor_reads_the_target_column_as_labels(project: ServedProject, tmp_path: Path) -> None:
    from tabops.store.monitoring import window_metrics

    rows = synthetic_table(400, seed=12)
    labels = rows.column("label").to_pylist()
    labels[:4] = [None] * 4  # outcomes not known yet: unlabelled, still scored
    source = tmp_path / "labelled.parquet"
    pq.write_table(rows.set_column(rows.column_names.index("label"), "label", pa.array(labels)),
                   source)  # fmt: skip
    day = date(2026, 12, 9)
    args = ["--input", str(source), "--output", str(tmp_path / "o.parquet"), "--monitor"]
    summary = _predict(project, *args, "--run-date", day.isoformat())
    assert summary["scored"] == 400
    frame = window_metrics(open_store(project.settings.store_url), "synthetic", "synthetic",
                           source="batch")  # fmt: skip
    frame = frame[frame["window_start"].astype(str).str.startswith(day.isoformat())]
    value = dict(zip(frame["metric"] + ":" + frame["column_name"].fillna(""), frame["value"],
                     strict=True))  # fmt: skip
    assert value["label_coverage:"] == pytest.approx(396 / 400)
    assert value["roc_auc:"] > 0.8  # the model scores its own kind of rows well
    assert value["refused_rows:"] == 0 and "refused_values:label" not in value


def test_an_input_without_its_id_column_is_scored_without_ids(
    project: ServedProject, tmp_path: Path
) -> None:
    source = tmp_path / "no-ids.parquet"  # a fresh export without the training file's row ids
    pq.write_table(_input_rows(30, seed=4).drop(["id"]), source)
    out = tmp_path / "o.parquet"
    summary = _predict(project, "--input", str(source), "-o", str(out), "--run-date", "2026-12-23")
    assert (summary["scored"], summary["rejected"]) == (30, 0)
    assert "has no 'id' (the spec's id): its rows are scored without one" in summary["warnings"][0]
    assert pq.read_table(out).column("id").null_count == 30
    with_ids = tmp_path / "ids.parquet"
    pq.write_table(_input_rows(30, seed=4), with_ids)
    again = _predict(project, "--input", str(with_ids), "-o", str(tmp_path / "p.parquet"),
                     "--run-date", "2026-12-23")  # fmt: skip
    assert again["warnings"] == []
    scores = pq.read_table(tmp_path / "p.parquet").column("score").to_pylist()
    assert scores == pq.read_table(out).column("score").to_pylist()  # ids are no input
