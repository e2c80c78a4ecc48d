from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from tabops.errors import SpecError
from tabops.model.candidates import family
from tabops.model.evaluate import (
    behavioural_checks,
    cost_threshold,
    evaluate,
    predictions,
    slice_metrics,
)
from tabops.model.frame import model_frame, target_values
from tabops.model.tune import build_pipeline
from tabops.spec import CostSpec, ProjectSpec, parse_spec
from tests.unit.model.conftest import synthetic_spec, synthetic_table


def _with_evaluate(**evaluate_section: Any) -> ProjectSpec:
    raw = synthetic_spec().model_dump(mode="json", exclude_none=True)
    raw["positive_class"] = "yes"
    raw["evaluate"] = evaluate_section
    return parse_spec(raw)


def _fitted(spec: ProjectSpec) -> tuple[Pipeline, Any, np.ndarray, Any]:
    table = synthetic_table(600)
    x, y = model_frame(table, spec), target_values(table, spec)
    chosen = family(spec.train.candidates[0], spec.task, 0)
    return build_pipeline(spec, chosen, {}).fit(x, y), x, y, table.to_pandas()


def test_cost_threshold_minimises_total_cost() -> None:
    truth = np.array([0, 0, 1, 0, 1, 1])
    score = np.array([0.1, 0.2, 0.3, 0.4, 0.8, 0.9])
    # Missing a positive costs 10, a false alarm 1: flag down to 0.3 (one false alarm at 0.4).
    assert cost_threshold(truth, score, CostSpec(false_positive=1, false_negative=10)) == 0.3
    # False alarms cost 10: flag only the two sure ones.
    assert cost_threshold(truth, score, CostSpec(false_positive=10, false_negative=1)) == 0.8
    nothing = cost_threshold(
        np.zeros(3, int), score[:3], CostSpec(false_positive=1, false_negative=1)
    )
    assert nothing > 0.3  # flag nothing


def test_costs_set_the_decision_threshold() -> None:
    spec = _with_evaluate(costs={"false_positive": 1, "false_negative": 20})
    pipeline, x, y, _ = _fitted(spec)
    cheap_misses = evaluate(pipeline, x, y, _with_evaluate())
    costly_misses = evaluate(pipeline, x, y, spec)
    assert costly_misses.threshold is not None and cheap_misses.threshold is not None
    assert costly_misses.threshold < cheap_misses.threshold
    assert costly_misses.metrics["recall"] >= cheap_misses.metrics["recall"]


def test_slices_report_metrics_per_value() -> None:
    spec = _with_evaluate(slices=["color"])
    pipeline, x, y, raw = _fitted(spec)
    slices = slice_metrics(pipeline, x, y, raw, spec, 0.5)
    assert set(slices["color"]) == {"red", "blue", "green"}
    assert sum(s["rows"] for s in slices["color"].values()) == len(x)
    assert all(0.5 < s["roc_auc"] <= 1 for s in slices["color"].values())


def test_behavioural_checks_pass_and_fail_as_the_model_behaves() -> None:
    spec = _with_evaluate(
        checks=[
            {"name": "x raises risk", "kind": "directional", "column": "x", "delta": 1.0},
            {"name": "x lowers risk", "kind": "directional", "column": "x", "delta": 1.0,
             "direction": "decrease"},
            {"name": "colour matters", "kind": "invariance", "column": "color", "value": "red",
             "tolerance": 0.01},
        ]
    )  # fmt: skip
    pipeline, x, _, _ = _fitted(spec)
    results = {r.name: r.passed for r in behavioural_checks(pipeline, x, spec)}
    assert results == {"x raises risk": True, "x lowers risk": False, "colour matters": False}


class _Counting:
    """A fitted pipeline that counts the rows it is asked to score."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline, self.rows_scored = pipeline, 0
        self.classes_ = pipeline.classes_

    def predict_proba(self, x: Any) -> np.ndarray:
        self.rows_scored += len(x)
        return np.asarray(self.pipeline.predict_proba(x))


def test_shared_predictions_score_the_base_rows_once_and_give_the_same_results() -> None:
    spec = _with_evaluate(
        slices=["color"],
        checks=[{"name": "x raises risk", "kind": "directional", "column": "x", "delta": 1.0}],
    )
    fitted, x, y, raw = _fitted(spec)
    counting = _Counting(fitted)
    scores = predictions(counting, x, spec)
    shared = (
        evaluate(counting, x, y, spec, scores=scores),
        slice_metrics(counting, x, y, raw, spec, 0.5, scores),
        behavioural_checks(counting, x, spec, scores),
    )
    # The base rows once, then once more per check (on the changed rows), nothing else.
    assert counting.rows_scored == 2 * len(x)
    alone = (
        evaluate(fitted, x, y, spec),
        slice_metrics(fitted, x, y, raw, spec, 0.5),
        behavioural_checks(fitted, x, spec),
    )
    assert shared == alone


def test_checks_are_validated_against_the_columns() -> None:
    with pytest.raises(SpecError, match="numeric column"):
        _with_evaluate(checks=[{"name": "c", "kind": "directional", "column": "color", "delta": 1}])
    with pytest.raises(SpecError, match=r"needs .value."):
        _with_evaluate(checks=[{"name": "c", "kind": "invariance", "column": "x"}])
    with pytest.raises(SpecError, match="not among the columns"):
        _with_evaluate(slices=["nope"])
