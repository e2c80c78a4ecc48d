"""``tabops synth fraud`` run as a user runs it: a subprocess, real files, exit codes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import yaml

from tests.e2e.test_cli import as_json, assert_user_error, tabops

SMALL = ("--days", "8", "--customers", "150", "--seed", "4")


def test_writes_parquet_files_and_a_json_summary(tmp_path: Path) -> None:
    summary = as_json(tabops("synth", "fraud", *SMALL, "-o", "out", "--json", cwd=tmp_path))
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["config.yaml", "drift_calendar.parquet", "labels.parquet",
                     "transactions.parquet"]  # fmt: skip
    tx = pd.read_parquet(tmp_path / "out" / "transactions.parquet")
    labels = pd.read_parquet(tmp_path / "out" / "labels.parquet")
    assert summary["transactions"] == len(tx) == len(labels) > 0
    assert summary["frauds"] == tx["is_fraud"].sum()
    assert (summary["seed"], summary["days"], summary["customers"]) == (4, 8, 150)
    assert summary["files"][0].endswith("transactions.parquet") and summary["tables"] == []
    written = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert (written["seed"], written["days"], written["n_customers"]) == (4, 8, 150)

    # Same seed, same data; the written config regenerates it too.
    as_json(tabops("synth", "fraud", *SMALL, "-o", "again", "--json", cwd=tmp_path))
    again = pd.read_parquet(tmp_path / "again" / "transactions.parquet")
    pd.testing.assert_frame_equal(tx, again)
    as_json(tabops("synth", "fraud", "-c", "out/config.yaml", "-o", "cfg", "--json", cwd=tmp_path))
    pd.testing.assert_frame_equal(tx, pd.read_parquet(tmp_path / "cfg" / "transactions.parquet"))


def test_config_file_with_a_drift_calendar_and_csv_output(tmp_path: Path) -> None:
    (tmp_path / "fraud.yaml").write_text(
        "n_customers: 120\ndays: 12\nseed: 9\n"
        "drift:\n"
        "  - {scenario: card_testing, start_day: 3, end_day: 5, cards_per_day: 2,"
        " transactions_per_card: 5}\n"
        "  - {scenario: null_column, start_day: 6, end_day: 12, column: merchant_category}\n"
    )
    result = tabops("synth", "fraud", "-c", "fraud.yaml", "--format", "csv", "-o", "csv",
                    cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Drift calendar" in result.stdout and "card_testing" in result.stdout
    calendar = pd.read_csv(tmp_path / "csv" / "drift_calendar.csv")
    assert calendar["scenario"].tolist() == ["card_testing", "null_column"]
    assert calendar["rows"].iloc[0] == 2 * 2 * 5
    tx = pd.read_csv(tmp_path / "csv" / "transactions.csv", parse_dates=["tx_datetime"])
    assert (tx["fraud_scenario"] == 4).sum() == 20
    day = (tx["tx_datetime"] - pd.Timestamp("2026-01-01")).dt.days
    assert tx.loc[day >= 6, "merchant_category"].isna().all()
    assert tx.loc[day < 6, "merchant_category"].notna().all()


def test_writes_tables_into_the_store(tmp_path: Path) -> None:
    env = {"TABOPS_HOME": str(tmp_path / "home")}
    summary = as_json(
        tabops("synth", "fraud", *SMALL, "--table", "bank", "--json", cwd=tmp_path, env=env)
    )
    assert summary["tables"] == ["bank", "bank_labels", "bank_drift"]
    assert summary["files"] == [] and not (tmp_path / "data").exists()
    with sqlite3.connect(tmp_path / "home" / "tabops.db") as conn:
        count = conn.execute("SELECT count(*) FROM bank").fetchone()[0]
        labels = conn.execute("SELECT count(*) FROM bank_labels").fetchone()[0]
    assert count == labels == summary["transactions"]


def test_bad_config_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "scenarios:\n  compromised_customers: {fraud_fraction: 1.5}\n  skimming: {}\n"
        "drift:\n  - {scenario: solar_flare, start_day: 1, end_day: 2}\n"
    )
    result = tabops("synth", "fraud", "-c", "bad.yaml", "-o", "out", cwd=tmp_path)
    assert_user_error(
        result,
        "bad.yaml is invalid (3 problem(s))",
        "scenarios.compromised_customers.fraud_fraction: Input should be less than or equal to 1",
        "scenarios.skimming: unknown fraud scenario",
        "drift.0: unknown scenario 'solar_flare'",
    )
    assert not (tmp_path / "out").exists()


def test_bad_options_are_clear_errors(tmp_path: Path) -> None:
    assert_user_error(
        tabops("synth", "fraud", "--format", "xlsx", cwd=tmp_path),
        "--format 'xlsx' is not valid; use parquet or csv",
    )
    assert_user_error(
        tabops("synth", "fraud", "--table", "x; DROP TABLE y", cwd=tmp_path),
        "--table x; DROP TABLE y: 'x; DROP TABLE y' is not a valid table name",
    )
    assert_user_error(
        tabops("synth", "fraud", "-c", "missing.yaml", cwd=tmp_path), "No fraud config at"
    )
    (tmp_path / "afile").write_text("")
    assert_user_error(tabops("synth", "fraud", "-o", "afile", cwd=tmp_path), "is a file")
    negative = tabops("synth", "fraud", "--days", "-1", cwd=tmp_path)
    assert negative.returncode == 2 and "--days" in negative.stderr
    assert not (tmp_path / "data").exists()


def test_help_describes_every_option(tmp_path: Path) -> None:
    result = tabops("synth", "fraud", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--config", "--days", "--customers", "--seed", "--output", "--format",
                   "--table", "--json", "Example:"):  # fmt: skip
        assert option in result.stdout
    assert "fraud" in tabops("synth", "--help", cwd=tmp_path).stdout
