"""Shared fixtures: an embedded workspace per test, spec builders, example data, PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

from tabops.context import Context
from tabops.data.examples import export_example
from tabops.devtools.postgres import PostgresCluster, postgres_cluster
from tabops.settings import Settings
from tabops.spec import ProjectSpec, load_spec
from tests.scheduling import LongestGroupsFirst, add_group_suffix

# No Hypothesis test may fail because the machine is busy: no per-example deadline (200 ms by
# default) and no "generation too slow" health check. A test's own @settings still apply.
settings.register_profile("tabops", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tabops")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker with ``--dist loadgroup``: mark each test's group (tests/scheduling)."""
    if getattr(config.option, "loadgroup", False):
        add_group_suffix(items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` with the longest groups queued first (tests/scheduling.py)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    return LongestGroupsFirst(config, log)


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    """An embedded workspace (SQLite store, local snapshots) in a fresh folder."""
    return Context(settings=Settings(home=tmp_path / ".tabops"))


def small_spec_dict(path: str = "data.csv", **overrides: Any) -> dict[str, Any]:
    """A small classification spec: id, numeric, integer, categorical, boolean, target."""
    spec: dict[str, Any] = {
        "name": "small",
        "task": "classification",
        "target": "label",
        "positive_class": "yes",
        "source": {"path": path},
        "columns": {
            "id": {"type": "integer", "role": "id", "nullable": False, "unique": True},
            "amount": {"type": "numeric", "nullable": False, "min": 0, "max": 1000},
            "count": {"type": "integer", "nullable": True},
            "color": {"type": "categorical", "nullable": False, "categories": ["red", "blue"]},
            "flag": {"type": "boolean", "nullable": False},
            "label": {
                "type": "categorical", "role": "target", "nullable": False,
                "categories": ["no", "yes"],
            },
        },
        "contract": {"max_quarantine_rate": 0.5},
    }  # fmt: skip
    for key, value in overrides.items():
        spec[key] = value
    return spec


SMALL_HEADER = "id,amount,count,color,flag,label"


def write_project(folder: Path, csv_text: str, spec: dict[str, Any] | None = None) -> ProjectSpec:
    """Write ``data.csv`` and ``tabops.yaml`` into ``folder`` and load the spec."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.csv").write_text(csv_text, encoding="utf-8")
    (folder / "tabops.yaml").write_text(yaml.safe_dump(spec or small_spec_dict()))
    return load_spec(folder)


@pytest.fixture(scope="session")
def churn_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The IBM Telco churn CSVs (churn.csv, churn_update.csv), exported once per session."""
    folder = tmp_path_factory.mktemp("churn-data")
    export_example("churn", folder)
    return folder


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (one per test worker)."""
    with postgres_cluster() as cluster:
        yield cluster


_database_numbers = itertools.count(1)


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> str:
    """A fresh, empty database on the throwaway cluster."""
    return pg_cluster.create_database(f"test_{next(_database_numbers)}")


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark session (``local[2]``, loopback, no UI) per test worker; tests that
    use it are marked ``spark`` and grouped on one worker (``xdist_group("spark")``)."""
    from tabops.batch.spark import spark_session as start

    session = start("local[2]", memory="768m")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
