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
from tabops.data.leakage import leak_reason, linear_leak, pair_leaks
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


def test_running_totals_are_judged_by_their_steps() -> None:
    # A daily series: tests and cases to date grow as deaths to date do, leak or not.
    daily_deaths = pd.Series(RNG.poisson(5, size=N).astype(float))
    deaths = daily_deaths.cumsum()
    tests = pd.Series(RNG.poisson(900, size=N).astype(float)).cumsum()
    assert leak_reason(tests, ColumnType.NUMERIC, deaths, Task.REGRESSION, None) is None
    corrected = tests.copy()
    corrected[[50, 120, 300]] -= 2000  # counts revised down now and then
    assert leak_reason(corrected, ColumnType.NUMERIC, deaths, Task.REGRESSION, None) is None
    assert linear_leak({"tests": tests}, deaths)[0] == []
    parts = {
        "home": (daily_deaths // 2).cumsum(),
        "hospital": (daily_deaths - daily_deaths // 2).cumsum(),
    }
    assert sorted(linear_leak({"tests": tests, **parts}, deaths)[0]) == ["home", "hospital"]
    copied = deaths * 1.0 + 0.5  # deaths to date, kept in another column: still a leak
    reason = leak_reason(copied, ColumnType.NUMERIC, deaths, Task.REGRESSION, None)
    assert reason == (
        "rank correlation 1.000 of its changes from row to row (both are running totals) with "
        "the target on its own"
    )


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


def _genotypes() -> tuple[pd.Series, pd.Series, pd.Series]:
    """Counts of two alleles (0-2 each) and the genotype they spell: neither count alone
    tells the genotype, both together do (the PD data's apoe2/apoe3/apoe)."""
    first = RNG.integers(0, 3, N)
    second = np.minimum(RNG.integers(0, 3, N), 2 - first)
    names = {(a, b): f"{'2' * a}{'3' * b}{'4' * (2 - a - b)}" for a in range(3) for b in range(3)}
    genotype = [names[a, b] for a, b in zip(first.tolist(), second.tolist(), strict=True)]
    return pd.Series(first.astype(str)), pd.Series(second.astype(str)), pd.Series(genotype)


def test_a_pair_that_spells_out_the_class_is_found_and_neither_column_alone() -> None:
    first, second, genotype = _genotypes()
    for column in (first, second):
        assert leak_reason(column, ColumnType.CATEGORICAL, genotype, Task.CLASSIFICATION,
                           None) is None  # fmt: skip
    noise = pd.Series(RNG.choice(["a", "b", "c"], N))
    [(a, b, share)] = pair_leaks({"noise": noise, "e2": first, "e3": second}, genotype)
    assert (a, b, share) == ("e2", "e3", 1.0)


def test_honest_pairs_and_pairs_of_many_combinations_are_not_leaks() -> None:
    strong = pd.Series(np.where((LABELS == "yes") ^ (RNG.random(N) < 0.1), "hi", "lo"))
    other = pd.Series(RNG.choice(["x", "y"], N))
    assert pair_leaks({"strong": strong, "other": other}, LABELS) == []  # 90%, not 99.5%
    # 20 x 20 combinations over 400 rows: one row each, which "determines" any label.
    wide = pd.Series(np.arange(N) % 20).astype(str)
    tall = pd.Series(np.arange(N) // 20).astype(str)
    assert pair_leaks({"wide": wide, "tall": tall}, LABELS) == []


def test_init_warns_of_a_leaking_pair_and_keeps_both_columns() -> None:
    first, second, genotype = _genotypes()
    table = pa.table({"e2": first.tolist(), "e3": second.tolist(),
                      "age": [f"{v:.1f}" for v in RNG.normal(60, 10, N)],
                      "genotype": genotype.tolist()})  # fmt: skip
    inference = infer_spec(table, SourceSpec(path="x.csv"), "genotype", None, "p")
    [warning] = inference.warnings
    assert "'e2' with 'e3' (100.0%)" in warning and "set its role to ignored" in warning
    assert inference.spec.columns["e2"].role == ColumnRole.FEATURE
    assert inference.spec.columns["e3"].role == ColumnRole.FEATURE


def test_a_target_that_is_a_weighted_sum_of_features_is_found() -> None:
    # Cars93: Price is the mean of Min.Price and Max.Price (with missing values here and there).
    low = pd.Series(RNG.uniform(5, 40, N))
    high = low + pd.Series(RNG.uniform(0, 20, N))
    price = (low + high) / 2
    noise = pd.Series(RNG.normal(size=N))
    low[::17] = np.nan
    found, r2 = linear_leak({"noise": noise, "low": low, "high": high}, price)
    assert sorted(found) == ["high", "low"] and r2 > 0.9999
    honest = price + pd.Series(RNG.normal(scale=5, size=N))  # related, not computed
    assert linear_leak({"noise": noise, "low": low, "high": high}, honest)[0] == []


def test_init_warns_of_a_sum_that_makes_the_target_and_keeps_its_columns() -> None:
    low = RNG.uniform(5, 40, N)
    high = low + RNG.uniform(0, 20, N)
    table = pa.table({"low": [f"{v:.4f}" for v in low], "high": [f"{v:.4f}" for v in high],
                      "weight": [f"{v:.1f}" for v in RNG.normal(1500, 200, N)],
                      "price": [f"{v:.4f}" for v in (low + high) / 2]})  # fmt: skip
    inference = infer_spec(table, SourceSpec(path="x.csv"), "price", None, "p")
    [warning] = inference.warnings
    assert warning.startswith("A weighted sum of 'high', 'low'") or warning.startswith(
        "A weighted sum of 'low', 'high'"
    )
    assert inference.spec.columns["low"].role == ColumnRole.FEATURE
