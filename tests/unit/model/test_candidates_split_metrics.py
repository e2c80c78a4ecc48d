from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from tabops.errors import DataError, SpecError
from tabops.model.candidates import family, fit
from tabops.model.metrics import Scores, better, evaluate_classification, max_f1_threshold
from tabops.model.split import split_rows
from tabops.spec import CandidateSpec, SearchRange, Task
from tests.unit.model.conftest import synthetic_spec, synthetic_table


def test_unknown_estimator_names_the_setting() -> None:
    with pytest.raises(SpecError, match=r"train.candidates\[1\].estimator 'svm'.*linear"):
        family(CandidateSpec(estimator="svm"), Task.CLASSIFICATION, 1)


def test_unknown_parameter_is_refused_before_training() -> None:
    bad = CandidateSpec(estimator="linear", search={"depth": SearchRange(low=1, high=3)})
    with pytest.raises(SpecError, match=r"unknown parameter.*depth"):
        family(bad, Task.CLASSIFICATION, 0)


def test_a_parameter_cannot_be_fixed_and_tuned() -> None:
    both = CandidateSpec(
        estimator="linear", params={"C": 1.0}, search={"C": SearchRange(low=0.1, high=1)}
    )
    with pytest.raises(SpecError, match="both fixed"):
        family(both, Task.CLASSIFICATION, 0)


def test_search_ranges_are_validated() -> None:
    with pytest.raises(ValueError, match="low > 0"):
        SearchRange(low=0, high=1, log=True)
    with pytest.raises(ValueError, match="either"):
        SearchRange(low=0, high=1, choices=[1])


def test_stratified_split_keeps_class_balance() -> None:
    spec = synthetic_spec()
    frame = synthetic_table(1000).to_pandas()
    y = frame["label"].to_numpy(dtype=object)
    split = split_rows(frame, y, spec)
    assert split.method == "stratified"
    assert len(split.test) == 200 and len(set(split.train) & set(split.test)) == 0
    assert abs((y[split.test] == "yes").mean() - (y == "yes").mean()) < 0.01
    again = split_rows(frame, y, spec)
    assert (again.test == split.test).all()  # same seed, same frozen rows


def test_time_split_tests_on_the_most_recent_rows() -> None:
    spec = synthetic_spec()
    spec.columns["when"].role = spec.columns["when"].role.TIMESTAMP
    frame = synthetic_table(100).to_pandas().sample(frac=1.0, random_state=1)  # shuffled
    split = split_rows(frame, frame["label"].to_numpy(dtype=object), spec)
    assert split.method == "time:when"
    train_times = frame["when"].iloc[split.train]
    test_times = frame["when"].iloc[split.test]
    assert train_times.max() < test_times.min()
    assert len(split.test) == 20


def test_single_class_target_is_a_clear_error() -> None:
    spec = synthetic_spec()
    frame = pd.DataFrame({"label": ["yes"] * 20})
    with pytest.raises(DataError, match="single class"):
        split_rows(frame, frame["label"].to_numpy(dtype=object), spec)


@pytest.mark.parametrize(
    ("rows", "advice"),
    [(1, r"'maybe' \(1 row\) of 'label'.*Ingest more rows of them, or remove them from "
         r"columns.label.categories"),
     (3, r"'maybe' \(3 rows\).*or raise train.test_size, or remove them")],
)  # fmt: skip
def test_a_class_too_small_to_test_names_it_and_a_fix_that_works(rows: int, advice: str) -> None:
    spec = synthetic_spec()
    frame = pd.DataFrame({"label": ["yes"] * 50 + ["no"] * 50 + ["maybe"] * rows})
    with pytest.raises(DataError, match=advice):
        split_rows(frame, frame["label"].to_numpy(dtype=object), spec)


def test_binary_metrics_and_threshold() -> None:
    y = np.array(["no", "no", "yes", "yes"], dtype=object)
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.35, 0.65], [0.2, 0.8]])
    result = evaluate_classification(y, Scores(["no", "yes"], probabilities), "yes")
    assert result.metrics["roc_auc"] == 1.0
    assert result.threshold == pytest.approx(0.65)
    assert result.metrics["f1"] == 1.0
    assert result.confusion == [[2, 0], [0, 2]]
    fixed = evaluate_classification(y, Scores(["no", "yes"], probabilities), "yes", 0.9)
    assert fixed.metrics["recall"] == 0.0


