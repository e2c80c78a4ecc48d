"""Target leakage at init: a column that is the label, or computed from it, is found; strong but
honest features, ids and near-constant targets are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.data.infer import infer_spec
from tabops.data.leakage import leak_reason
from tabops.spec import ColumnRole, ColumnType, SourceSpec, Task

RNG = np.random.default_rng(3)
N = 400
LABELS = pd.Series(np.where(RNG.random(N) < 0.3, "yes", "no"))
TARGET = pd.Series(RNG.normal(size=N) * 10)


def _classify(values: pd.Series, kind: ColumnType) -> str | None:
    return leak_reason(values, kind, LABELS, Task.CLASSIFICATION, "yes")


@given(st.sampled_from(["copy", "code", "inverse", "noisy_copy"]))
def test_the_label_and_functions_of_it_are_found(how: str) -> None:
    positive = (LABELS == "yes").to_numpy()
    values, kind = {
        "copy": (LABELS.map({"yes": "Y", "no": "N"}), ColumnType.CATEGORICAL),
        "code": (pd.Series(positive.astype(float)), ColumnType.INTEGER),
        "inverse": (pd.Series(np.where(positive, -1.0, 1.0) * RNG.random(N)), ColumnType.NUMERIC),
        # the label with 1 of 400 rows flipped is still a leak (99.75% > 99.5%)
        "noisy_copy": (LABELS.where(LABELS.index != 0, "other"), ColumnType.CATEGORICAL),
    }[how]
    assert _classify(values, kind) is not None


def test_strong_honest_features_ids_and_constant_targets_are_not_leaks() -> None:
    signal = (LABELS == "yes").astype(float) + RNG.normal(scale=0.5, size=N)
    assert _classify(signal, ColumnType.NUMERIC) is None  # AUC ~0.9: strong, not perfect
    ids = pd.Series([f"c{i}" for i in range(N)])
    assert _classify(ids, ColumnType.CATEGORICAL) is None  # unique values memorise anything
    constant = pd.Series(["no"] * (N - 1) + ["yes"])
    assert leak_reason(constant, ColumnType.CATEGORICAL, constant, Task.CLASSIFICATION,
                       "yes") is None  # fmt: skip
    few = LABELS[:20]  # the label itself, but too few rows to judge
    assert leak_reason(few, ColumnType.CATEGORICAL, few, Task.CLASSIFICATION, "yes") is None


@settings(max_examples=20)
@given(st.floats(0.1, 100), st.floats(-100, 100))
def test_regression_targets_leak_through_monotone_functions(scale: float, shift: float) -> None:
    assert leak_reason(TARGET * scale + shift, ColumnType.NUMERIC, TARGET,
                       Task.REGRESSION, None) is not None  # fmt: skip
    noisy = TARGET + RNG.normal(scale=10, size=N)
    assert leak_reason(noisy, ColumnType.NUMERIC, TARGET, Task.REGRESSION, None) is None


def test_missing_values_are_left_out_not_counted_against_the_column() -> None:
    values = LABELS.map({"yes": 1.0, "no": 0.0}).where(LABELS.index % 7 != 0)
    assert _classify(values, ColumnType.NUMERIC) is not None


def test_a_column_filled_only_after_the_outcome_leaks_through_being_there() -> None:
    # A cause of death, recorded for those who died: its values tell nothing among them.
    cause = pd.Series(RNG.choice(["heart", "cancer"], N)).where(LABELS == "yes")
    assert _classify(cause, ColumnType.CATEGORICAL) == (
        "whether it is missing determines 100.0% of the target on its own"
    )
    honest = pd.Series(RNG.choice(["a", "b"], N)).where(RNG.random(N) < 0.7)
    assert _classify(honest, ColumnType.CATEGORICAL) is None  # missing at random
    unlabelled = LABELS.where(LABELS.index % 9 != 0)  # rows without a label are left out
    assert leak_reason(cause, ColumnType.CATEGORICAL, unlabelled, Task.CLASSIFICATION,
                       "yes") is not None  # fmt: skip


@pytest.mark.parametrize("task", [Task.CLASSIFICATION, None])
def test_init_ignores_a_leaking_column_and_says_so(task: Task | None) -> None:
    positive = (LABELS == "yes").to_numpy()
    table = pa.table({
        "amount": [f"{v:.3f}" for v in RNG.normal(size=N)],
        "refunded": np.where(positive, "true", "false").tolist(),
        "churned": LABELS.tolist(),
    })  # fmt: skip
    inference = infer_spec(table, SourceSpec(path="x.csv"), "churned", task, "p")
    refunded = inference.spec.columns["refunded"]
    assert refunded.role == ColumnRole.IGNORED
    assert "leakage" in inference.reasons["refunded"]
    [warning] = inference.warnings
    assert "'refunded'" in warning and "set its role to feature" in warning
    assert inference.spec.columns["amount"].role == ColumnRole.FEATURE
