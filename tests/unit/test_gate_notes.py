"""The gate's warning for a model that scores about what guessing does (olist's order
quantity: ROC AUC 0.508 over 14 classes, promoted as a first champion without a word)."""

from __future__ import annotations

import numpy as np
import pytest

from tabops.release.gate import _below_chance, _below_majority_notes, _chance_notes
from tests.unit.model.conftest import synthetic_spec


@pytest.mark.parametrize(
    ("task", "metric", "score", "warned"),
    [
        ("classification", "roc_auc", 0.508, True),
        ("classification", "roc_auc", 0.55, True),
        ("classification", "roc_auc", 0.62, False),  # weak, but a signal
        ("regression", "r2", -0.2, True),  # worse than predicting the mean
        ("regression", "r2", 0.3, False),
        ("classification", "accuracy", 0.1, False),  # no chance level known for it
    ],
)
def test_a_score_about_what_guessing_scores_is_warned_of(
    task: str, metric: str, score: float, warned: bool
) -> None:
    notes = _chance_notes(metric, {metric: score}, synthetic_spec(task))
    assert bool(notes) is warned
    if warned:
        assert notes[0].startswith(f"warning: {metric} {score:.4f} is about what guessing")
        assert "hardly predict" in notes[0]


@pytest.mark.parametrize(
    ("task", "scored", "refused"),
    [
        ("regression", {"rmse": 900.0, "r2": -7.7}, True),  # a daily series, later test days
        ("regression", {"rmse": 9.0, "r2": -0.03}, False),  # about the mean: a warning's job
        ("regression", {"rmse": 9.0, "r2": 0.4}, False),
        ("classification", {"f1": 0.2, "roc_auc": 0.41}, True),
        ("classification", {"f1": 0.5, "roc_auc": 0.47}, False),
        ("classification", {"accuracy": 0.3}, False),  # multi-class without an AUC: not judged
    ],
)
def test_a_score_clearly_below_guessing_is_refused(
    task: str, scored: dict[str, float], refused: bool
) -> None:
    failures = _below_chance(scored, synthetic_spec(task))
    assert bool(failures) is refused
    if refused:
        assert "worse than" in failures[0] and "--force" in failures[0]


@pytest.mark.parametrize(
    ("classes", "accuracy", "warned"),
    [
        (["a"] * 18 + ["b"] * 41 + ["c"] * 41, 0.30, True),  # below always answering 'b'
        (["a"] * 18 + ["b"] * 41 + ["c"] * 41, 0.45, False),
        (["no"] * 90 + ["yes"] * 10, 0.60, False),  # binary: the threshold trades accuracy
    ],
)
def test_a_multiclass_model_below_the_commonest_class_is_warned_of(
    classes: list[str], accuracy: float, warned: bool
) -> None:
    notes = _below_majority_notes({"accuracy": accuracy}, np.array(classes), synthetic_spec())
    assert bool(notes) is warned
    if warned:
        assert notes[0].startswith(f"warning: accuracy {accuracy:.4f} is below what always")
        assert "commonest class 'b' scores (0.4100)" in notes[0]
