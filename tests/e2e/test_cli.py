"""The ``tabops`` command run as a user runs it: a subprocess, real files, exit codes."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

TABOPS = str(Path(sys.executable).with_name("tabops"))


def tabops(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TABOPS_")}
    environment |= {"COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [TABOPS, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    """The one JSON document on stdout; fails if anything else (progress, tables) is mixed in."""
    assert result.returncode in (0, 3), result.stderr
    return json.loads(result.stdout)


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    message = " ".join(result.stderr.split())  # Rich wraps long lines
    assert "Error:" in message, message
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in message


@pytest.fixture
def project(tmp_path: Path, churn_data: Path) -> Path:
    """A churn project folder with its data and an inferred spec."""
    shutil.copytree(churn_data, tmp_path / "data")
    result = tabops("init", "--data", "data/churn.csv", "--target", "churn", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_init_prints_reasons_and_writes_a_valid_spec(project: Path) -> None:
    result = tabops("init", "--data", "data/churn.csv", "--target", "churn", "--force",
                    "--name", "telco", "--json", cwd=project)  # fmt: skip
    document = as_json(result)
    assert document["spec"]["name"] == "telco"
    assert document["spec"]["positive_class"] == "Yes"
    assert document["spec"]["columns"]["customer_id"]["role"] == "id"
    assert "unique" in document["reasons"]["customer_id"]
    shown = as_json(tabops("spec", "--json", cwd=project))
    assert shown["target"] == "churn"
    assert shown["source"]["path"] == "data/churn.csv"


def test_ingest_conserves_rows_quarantines_and_replays(project: Path) -> None:
    first = as_json(tabops("ingest", "--json", cwd=project))
    assert (first["status"], first["rows_in"], first["rows_loaded"]) == ("loaded", 7043, 7043)

    update = tabops("ingest", "--set", "source.path=data/churn_update.csv",
                    "--set", "ingest.mode=append", "--json", cwd=project)  # fmt: skip
    second = as_json(update)
    assert second["status"] == "loaded"
    assert second["rows_quarantined"] > 0 and second["rows_rejected"] > 0
    assert second["rows_in"] == (
        second["rows_loaded"] + second["rows_quarantined"] + second["rows_rejected"]
    )
    assert second["snapshot_rows"] == 7043 + second["rows_loaded"]

    listed = as_json(tabops("quarantine", "list", "--limit", "1000", "--json", cwd=project))
    assert len(listed) == second["rows_quarantined"] + second["rows_rejected"]
    assert all(entry["reasons"] for entry in listed)
    structural = [e for e in listed if e["kind"] != "contract"]
    assert all(e["line"] is not None for e in structural)
    shown = as_json(tabops("quarantine", "show", str(listed[0]["id"]), "--json", cwd=project))
    assert shown["raw"] == listed[0]["raw"]

    exported = as_json(tabops("quarantine", "export", "-o", "fixes.csv", "--json", cwd=project))
    assert exported["rows"] == len(listed)  # structural rejects can be fixed too
    fixed = _fix_first_row(project / "fixes.csv")
    replayed = as_json(tabops("quarantine", "replay", "fixes.csv", "--json", cwd=project))
    assert replayed["replayed"] == 1
    assert replayed["still_bad"] == exported["rows"] - 1
    again = as_json(tabops("quarantine", "replay", "fixes.csv", "--json", cwd=project))
    assert (again["replayed"], again["skipped"]) == (0, 1)  # replayed once only

    history = as_json(tabops("data", "history", "--json", cwd=project))
    assert history[0]["rows"] == second["snapshot_rows"] + 1
    ids = pq.read_table(history[0]["path"], columns=["customer_id"]).column(0).to_pylist()
    assert int(fixed) in ids


def _fix_first_row(path: Path) -> str:
    """Repair the first exported row with the values of a known-good churn row."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    good = {"female": "1", "senior_citizen": "0", "partner": "1", "dependents": "0",
            "tenure": "12", "phone_service": "1", "multiple_lines": "No",
            "internet_service": "DSL", "online_security": "No", "online_backup": "Yes",
            "device_protection": "No", "tech_support": "No", "streaming_tv": "No",
            "streaming_movies": "No", "contract": "Month-to-month", "paperless_billing": "1",
            "payment_method": "Electronic check", "monthly_charges": "29.85",
            "total_charges": "358.2", "churn": "No"}  # fmt: skip
    rows[0] |= good
    rows[0]["customer_id"] = "990001"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows[0]["customer_id"]


def test_same_content_is_loaded_once(project: Path) -> None:
    assert as_json(tabops("ingest", "--json", cwd=project))["status"] == "loaded"
    again = tabops("ingest", cwd=project)
    assert again.returncode == 0
    assert "already loaded" in again.stdout
    batches = as_json(tabops("data", "batches", "--json", cwd=project))
    assert len(batches) == 1


