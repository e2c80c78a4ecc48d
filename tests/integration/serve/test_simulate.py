"""tabops simulate against a real running server and a real PostgreSQL table; the fraud
example's rules and decision policy in serving responses and the prediction log."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.integration.serve.conftest import TABOPS, ServedProject, free_port, running_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fraud")]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fraud"


def _tabops(folder: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TABOPS, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    """The fraud example on a small generated period, trained quickly and registered."""
    folder = tmp_path_factory.mktemp("fraud")
    for name in ("tabops.yaml", "rules.yaml", "synth.yaml"):
        shutil.copy(EXAMPLE / name, folder / name)
    project = ServedProject(folder, folder / ".tabops")
    env = project.env()
    made = _tabops(folder, "synth", "fraud", "--config", "synth.yaml", "--days", "20",
                   "--customers", "400", "--seed", "3",
                   "-o", "data/train", "--format", "csv", env=env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    run = _tabops(folder, "run", "--set", "train.trials=1", "--set", "train.cv_folds=2",
                  "--set", "evaluate.slices=[]", env=env)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return project


def test_simulation_streams_to_a_server_and_releases_labels_late(fraud: ServedProject) -> None:
    # Labels an hour (frauds) or two (legitimate) after their transaction. The simulated clock
    # follows the transactions answered (not the wall clock), so however slow the machine, the
    # labels due by the last transaction's time are released and the later ones stay pending.
    config = fraud.folder / "sim.yaml"
    config.write_text(
        "history_features: true\nmaturity_days: 0.08\n"
        "label_delay: {distribution: fixed, days: 0.04}\n"
    )
    with running_server(fraud) as server:
        result = _tabops(
            fraud.folder, "simulate", "--to", server.url, "--config", str(config), "--days", "5",
            "--customers", "100", "--seed", "4", "--start-date", "2026-02-01",
            "--day-seconds", "1", "--count", "400", "--json", env=fraud.env(),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        stats = json.loads(result.stdout)
        assert server.stop() == 0
    assert stats["sent"] == stats["answered"] == 400 and stats["errors"] == 0
    assert stats["rules_fired"] > 0 and set(stats["decisions"]) <= {"approve", "review", "reject"}
    assert stats["labels_released"] > 0 and stats["labels_pending"] > 0
    assert stats["labels_released"] + stats["labels_pending"] == 400
    assert stats["labels_unknown"] == 0  # every label's prediction was answered and logged
    with sqlite3.connect(fraud.home / "tabops.db") as db:
        logged = db.execute(
            "SELECT count(*), count(DISTINCT request_id) FROM predictions "
            "WHERE request_id LIKE 'tx-%'"
        ).fetchone()
        labels = db.execute("SELECT count(*) FROM labels WHERE source = 'simulate'").fetchone()
        rules = db.execute("SELECT rules, decision FROM predictions LIMIT 1").fetchone()
    assert logged == (400, 400)
    assert labels[0] == stats["labels_released"]
    assert json.loads(rules[0])["version"] == "1" and rules[1] in ("approve", "review", "reject")


def test_the_monitor_rules_decide_in_serving(fraud: ServedProject) -> None:
    from fastapi.testclient import TestClient

    from tabops.serve.app import create_app
    from tabops.synth.features import history_feature_names

    record = {"card_type": "Visa", "account_blacklisted": False, "merchant_category": "travel",
              "transaction_type": "real-time", "card_present": True, "amount": 150.0,
              **{name: 0 for name in history_feature_names()}}  # fmt: skip
    with TestClient(create_app(fraud.spec, fraud.settings)) as client:
        big = client.post("/predict", json=record).json()
        blacklisted = client.post(
            "/predict", json={**record, "amount": 20.0, "account_blacklisted": True}
        ).json()
        settled = client.post(
            "/predict", json={**record, "amount": 20.0, "transaction_type": "settlement"}
        ).json()
    assert [f["id"] for f in big["rules"]["fired"]] == ["Rule 1", "Rule 3"]
    assert big["decision"] == "reject"
    assert [f["id"] for f in blacklisted["rules"]["fired"]] == ["Rule 2", "Rule 3"]
    assert blacklisted["rules"]["fired"][0]["explanation"] == "Blacklisted card"
    assert blacklisted["decision"] == "reject"
    assert settled["rules"]["fired"] == []
    expected = "reject" if settled["score"] >= settled["threshold"] else None
    assert settled["decision"] in ((expected,) if expected else ("approve", "review"))


def test_simulation_into_a_postgresql_table(fraud: ServedProject, pg_url: str) -> None:
    env = fraud.env(TABOPS_DATABASE_URL=pg_url)
    result = _tabops(
        fraud.folder, "simulate", "--table", "banking_data", "--days", "3", "--customers", "300",
        "--count", "250", "--rate", "2000", "--json", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    stats = json.loads(result.stdout)
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM banking_data")).scalar_one()
        columns = [r[0] for r in conn.execute(sa.text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'banking_data'"))]  # fmt: skip
        labels = conn.execute(sa.text("SELECT count(*) FROM labels")).scalar_one()
        decided = conn.execute(sa.text(
            "SELECT decision, fired_rules, explanation, amount, account_blacklisted, "
            "transaction_type FROM banking_data")).all()  # fmt: skip
    engine.dispose()
    assert rows == stats["sent"] == 250
    assert "is_fraud" not in columns and "amount" in columns  # no ground truth in the stream
    assert labels == stats["labels_released"]
    # The project's rules.yaml decided every row, as the monitor's decision panels need.
    counts: dict[str, int] = {}
    for decision, fired, explanation, amount, blacklisted, kind in decided:
        counts[decision] = counts.get(decision, 0) + 1
        realtime = kind == "real-time"
        expected = [rule for rule, hit in (
            ("Rule 1", realtime and amount > 100 and not blacklisted),
            ("Rule 2", realtime and blacklisted), ("Rule 3", realtime)) if hit]  # fmt: skip
        assert fired == ",".join(expected)
        assert decision == ("reject" if {"Rule 1", "Rule 2"} & set(expected) else "approve")
        if "Rule 2" in expected and "Rule 1" not in expected:
            assert explanation == "Blacklisted card"
        assert (explanation is None) == (not expected)
    assert counts == stats["decisions"] and set(counts) <= {"approve", "reject"}


@pytest.mark.parametrize(
    ("target", "message"),
    [("http://10.1.2.3:8000", "only target a server"),
     ("http://127.0.0.1:{closed}", "no server answers")],
)  # fmt: skip
def test_bad_targets_are_clear_errors(fraud: ServedProject, target: str, message: str) -> None:
    target = target.format(closed=free_port())  # a port nothing listens on
    result = _tabops(fraud.folder, "simulate", "--to", target, "--days", "2", "--customers",
                     "100", env=fraud.env())  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