def test_max_f1_threshold_without_positives() -> None:
    assert max_f1_threshold(np.zeros(3, dtype=int), np.array([0.1, 0.2, 0.3])) == 0.5


def test_multiclass_metrics() -> None:
    y = np.array(["a", "b", "c"], dtype=object)
    probabilities = np.eye(3) * 0.8 + 0.2 / 3
    result = evaluate_classification(y, Scores(["a", "b", "c"], probabilities), None)
    assert result.metrics["accuracy"] == 1.0
    assert result.threshold is None
    assert result.confusion == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_multiclass_roc_auc_over_the_classes_present() -> None:
    rng = np.random.default_rng(0)
    y = rng.choice(np.array(["a", "b", "c"], dtype=object), 200)
    probabilities = rng.dirichlet([1, 1, 1], 200)
    scores = Scores(["a", "b", "c"], probabilities)
    sklearn = roc_auc_score(y, probabilities, multi_class="ovr", labels=["a", "b", "c"])
    assert evaluate_classification(y, scores, None).metrics["roc_auc"] == pytest.approx(sklearn)
    # A later period without 'c' (a class fell out of use): the AUC of the classes there.
    later = y != "c"
    result = evaluate_classification(y[later], Scores(["a", "b", "c"], probabilities[later]), None)
    expected = np.mean(
        [roc_auc_score(y[later] == k, probabilities[later][:, i]) for i, k in enumerate("ab")]
    )
    assert result.metrics["roc_auc"] == pytest.approx(expected)
    only_a = y == "a"
    one = evaluate_classification(y[only_a], Scores(["a", "b", "c"], probabilities[only_a]), None)
    assert np.isnan(one.metrics["roc_auc"])  # one class: undefined


def test_binary_metrics_without_a_positive_row_are_undefined_not_a_warning() -> None:
    # A slice (or a day) with no fraud: average precision is undefined, where scikit-learn
    # warns "No positive class found in y_true" into the run's output and answers 0.
    import warnings

    y = np.array(["no"] * 6)
    score = np.linspace(0.1, 0.6, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        result = evaluate_classification(y, Scores(["no", "yes"], np.c_[1 - score, score]), "yes")
    assert np.isnan(result.metrics["pr_auc"]) and np.isnan(result.metrics["roc_auc"])


def test_a_class_the_model_never_saw_gets_probability_zero() -> None:
    # A time split's first fold holds no row of the rare class '12' that a later fold holds.
    rng = np.random.default_rng(1)
    y = rng.choice(np.array(["0", "1", "12"], dtype=object), 300, p=[0.5, 0.45, 0.05])
    probabilities = rng.dirichlet([1, 1], 300)
    result = evaluate_classification(y, Scores(["0", "1"], probabilities), None)
    full = np.column_stack([probabilities, np.zeros(300)])
    assert result.labels == ["0", "1", "12"]
    assert result.metrics["log_loss"] == pytest.approx(
        log_loss(y, full, labels=["0", "1", "12"])
    )  # large (the clipped zero), not an error
    assert result.metrics["accuracy"] == pytest.approx(
        np.mean(np.array(["0", "1"], dtype=object)[probabilities.argmax(axis=1)] == y)
    )
    assert result.threshold is None  # three classes: no binary decision on two of them
    assert [row[2] for row in result.confusion] == [0, 0, 0]  # never predicted


def test_direction_of_metrics() -> None:
    assert better("roc_auc", 0.9, 0.8) and not better("roc_auc", 0.7, 0.8)
    assert better("rmse", 1.0, 2.0) and not better("log_loss", 0.5, 0.4)


def test_a_fit_stopped_at_its_iteration_limit_is_logged_not_printed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sklearn.linear_model import ElasticNet

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = x @ rng.normal(size=5) + rng.normal(size=200)
    with warnings.catch_warnings(), caplog.at_level(logging.DEBUG, "tabops.model.candidates"):
        warnings.simplefilter("error")  # any warning reaching the caller fails the test
        fitted = fit(ElasticNet(alpha=1e-6, max_iter=1, tol=1e-12), x, y)
    assert fitted.n_iter_ == 1
    assert "did not converge" in caplog.text


def test_other_warnings_of_a_fit_still_reach_the_caller() -> None:
    class Noisy:
        def fit(self, x: object, y: object) -> Noisy:
            warnings.warn("something else", UserWarning, stacklevel=1)
            return self

    with pytest.warns(UserWarning, match="something else"):
        fit(Noisy(), None, None)
