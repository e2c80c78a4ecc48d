"""The embedded registry read from its SQLite tables (what predict, monitor and serve use on
the default store) answers as MLflow's own client does, without importing mlflow."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tabops.errors import NotFoundError, RegistryError
from tabops.registry.models import CHAMPION, Registry, _version
from tabops.registry.sql import SqlReader, sql_reader
from tests.integration.serve.checks import check_registry_reads, shared_project
from tests.integration.serve.conftest import ServedProject

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return shared_project(tmp_path_factory)


@pytest.fixture
def registry(project: ServedProject) -> Registry:
    uri = project.settings.mlflow_uri
    assert uri.startswith("sqlite:///")
    return Registry(uri, project.spec.name)


def test_the_installed_mlflow_schema_is_read_from_its_tables(registry: Registry) -> None:
    # Fails when an MLflow upgrade changes the tables: then reads fall back to its client
    # (slower by seconds); look at the new schema and update tabops.registry.sql.
    assert isinstance(registry._reader, SqlReader)


def test_sql_reads_answer_as_the_mlflow_client(registry: Registry) -> None:
    check_registry_reads(registry)
    with pytest.raises(RegistryError, match="has no run 0123"):
        registry.run_summary("0123")


def test_deleted_versions_and_moved_aliases_read_as_mlflow_reads_them(registry: Registry) -> None:
    champion = registry.by_alias(CHAMPION)
    assert champion is not None
    client, name = registry.client, "sql-reader-check"
    client.create_registered_model(name)
    for _ in range(3):
        client.create_model_version(name, source=champion.source, run_id=champion.run_id)
    client.set_registered_model_alias(name, "a", "1")
    client.set_registered_model_alias(name, "b", "3")
    client.set_model_version_tag(name, "3", "k", "v")
    client.delete_model_version(name, "1")  # its alias goes with it
    client.delete_model_version(name, "3")

    other = Registry(registry.uri, name)
    assert isinstance(other._reader, SqlReader)
    assert other.by_alias("a") is None and other.by_alias("b") is None
    with pytest.raises(NotFoundError, match="has no version 3"):
        other.version("3")
    latest = other.by_alias("latest")  # MLflow's reserved alias: the highest live version
    assert latest is not None and latest.version == "2"
    assert latest == _version(client.get_model_version_by_alias(name, "latest"))


def test_other_stores_and_settings_leave_the_reads_to_mlflow(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sql_reader(f"sqlite:///{tmp_path / 'absent.db'}") is None
    assert not (tmp_path / "absent.db").exists()  # never created by a read
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE model_versions (name TEXT, version INTEGER)")
    assert sql_reader(f"sqlite:///{other}") is None  # another schema
    assert sql_reader(registry.uri) is not None
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")
    assert sql_reader(registry.uri) is None


def test_loading_the_champion_does_not_import_mlflow(project: ServedProject) -> None:
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from tabops.registry.models import CHAMPION, Registry\n"
        "from tabops.registry.compiled import load_predictor\n"
        "from tabops.model.columns import feature_names\n"
        "from tabops.spec import load_spec\n"
        "spec = load_spec(Path(sys.argv[2]))\n"
        "registry = Registry(sys.argv[1], spec.name)\n"
        "version = registry.by_alias(CHAMPION)\n"
        "predictor = load_predictor(registry, version, feature_names(spec))\n"
        "print(version.version, type(predictor).__name__, 'mlflow' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, project.settings.mlflow_uri, str(project.folder)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "OnnxPredictor", "False"]
