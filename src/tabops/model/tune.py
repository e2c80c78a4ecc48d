"""Hyperparameter search with Optuna: cross-validated trials on the training rows, pruned
fold by fold, reproducible for a seed. Tracking is the caller's: trials go to a sink."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit
from sklearn.pipeline import Pipeline

from tabops.errors import DataError
from tabops.model.candidates import Family, fit
from tabops.model.datetimes import DATETIME_STEP
from tabops.model.evaluate import decision_threshold, evaluate, model_score, predictions
from tabops.model.features import DatetimeParts, build_preprocessor, datetime_columns
from tabops.model.metrics import orient
from tabops.progress import Advance
from tabops.spec import ProjectSpec, SearchRange, Task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trial:
    """One evaluated set of parameters."""

    number: int
    params: dict[str, Any]
    score: float  # mean cross-validated primary metric (NaN when pruned or failed)
    state: str  # complete | pruned | failed
    seconds: float


#: Positions of one fold's training rows and validation rows.
Fold = tuple[np.ndarray, np.ndarray]


class TrialSink(Protocol):
    """Receives every finished trial (e.g. to log it as a nested run)."""

    def __call__(self, trial: Trial) -> None: ...


@dataclass(frozen=True)
class Tuning:
    """The search's outcome: the best parameters (fixed ones included), every trial, and a
    binary classifier's decision threshold, chosen on the best trial's out-of-fold scores
    (so on training rows: the test rows stay held out)."""

    best_params: dict[str, Any]
    best_score: float
    trials: list[Trial]
    threshold: float | None = None


def build_pipeline(spec: ProjectSpec, family: Family, params: dict[str, Any]) -> Pipeline:
    """The one artifact: preprocessing from the spec's types, then the estimator. It takes
    the model frame's raw columns, datetimes included (no expansion outside it)."""
    return Pipeline(
        [
            (DATETIME_STEP, DatetimeParts(datetime_columns(spec))),
            ("features", build_preprocessor(spec)),
            ("model", family.build(params, spec.train.seed)),
        ]
    )


def tune(
    spec: ProjectSpec,
    family: Family,
    fixed: dict[str, Any],
    x: pd.DataFrame,
    y: np.ndarray,
    folds: list[Fold],
    sink: TrialSink,
    advance: Advance,
) -> Tuning:
    """Search ``family``'s space (``fixed`` params held) for the best score over ``folds``
    (from :func:`cv_folds`)."""
    import optuna

    _quieten(optuna)
    metric = spec.metric
    trials: list[Trial] = []
    failures: list[str] = []
    out_of_fold: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # trial -> (truth, scores)

    def objective(trial: optuna.Trial) -> float:
        started = time.perf_counter()
        params = {name: _suggest(trial, name, space) for name, space in family.search.items()}
        fold_scores: list[float] = []
        truths, scored = [], []
        state, score = "complete", math.nan
        try:
            for step, (train_rows, valid_rows) in enumerate(folds):
                pipeline = build_pipeline(spec, family, {**fixed, **params})
                fit(pipeline, x.iloc[train_rows], y[train_rows])
                valid_x, valid_y = x.iloc[valid_rows], y[valid_rows]
                scores = predictions(pipeline, valid_x, spec)
                evaluation = evaluate(pipeline, valid_x, valid_y, spec, scores=scores)
                fold_scores.append(evaluation.metrics[metric])
                if evaluation.threshold is not None:  # binary: keep the scores for the cut
                    positive = scores.positive(spec.positive_class)
                    truths.append((valid_y == positive).astype(int))
                    scored.append(model_score(scores, spec))
                trial.report(orient(metric, float(np.mean(fold_scores))), step)
                if trial.should_prune():
                    state = "pruned"
                    raise optuna.TrialPruned()
            score = float(np.mean(fold_scores))
            if truths:
                out_of_fold[trial.number] = (np.concatenate(truths), np.concatenate(scored))
            return orient(metric, score)
        except (ValueError, ArithmeticError) as exc:  # Optuna marks the trial failed
            failures.append(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            if state == "complete" and math.isnan(score):
                state = "failed"
            record = Trial(trial.number, params, score, state, time.perf_counter() - started)
            trials.append(record)
            sink(record)
            advance(1)

    sampler = optuna.samplers.TPESampler(seed=spec.train.seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    study.optimize(
        objective,
        n_trials=spec.train.trials,
        timeout=spec.train.timeout,
        catch=(ValueError, ArithmeticError),
    )
    completed = [t for t in trials if t.state == "complete" and not math.isnan(t.score)]
    if not completed:
        # The caller names the candidate; one reason is enough (trials tend to fail alike).
        raise RuntimeError(failures[0] if failures else "no trial completed")
    best = max(completed, key=lambda t: orient(metric, t.score))
    threshold = None
    if best.number in out_of_fold:
        threshold = decision_threshold(*out_of_fold[best.number], spec)
    return Tuning({**fixed, **best.params}, best.score, trials, threshold)


def _suggest(trial: Any, name: str, space: SearchRange) -> Any:
    if space.choices is not None:
        return trial.suggest_categorical(name, space.choices)
    assert space.low is not None and space.high is not None
    if space.integer:
        return trial.suggest_int(name, int(space.low), int(space.high), log=space.log)
    return trial.suggest_float(name, space.low, space.high, log=space.log)


def _quieten(optuna: Any) -> None:
    """Optuna logs each failed trial with its traceback on its own handler; send its records
    through ``logging`` instead, warnings only with ``--debug`` (tune reports the reason once)."""
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    debug = logging.getLogger().isEnabledFor(logging.DEBUG)
    optuna.logging.set_verbosity(optuna.logging.WARNING if debug else optuna.logging.ERROR)


def cv_folds(spec: ProjectSpec, y: np.ndarray, time_ordered: bool) -> list[Fold]:
    """The cross-validation folds of the training rows, checked before any candidate is tuned:
    a fold that cannot be scored is a :class:`DataError` saying what to do."""
    rows = len(y)
    k = spec.train.cv_folds
    advice = "Ingest more rows, or lower train.cv_folds (at least 2)."
    classification = spec.task == Task.CLASSIFICATION
    if classification and not time_ordered:
        labels, counts = np.unique(y, return_counts=True)
        if counts.min() < k:
            raise DataError(
                f"Too few training rows of class '{labels[counts.argmin()]}' for "
                f"train.cv_folds={k}: {counts.min()} row(s), so some folds would hold a single "
                f"class and no trial could be scored. {advice}"
            )
    positions = np.arange(rows)
    if time_ordered:  # train on the past, validate on what follows
        splitter: Any = TimeSeriesSplit(n_splits=k)
    elif classification:
        splitter = StratifiedKFold(k, shuffle=True, random_state=spec.train.seed)
    else:
        splitter = KFold(k, shuffle=True, random_state=spec.train.seed)
    try:
        folds = list(splitter.split(positions, y))
    except ValueError as exc:  # more folds than rows
        raise DataError(
            f"Cannot split {rows} training rows into {k} folds ({exc}). {advice}"
        ) from exc
    if classification and any(len(np.unique(y[part])) < 2 for fold in folds for part in fold):
        raise DataError(
            f"Some of the train.cv_folds={k} folds of the {rows} training rows hold "
            f"a single class, so no trial could be scored. {advice}"
        )
    return folds
