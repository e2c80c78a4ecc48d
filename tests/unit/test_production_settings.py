"""Production mode refuses empty and default credentials (Y2), naming the setting and the
fix, without printing the value; secrets can come from files (TABOPS_<NAME>_FILE)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tabops.errors import TabopsError
from tabops.settings import Settings, load_settings, production_problems

GOOD_DB = "postgresql://tabops:Vq3-xr8kLw2pZ0ts@db.internal:5432/tabops"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("TABOPS_", "MLFLOW_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TABOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TABOPS_ENV", "production")


def _refused(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(TabopsError) as error:
        load_settings()
    return " ".join(str(error.value).split())


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("postgresql://tabops@db:5432/tabops", "has no password"),
        ("postgresql://tabops:@db:5432/tabops", "has no password"),
        ("postgresql+psycopg://postgres:postgres@db/tabops", "default password"),
        ("postgresql://u:ChangeMe@db/tabops", "default password"),
    ],
)
def test_store_url_without_a_real_password_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str, named: str
) -> None:
    message = _refused(monkeypatch, TABOPS_DATABASE_URL=url)
    assert "TABOPS_DATABASE_URL" in message and named in message
    assert "ChangeMe" not in message  # the value itself is never repeated


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MLFLOW_TRACKING_URI": "http://admin:password1234@mlflow:5000"}, "default password"),
        ({"MLFLOW_TRACKING_URI": "https://admin:@mlflow"}, "empty password"),
        ({"TABOPS_TRACKING_URI": "postgresql://mlflow@db/mlflow"}, "has no password"),
        ({"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "password1234"},
         "MLFLOW_TRACKING_PASSWORD"),
        ({"MLFLOW_TRACKING_USERNAME": "admin"}, "MLFLOW_TRACKING_PASSWORD"),
    ],
)  # fmt: skip
def test_tracking_credentials_are_checked(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    message = _refused(monkeypatch, **env)
    assert named in message
    assert "TABOPS_TRACKING_URI or MLFLOW_TRACKING_URI" in message or "MLFLOW_TRACKING_" in message


class WithStorage(Settings):
    """Settings with an object-storage location, as the storage setting adds one."""

    storage_url: str | None = None


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AWS_ACCESS_KEY_ID": "minioadmin", "AWS_SECRET_ACCESS_KEY": "minioadmin"}, "default"),
        ({"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
          "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, "default"),
        ({"AWS_ACCESS_KEY_ID": "tabops-writer", "AWS_SECRET_ACCESS_KEY": " "}, "not empty"),
        ({"AWS_ACCESS_KEY_ID": "tabops-writer"}, "both be set"),
        ({"AWS_ENDPOINT_URL": "http://minio:9000"}, "needs credentials"),
    ],
)  # fmt: skip
def test_s3_keys_are_checked_when_a_location_is_in_s3(env: dict[str, str], named: str) -> None:
    problems = production_problems(WithStorage(storage_url="s3://bucket/tabops"), env)
    assert len(problems) == 1 and named in problems[0] and "AWS_" in problems[0]
    assert not production_problems(WithStorage(storage_url="/data/tabops"), env)  # not S3


@pytest.mark.parametrize(
    "env",
    [
        {"AWS_ACCESS_KEY_ID": "AKIA4TABOPSWRITER01", "AWS_SECRET_ACCESS_KEY": "k" * 40},
        {},  # AWS's own chain: an instance role
        {"AWS_ENDPOINT_URL_S3": "http://minio:9000", "AWS_SHARED_CREDENTIALS_FILE": "/run/aws"},
    ],
    ids=["keys", "instance role", "credentials file"],
)
def test_real_s3_credentials_pass(env: dict[str, str]) -> None:
    assert production_problems(WithStorage(storage_url="s3://bucket/tabops"), env) == []


def test_real_credentials_pass_and_embedded_mode_checks_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TABOPS_DATABASE_URL", GOOD_DB)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert load_settings().database_url == GOOD_DB
    monkeypatch.setenv("TABOPS_ENV", "embedded")
    monkeypatch.setenv("TABOPS_DATABASE_URL", "postgresql://postgres:postgres@localhost/x")
    assert load_settings().env == "embedded"


def test_every_problem_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refused(
        monkeypatch,
        TABOPS_DATABASE_URL="postgresql://tabops@db/tabops",
        MLFLOW_TRACKING_URI="http://admin:admin@mlflow:5000",
    )
    assert "TABOPS_DATABASE_URL" in message and "TABOPS_TRACKING_URI" in message


def test_settings_are_read_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "db").write_text(GOOD_DB + "\n")
    (tmp_path / "keys").write_text("pk-first-0c6f1d2a9b7e4f35\npk-second-8e21b3c4d5f60718\n")
    monkeypatch.setenv("TABOPS_DATABASE_URL_FILE", str(tmp_path / "db"))
    monkeypatch.setenv("TABOPS_API_KEYS_FILE", str(tmp_path / "keys"))
    monkeypatch.setenv("TABOPS_TRACKING_URI_FILE", str(tmp_path / "db"))
    settings = load_settings()
    assert settings.database_url == GOOD_DB == settings.tracking_uri  # newline dropped
    assert [k.get_secret_value() for k in settings.api_keys] == [
        "pk-first-0c6f1d2a9b7e4f35", "pk-second-8e21b3c4d5f60718"]  # fmt: skip


def test_a_secret_file_and_its_variable_together_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "key").write_text("ak-admin-5a4b3c2d1e0f9a8b")
    message = _refused(
        monkeypatch,
        TABOPS_ADMIN_KEY="ak-other-5a4b3c2d1e0f9a8b",
        TABOPS_ADMIN_KEY_FILE=str(tmp_path / "key"),
    )
    assert "TABOPS_ADMIN_KEY or TABOPS_ADMIN_KEY_FILE, not both" in message
    monkeypatch.delenv("TABOPS_ADMIN_KEY")
    message = _refused(monkeypatch, TABOPS_ADMIN_KEY_FILE=str(tmp_path / "missing"))
    assert "TABOPS_ADMIN_KEY_FILE" in message and "missing" in message
