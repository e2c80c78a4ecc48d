"""Environment settings: a bad variable is a clear error naming it, before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabops.errors import TabopsError
from tabops.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "TABOPS_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
        "TABOPS_DATABASE_URL",
        "TABOPS_STORAGE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TABOPS_HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("variable", ["MLFLOW_TRACKING_URI", "TABOPS_TRACKING_URI"])
@pytest.mark.parametrize(
    "uri", ["mysql://u:p@h/db", "ftp://host/x", "file:///tmp/mlruns", "./mlruns", "databricks"]
)
def test_unsupported_tracking_uris_name_the_variables_and_what_works(
    monkeypatch: pytest.MonkeyPatch, variable: str, uri: str
) -> None:
    monkeypatch.setenv(variable, uri)
    with pytest.raises(TabopsError) as error:
        load_settings()
    message = str(error.value)
    assert "TABOPS_TRACKING_URI or MLFLOW_TRACKING_URI" in message
    assert (
        "http://host:5000" in message and "sqlite:///" in message and "TABOPS_TABOPS" not in message
    )


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:5000", "https://mlflow.example", "sqlite:///x.db",
            "postgresql://u:p@h/db", "postgresql+psycopg2://h/db"],
)  # fmt: skip
def test_supported_tracking_uris_pass(monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert load_settings().mlflow_uri == uri


@pytest.mark.parametrize("below", ["file", "file/a/b"])
def test_a_workspace_below_a_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, below: str
) -> None:
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("TABOPS_HOME", str(tmp_path / below))
    with pytest.raises(TabopsError, match=r"TABOPS_HOME: .*file is a file; the workspace must be"):
        load_settings()


def test_files_live_in_the_workspace_unless_a_storage_url_is_set(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.storage == str(tmp_path / "home") and not settings.remote_storage
    assert settings.snapshots("churn") == str(tmp_path / "home" / "snapshots" / "churn")


def test_an_s3_storage_url_holds_the_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABOPS_STORAGE_URL", "s3://bucket/tabops/")
    settings = load_settings()
    assert settings.remote_storage
    assert settings.snapshots("churn") == "s3://bucket/tabops/snapshots/churn"


def test_a_local_storage_folder_is_made_absolute_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TABOPS_STORAGE_URL", "shared/files")
    assert load_settings().storage == str(tmp_path / "shared" / "files")


def test_a_storage_url_without_a_bucket_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABOPS_STORAGE_URL", "s3://")
    with pytest.raises(TabopsError, match=r"TABOPS_STORAGE_URL: .*names no bucket"):
        load_settings()


@pytest.mark.parametrize(
    "name", ["fixes.csv", "out/scores.parquet", "/srv/x.csv", "s3://other/x.csv", "", "../up.csv"]
)
def test_without_a_storage_url_outputs_go_where_named(name: str) -> None:
    settings = load_settings()
    assert settings.artifacts("exports", "churn") is None
    assert settings.placed(name, "exports", "churn") == name


def test_with_a_storage_url_relative_outputs_go_to_their_kinds_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TABOPS_STORAGE_URL", "s3://bucket/tabops/")
    settings = load_settings()
    assert settings.placed("fixes.csv", "exports", "churn") == (
        "s3://bucket/tabops/exports/churn/fixes.csv"
    )
    assert settings.placed("./out/scores", "batch", "churn") == (
        "s3://bucket/tabops/batch/churn/out/scores"
    )
    assert settings.artifacts("reports", "churn") == "s3://bucket/tabops/reports/churn"
    for given in ("/srv/report.html", "s3://other/report.html"):  # said where: used as given
        assert settings.placed(given, "reports", "churn") == given
    with pytest.raises(TabopsError, match=r"'\.\./up\.csv' climbs out of the storage folder"):
        settings.placed("../up.csv", "exports", "churn")


def test_a_local_storage_folder_takes_relative_outputs_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TABOPS_STORAGE_URL", str(tmp_path / "files"))
    assert load_settings().placed("r.html", "reports", "p") == str(
        tmp_path / "files" / "reports" / "p" / "r.html"
    )
    assert (tmp_path / "files" / "reports" / "p").is_dir()  # the user named a file, not it
