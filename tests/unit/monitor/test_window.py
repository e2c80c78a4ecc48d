"""One window's measurements: a window too small for a distance is tested as a small sample,
features and scores alike, unless ``monitor.drift_min_rows`` is 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from tabops.monitor.profile import profile_frame
from tabops.monitor.reference import Reference
from tabops.monitor.window import WindowMeasurement
from tabops.spec import ProjectSpec
from tests.unit.monitor.conftest import make_rows


def _methods(spec: ProjectSpec, reference: Reference, rows: int) -> dict[str | None, str]:
    window = WindowMeasurement(spec, reference)
    current = make_rows(rows, seed=2)
    window.add(current, np.random.default_rng(2).random(rows), pd.Series([None] * rows))
    return {
        r["column_name"]: r["details"]["method"]
        for r in window.finish()
        if r["metric"] in ("drift_score", "score_drift")
    }


@pytest.mark.parametrize(
    ("rows", "min_rows", "numbers", "categories"),
    [
        (100, 500, "ks", "chisquare"),
        (100, 0, "wasserstein", "jensenshannon"),
        (2_000, 500, "wasserstein", "jensenshannon"),
    ],
)
def test_the_window_size_picks_the_drift_test(
    spec: ProjectSpec, rows: int, min_rows: int, numbers: str, categories: str
) -> None:
    scores = np.random.default_rng(1).random(20_000)
    profile = profile_frame(spec, make_rows(20_000, seed=1), scores)
    reference = Reference(profile, 0.5, "yes", None, {})
    monitor = spec.monitor.model_copy(update={"drift_min_rows": min_rows})
    methods = _methods(spec.model_copy(update={"monitor": monitor}), reference, rows)
    assert methods["amount"] == methods[None] == numbers  # None: the score's drift
    assert methods["color"] == categories


def test_a_multiclass_window_measures_accuracy_and_f1_from_its_answers(spec: ProjectSpec) -> None:
    # Penguins' three species: every prediction labelled, yet only coverage was measured
    rng = np.random.default_rng(4)
    rows = 300
    current = make_rows(rows, seed=4)
    truth = rng.choice(["Adelie", "Chinstrap", "Gentoo"], size=rows)
    answers = np.where(rng.random(rows) < 0.8, truth, "Adelie")
    labels = pd.Series(truth, dtype=object)
    labels[:30] = None  # not labelled yet
    profile = profile_frame(spec, make_rows(2_000, seed=1), rng.random(2_000))
    window = WindowMeasurement(spec, Reference(profile, None, None, None, {}))
    window.add(current, rng.random(rows), labels, pd.Series(answers, dtype=object))
    measured = {r["metric"]: r for r in window.finish()}
    known = labels.notna().to_numpy()
    assert measured["label_coverage"]["value"] == pytest.approx(270 / 300)
    assert measured["accuracy"]["value"] == pytest.approx(
        accuracy_score(truth[known], answers[known])
    )
    assert measured["f1"]["value"] == pytest.approx(
        f1_score(truth[known], answers[known], average="macro")
    )
    assert (
        measured["f1"]["details"]["low"]
        < measured["f1"]["value"]
        < measured["f1"]["details"]["high"]
    )
    assert "roc_auc" not in measured  # no single score to rank by
