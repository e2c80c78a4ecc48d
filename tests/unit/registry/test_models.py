"""Model versions named on the command line: anything but an existing version is NotFound."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.errors import NotFoundError
from tabops.registry.models import Registry

not_versions = st.one_of(
    st.integers(min_value=2**31).map(str),  # past MLflow's integer column
    st.integers(max_value=0).map(str),
    st.text(max_size=12).filter(lambda s: not (s.isascii() and s.isdigit())),
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    folder: Path = tmp_path_factory.mktemp("registry")
    return Registry(f"sqlite:///{folder / 'mlflow.db'}", "demo")


@settings(max_examples=50, deadline=None)
@given(version=not_versions)
def test_strings_that_are_no_version_number_are_not_found(registry: Registry, version: str) -> None:
    with pytest.raises(NotFoundError, match="versions are whole numbers from 1 up"):
        registry.version(version)


@pytest.mark.parametrize("version", ["1", "2147483647"])
def test_a_missing_version_in_range_is_not_found(registry: Registry, version: str) -> None:
    with pytest.raises(NotFoundError, match=f"Model demo has no version {version}"):
        registry.version(version)