def test_schema_drift_blocks_with_exit_code_3(project: Path) -> None:
    text = (project / "data" / "churn.csv").read_text(encoding="utf-8").splitlines()
    drifted = [text[0] + ",surprise"] + [line + ",1" for line in text[1:]]
    (project / "data" / "drifted.csv").write_text("\n".join(drifted) + "\n", encoding="utf-8")
    result = tabops("ingest", "--set", "source.path=data/drifted.csv", cwd=project)
    assert result.returncode == 3
    assert "Batch blocked" in result.stdout
    assert "surprise" in result.stdout
    assert as_json(tabops("data", "history", "--json", cwd=project)) == []


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("init", "-o", "new", "--data", "missing.csv", "--target", "x"), ("missing.csv",)),
        (("init", "-o", "new", "--data", "data/churn.csv", "--target", "nope"), ("'nope'",)),
        (
            ("init", "-o", "new", "--data", "http://127.0.0.1:9/x.csv", "--target", "x"),
            ("Cannot download",),
        ),
        (("init", "--data", "data/churn.csv", "--target", "churn"), ("--force",)),
        (("spec", "--set", "contract.bogus=1"), ("tabops.yaml", "contract.bogus", "use one of")),
        (("spec", "--set", "task=clustering"), ("task", "classification")),
        (("spec", "--set", "nonsense"), ("key.path=value",)),
        (("quarantine", "show", "424242"), ("424242",)),
        (("quarantine", "list", "--status", "closed"), ("--status",)),
    ],
)
def test_user_mistakes_are_clear_errors(
    project: Path, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    assert_user_error(tabops(*args, cwd=project), *fragments)


def test_command_line_mistakes_exit_2_with_usage(tmp_path: Path) -> None:
    for args in (("--bogus",), ("nocommand",), ("ingest", "--nope")):
        result = tabops(*args, cwd=tmp_path)
        assert result.returncode == 2
        assert "Usage:" in result.stderr
        assert "Traceback" not in result.stderr and "Internal error" not in result.stderr


def test_version(tmp_path: Path) -> None:
    result = tabops("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("tabops ")


def test_bad_environment_setting_names_the_variable(project: Path) -> None:
    result = tabops("data", "history", cwd=project, env={"TABOPS_ENV": "prod"})
    assert_user_error(result, "TABOPS_ENV", "production")


def test_init_reads_other_delimiters(tmp_path: Path) -> None:
    rows = "\n".join(f"{i};{i * 1.5};{'a' if i % 2 else 'b'};{i % 3}" for i in range(1, 41))
    (tmp_path / "semi.csv").write_text(f"id;x;y;c\n{rows}\n", encoding="utf-8")
    init = tabops("init", "--data", "semi.csv", "--target", "y", "--delimiter", ";", "--json",
                  cwd=tmp_path)  # fmt: skip
    assert as_json(init)["spec"]["source"]["csv"]["delimiter"] == ";"
    ingested = as_json(tabops("ingest", "--json", cwd=tmp_path))
    assert (ingested["status"], ingested["rows_loaded"]) == ("loaded", 40)
    found = as_json(tabops("init", "--data", "semi.csv", "--target", "y", "-o", "found", "--json",
                           cwd=tmp_path))  # fmt: skip
    assert found["spec"]["source"]["csv"]["delimiter"] == ";"
    assert "separated by ';', not ','" in found["notes"][0]


def test_store_tables_cannot_be_overwritten(project: Path) -> None:
    result = tabops("ingest", "--set", "ingest.table=labels", cwd=project)
    assert_user_error(result, "ingest.table 'labels'")


def test_data_problems_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("a,b\n", encoding="utf-8")
    assert_user_error(
        tabops("init", "--data", "empty.csv", "--target", "b", cwd=tmp_path), "no rows"
    )
    (tmp_path / "one.csv").write_text("a,b\n1,x\n2,x\n", encoding="utf-8")
    assert_user_error(
        tabops("init", "--data", "one.csv", "--target", "b", cwd=tmp_path), "single value"
    )
    assert_user_error(tabops("ingest", cwd=tmp_path), "tabops.yaml")


def test_unreachable_postgres_names_the_store_and_hides_the_password(project: Path) -> None:
    url = "postgresql://tabops:s3cret@127.0.0.1:9/tabops"
    result = tabops("data", "history", cwd=project, env={"TABOPS_DATABASE_URL": url})
    assert_user_error(result, "127.0.0.1:9", "TABOPS_DATABASE_URL")
    assert "s3cret" not in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = tabops("--debug", "init", "--data", "missing.csv", "--target", "x", cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.mark.parametrize(
    "command",
    [(), ("init",), ("ingest",), ("spec",), ("quarantine", "list"), ("quarantine", "show"),
     ("quarantine", "export"), ("quarantine", "replay"), ("data", "history"),
     ("data", "batches"), ("examples", "export")],
)  # fmt: skip
def test_every_command_has_help(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = tabops(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "Usage:" in result.stdout
    assert "--json" in result.stdout or not command or command == ("quarantine",)


def test_run_json_reports_the_ingest_and_the_failure_when_training_fails(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i % 7}.5,{'yes' if i % 3 else 'no'}\n" for i in range(60))
    (tmp_path / "d.csv").write_text("id,x,label\n" + rows)
    assert tabops("init", "--data", "d.csv", "--target", "label", cwd=tmp_path).returncode == 0
    bad = "train.candidates=[{estimator: linear, params: {max_iter: -1}}]"
    result = tabops("run", "--trials", "1", "--set", bad, "--json", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert (document["ingest"]["status"], document["ingest"]["rows_loaded"]) == ("loaded", 60)
    assert document["train"] is None and document["register"] is None
    error = document["error"]
    assert (error["stage"], error["code"]) == ("train", "tabops_error")
    assert "Every trial of candidate 'linear' failed" in error["message"]
    assert "Every trial of candidate 'linear' failed" in " ".join(result.stderr.split())


def test_run_skips_training_when_the_champion_has_the_same_data_and_spec(tmp_path: Path) -> None:
    # x tells the label but for every 11th row: a model the gate promotes (not perfect, nor
    # worse than guessing)
    rows = "".join(
        f"{i},{i % 7}.5,{'yes' if (i % 7 >= 4) != (i % 11 == 0) else 'no'}\n" for i in range(200)
    )
    (tmp_path / "d.csv").write_text("id,x,label\n" + rows)
    assert tabops("init", "--data", "d.csv", "--target", "label", cwd=tmp_path).returncode == 0
    quick = ("--trials", "1", "--set", "train.cv_folds=2", "--json")
    first = as_json(tabops("run", *quick, cwd=tmp_path))
    assert first["register"]["version"] == "1" and first["unchanged"] is None

    again = tabops("run", *quick, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert document["ingest"]["status"] == "already_loaded"
    assert document["train"] is None and document["register"] is None
    assert document["unchanged"]["champion"] == "1"
    assert "--retrain" in document["unchanged"]["message"]

    forced = as_json(tabops("run", *quick, "--retrain", cwd=tmp_path))
    assert forced["unchanged"] is None and forced["register"]["version"] == "2"
    # Another spec is another model: trained without being asked.
    other_spec = ("--trials", "1", "--set", "train.cv_folds=3", "--json")
    other = as_json(tabops("run", *other_spec, "--force", cwd=tmp_path))
    assert other["unchanged"] is None and other["register"]["version"] == "3"
    # Version 3 misbehaves in production and is rolled back: the next scheduled run, on the
    # same data with the same spec, must not train its twin and undo the rollback.
    assert tabops("rollback", cwd=tmp_path).returncode == 0
    kept = as_json(tabops("run", *other_spec, cwd=tmp_path))
    assert kept["train"] is None and kept["unchanged"]["rolled_back"] == "3"
    assert "undo the rollback" in kept["unchanged"]["message"]
    assert kept["unchanged"]["champion"] != "3"


def test_numeric_classes_are_listed_and_output_in_numeric_order(tmp_path: Path) -> None:
    # Ratings 0-10: scikit-learn orders the classes as text (0, 1, 10, 2, ...); a user reads
    # them as numbers, in the spec and in the output's probability columns.
    rows = "".join(f"{i},{(i * 37) % 110 / 10:.1f},{(i * 37) % 110 // 10}\n" for i in range(440))
    (tmp_path / "d.csv").write_text("id,x,rating\n" + rows)
    init = tabops("init", "--data", "d.csv", "--target", "rating", "--json", cwd=tmp_path)
    classes = as_json(init)["spec"]["columns"]["rating"]["categories"]
    assert classes == [str(n) for n in range(11)]
    quick = ("--trials", "1", "--set", "train.cv_folds=2", "--set", "gate.allow_perfect=true")
    assert tabops("run", *quick, cwd=tmp_path).returncode in (0, 3)
    predicted = tabops("predict", "-i", "d.csv", "-o", "out.csv", "--json", cwd=tmp_path)
    assert as_json(predicted)["scored"] == 440
    with (tmp_path / "out.csv").open() as scored:
        header = next(csv.reader(scored))
    assert [c for c in header if c.startswith("probability_")] == [
        f"probability_{n}" for n in range(11)
    ]
