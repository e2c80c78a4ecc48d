"""Cross-validation folds that cannot be scored, and failing trials, are reported once, clearly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tabops.context import Context
from tabops.errors import DataError, TabopsError
from tabops.model.train import run_train
from tabops.model.tune import cv_folds
from tests.unit.model.conftest import (
    RecordingTracking,
    add_snapshot,
    synthetic_spec,
    synthetic_table,
)


@given(
    counts=st.lists(st.integers(1, 8), min_size=2, max_size=3),
    folds=st.integers(2, 6),
    time_ordered=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_classification_folds_hold_every_class_or_the_error_says_what_to_do(
    counts: list[int], folds: int, time_ordered: bool, seed: int
) -> None:
    y = np.random.default_rng(seed).permutation(np.repeat(["a", "b", "c"][: len(counts)], counts))
    try:
        split = cv_folds(synthetic_spec(cv_folds=folds), y, time_ordered)
    except DataError as exc:
        assert f"train.cv_folds={folds}" in str(exc) or f"into {folds} folds" in str(exc)
        assert "lower train.cv_folds" in str(exc)
        return
    assert len(split) == folds
    for train, valid in split:
        assert len(set(y[train])) >= 2 and len(set(y[valid])) >= 2


@given(rows=st.integers(1, 12), folds=st.integers(2, 6), time_ordered=st.booleans())
def test_regression_folds_exist_or_the_error_says_what_to_do(
    rows: int, folds: int, time_ordered: bool
) -> None:
    y = np.arange(rows, dtype=float)
    try:
        split = cv_folds(synthetic_spec("regression", cv_folds=folds), y, time_ordered)
    except DataError as exc:
        assert f"Cannot split {rows} training rows into {folds} folds" in str(exc)
        return
    assert len(split) == folds and all(len(t) and len(v) for t, v in split)


def test_failing_trials_report_the_reason_once_without_tracebacks(
    ctx: Context, tracking: RecordingTracking, capfd: pytest.CaptureFixture[str]
) -> None:
    spec = synthetic_spec(candidates=[{"estimator": "linear", "params": {"max_iter": -1}}])
    add_snapshot(ctx, spec, synthetic_table(120))
    with pytest.raises(TabopsError, match=r"Every trial of candidate 'linear' failed \(Invalid"):
        run_train(spec, ctx, tracking)
    printed = capfd.readouterr()
    assert "Traceback" not in printed.err + printed.out
    assert "failed with" not in printed.err + printed.out  # Optuna's own per-trial warning


def test_folds_are_checked_before_any_candidate_run_opens(
    ctx: Context, tracking: RecordingTracking
) -> None:
    spec = synthetic_spec(cv_folds=20)
    add_snapshot(ctx, spec, synthetic_table(30))  # 24 training rows: < 20 of one class
    with pytest.raises(DataError, match=r"for train\.cv_folds=20"):
        run_train(spec, ctx, tracking)
    assert tracking.runs == {}


def test_the_decision_threshold_is_chosen_on_the_training_rows_out_of_fold() -> None:
    from tabops.model.candidates import FAMILIES, fit
    from tabops.model.frame import model_frame, target_values
    from tabops.model.metrics import max_f1_threshold
    from tabops.model.tune import build_pipeline, tune

    spec = synthetic_spec(trials=1)
    table = synthetic_table(300)
    x, y = model_frame(table, spec), target_values(table, spec)
    folds = cv_folds(spec, y, time_ordered=False)
    family = FAMILIES[spec.task]["linear"]
    tuning = tune(spec, family, {}, x, y, folds, _ignore, _ignore)
    truth, scores = [], []
    for train_rows, valid_rows in folds:  # the best (only) trial's folds, scored again
        pipeline = build_pipeline(spec, family, tuning.best_params)
        fit(pipeline, x.iloc[train_rows], y[train_rows])
        scores.append(pipeline.predict_proba(x.iloc[valid_rows])[:, 1])
        truth.append((y[valid_rows] == "yes").astype(int))
    expected = max_f1_threshold(np.concatenate(truth), np.concatenate(scores))
    assert tuning.threshold == pytest.approx(expected)
    regression = synthetic_spec("regression", trials=1)
    x, values = model_frame(table, regression), target_values(table, regression)
    folds = cv_folds(regression, values, time_ordered=False)
    linear = FAMILIES[regression.task]["linear"]
    assert tune(regression, linear, {}, x, values, folds, _ignore, _ignore).threshold is None


def _ignore(trial: object) -> None:
    """A trial sink and a progress bar that keep nothing."""
