"""A package missing from a serving-only install is named with the extra that provides it."""

from __future__ import annotations

import pytest

from tabops.extras import missing_extra


@pytest.mark.parametrize(
    ("module", "extra"),
    [("sklearn.pipeline", "train"), ("optuna", "train"), ("mlflow", "serve"),
     ("xgboost", "xgboost"), ("pyspark.sql", "spark")],
)  # fmt: skip
def test_a_package_of_an_optional_group_names_its_extra(module: str, extra: str) -> None:
    message = missing_extra(ModuleNotFoundError(f"No module named '{module}'", name=module))
    assert message is not None and f"pip install 'tabops[{extra}]'" in message


def test_anything_else_is_not_explained_as_a_missing_extra() -> None:
    assert missing_extra(ModuleNotFoundError("No module named 'numpy'", name="numpy")) is None
    assert missing_extra(ImportError("cannot import name 'x'")) is None
    assert missing_extra(ValueError("sklearn")) is None
