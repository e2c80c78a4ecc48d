"""The train stage: from a data snapshot to tuned, fitted candidates scored on a frozen test split.

Tracking (MLflow) is behind the :class:`Tracking` protocol, implemented in ``tabops.registry``:
this module never imports mlflow.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from tabops import storage
from tabops.context import Context
from tabops.data.snapshots import read_snapshot
from tabops.errors import DataError, NotFoundError, SpecError, TabopsError
from tabops.model.candidates import Family, family, fit
from tabops.model.evaluate import (
    CheckResult,
    behavioural_checks,
    evaluate,
    predictions,
    slice_metrics,
)
from tabops.model.frame import model_frame, target_values
from tabops.model.metrics import Evaluation, orient
from tabops.model.split import Split, split_rows
from tabops.model.tune import Fold, Trial, Tuning, build_pipeline, cv_folds, tune
from tabops.spec import LOWER_IS_BETTER, CandidateSpec, ProjectSpec
from tabops.store.ledger import latest_snapshot, snapshots_with_prefix

log = logging.getLogger(__name__)

#: A final fit is checked on up to this many of its own training rows.
_FIT_CHECK_ROWS = 20_000
#: How far below its cross-validated score a final fit may score on its own training rows:
#: a model does at least as well on rows it learned (over-fitting only helps there), so a fit
#: far below failed numerically (LightGBM's multiclass fit diverges for some seeds at a high
#: learning rate: 16% accuracy where the folds had 0.999 ROC AUC). Bounded metrics (ROC AUC,
#: accuracy, R²...) may lose this much; error metrics (RMSE, log loss) may double.
_BROKEN_FIT_GAP, _BROKEN_FIT_RATIO = 0.1, 2.0
#: Seeds tried after the spec's before a candidate whose final fit keeps failing is dropped.
_REFIT_SEEDS = 2


class BrokenFitError(TabopsError):
    """A candidate's final fit failed numerically with every seed tried."""


@dataclass
class Candidate:
    """One tuned and fitted model family, scored on the frozen test rows."""

    estimator: str
    params: dict[str, Any]
    cv_score: float
    trials: int
    pruned: int
    evaluation: Evaluation
    pipeline: Pipeline = field(repr=False)
    seconds: float
    slices: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    run_id: str | None = None
    model_uri: str | None = None
    artifact_sha256: str | None = None
    report: str | None = None  # where its HTML report went (the workspace or the storage)


@dataclass
class TrainData:
    """The snapshot a run trains on, cut into frozen train and test rows."""

    snapshot_hash: str
    frame: pd.DataFrame  # the model's input frame for every row of the snapshot
    y: np.ndarray
    split: Split

    @property
    def test_frame(self) -> pd.DataFrame:
        return self.frame.iloc[self.split.test]


@dataclass
class TrainResult:
    """What ``tabops train`` did: every candidate, and the best by cross-validated score."""

    project: str
    snapshot_hash: str
    spec_hash: str
    metric: str
    split_method: str
    train_rows: int
    test_rows: int
    candidates: list[Candidate]
    best: Candidate
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "snapshot_hash": self.snapshot_hash,
            "spec_hash": self.spec_hash,
            "metric": self.metric,
            "split": self.split_method,
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "best": self.best.estimator,
            "best_run_id": self.best.run_id,
            "best_model_uri": self.best.model_uri,
            "best_report": self.best.report,
            "seconds": round(self.seconds, 3),
            "candidates": [
                {
                    "estimator": c.estimator,
                    "params": c.params,
                    "cv_score": c.cv_score,
                    "test": c.evaluation.metrics,
                    "threshold": c.evaluation.threshold,
                    "checks": [check.to_dict() for check in c.checks],
                    "slices": c.slices,
                    "trials": c.trials,
                    "pruned": c.pruned,
                    "run_id": c.run_id,
                    "model_uri": c.model_uri,
                    "artifact_sha256": c.artifact_sha256,
                    "seconds": round(c.seconds, 3),
                }
                for c in self.candidates
            ],
        }


class Tracking(Protocol):
    """Where runs, trials and fitted models are recorded (MLflow in ``tabops.registry``)."""

    def candidate_run(
        self, spec: ProjectSpec, data: TrainData, estimator: str
    ) -> AbstractContextManager[CandidateRun]: ...

    def mark_best(self, candidate: Candidate) -> None:
        """Record that ``candidate`` won this training (what ``tabops register`` picks)."""


class CandidateRun(Protocol):
    """One candidate's parent run: trials nest under it, the fitted model lands in it."""

    run_id: str

    def trial_sink(self, trial: Trial) -> None:
        """Record one finished trial, nested under this run."""

    def finish(self, candidate: Candidate, data: TrainData) -> None: ...


def _snapshot_by_prefix(spec: ProjectSpec, ctx: Context, prefix: str) -> Any:
    """The one snapshot whose hash starts with ``prefix``; else an error saying why not."""
    if not prefix:
        raise TabopsError(
            "--snapshot is empty: give the first characters of a snapshot hash "
            "('tabops data history' lists them), or leave it out for the latest."
        )
    shown = 5
    found = snapshots_with_prefix(ctx.store, spec.name, prefix, limit=shown + 1)
    if not found:
        raise NotFoundError(
            f"No snapshot of {spec.name} starts with '{prefix}'. 'tabops data history' lists them."
        )
    if len(found) > 1:
        count = f"more than {shown}" if len(found) > shown else str(len(found))
        matches = ", ".join(row.snapshot_hash[:16] for row in found[:shown])
        raise TabopsError(
            f"--snapshot '{prefix}' is ambiguous: {count} snapshots of {spec.name} start with it "
            f"({matches}). Give more characters of the hash."
        )
    return found[0]


def load_train_data(spec: ProjectSpec, ctx: Context, snapshot: str | None = None) -> TrainData:
    """The snapshot (latest, or the one whose hash starts with ``snapshot``), split."""
    if snapshot is None:
        row = latest_snapshot(ctx.store, spec.name)
        if row is None:
            raise NotFoundError(
                f"Project {spec.name} has no data snapshot yet. Run 'tabops ingest' first."
            )
    else:
        row = _snapshot_by_prefix(spec, ctx, snapshot)
    if not storage.exists(row.path):
        raise DataError(
            f"Snapshot {row.snapshot_hash[:16]} is recorded but its file {row.path} is missing "
            "(was TABOPS_HOME or TABOPS_STORAGE_URL moved or cleaned?). Ingest the data again."
        )
    table = read_snapshot(row.path)
    if spec.target not in table.column_names:
        raise DataError(f"Snapshot {row.snapshot_hash[:16]} has no target column {spec.target}.")
    missing_target = table.column(spec.target).null_count
    if missing_target:
        log.warning(
            "%s of %s rows have no %s (not labelled yet): training leaves them out.",
            f"{missing_target:,}", f"{table.num_rows:,}", spec.target,
        )  # fmt: skip
        table = table.filter(table.column(spec.target).is_valid())
    frame = table.to_pandas()
    y = target_values(frame, spec)
    if len(frame) < 10:
        raise DataError(
            f"Snapshot {row.snapshot_hash[:16]} has {len(frame)} labelled rows; training needs "
            "at least 10."
        )
    return TrainData(row.snapshot_hash, frame, y, split_rows(frame, y, spec))


#: Metrics defined for two classes only.
BINARY_ONLY = frozenset({"pr_auc", "brier"})


def _check_metric_fits(spec: ProjectSpec, y: np.ndarray) -> None:
    classes = len(np.unique(y)) if spec.task == "classification" else 0
    if classes > 2 and spec.metric in BINARY_ONLY:
        raise SpecError(
            f"train.metric '{spec.metric}' needs a binary target, but {spec.target} has "
            f"{classes} classes; use roc_auc, log_loss, accuracy or f1."
        )
    if spec.evaluate.costs is not None and classes != 2:
        raise SpecError(
            "evaluate.costs applies to binary classification only; remove it for this target."
        )


def validate_candidates(spec: ProjectSpec) -> None:
    """Fail fast on unknown estimators or parameters, before any tracking store is opened."""
    for index, candidate in enumerate(spec.train.candidates):
        family(candidate, spec.task, index)


def run_train(
    spec: ProjectSpec, ctx: Context, tracking: Tracking, snapshot: str | None = None
) -> TrainResult:
    """Tune and fit every candidate of ``spec.train`` on the snapshot's training rows, score
    each on the frozen test rows, and record everything through ``tracking``."""
    started = time.perf_counter()
    families = [family(c, spec.task, i) for i, c in enumerate(spec.train.candidates)]
    with ctx.progress.step("Loading the snapshot"):
        data = load_train_data(spec, ctx, snapshot)
    _check_metric_fits(spec, data.y)
    x = model_frame(data.frame, spec)
    folds = cv_folds(
        spec, data.y[data.split.train], time_ordered=data.split.method.startswith("time:")
    )
    # One BLAS thread, as every candidate's own n_jobs=1: on a small machine OpenBLAS threads
    # contend with each other and with other work (a linear candidate ran 50x slower beside
    # one busy process), and small matrices gain nothing from them.
    candidates, broken = [], []
    with threadpool_limits(limits=1):
        for candidate_spec, chosen in zip(spec.train.candidates, families, strict=True):
            try:
                candidates.append(
                    _train_candidate(spec, ctx, tracking, data, x, folds, candidate_spec, chosen)
                )
            except BrokenFitError as exc:
                log.warning("%s", exc)
                broken.append(str(exc))
    if not candidates:
        raise TabopsError(" ".join(broken))
    best = max(candidates, key=lambda c: orient(spec.metric, c.cv_score))
    tracking.mark_best(best)
    return TrainResult(
        project=spec.name,
        snapshot_hash=data.snapshot_hash,
        spec_hash=spec.spec_hash,
        metric=spec.metric,
        split_method=data.split.method,
        train_rows=len(data.split.train),
        test_rows=len(data.split.test),
        candidates=candidates,
        best=best,
        seconds=time.perf_counter() - started,
    )


def _train_candidate(
    spec: ProjectSpec, ctx: Context, tracking: Tracking, data: TrainData, x: pd.DataFrame,
    folds: list[Fold], candidate_spec: CandidateSpec, chosen: Family,
) -> Candidate:  # fmt: skip
    """One candidate tuned over ``folds``, fitted on the training rows, scored on the test
    rows, and recorded in its tracking run."""
    train_x, train_y = x.iloc[data.split.train], data.y[data.split.train]
    name = candidate_spec.estimator
    candidate_started = time.perf_counter()
    with (
        tracking.candidate_run(spec, data, name) as run,
        ctx.progress.step(f"Tuning {name}", total=spec.train.trials) as advance,
    ):
        try:
            tuning = tune(
                spec, chosen, candidate_spec.params, train_x, train_y, folds,
                run.trial_sink, advance,
            )  # fmt: skip
        except RuntimeError as exc:
            raise TabopsError(
                f"Every trial of candidate '{name}' failed ({exc}); check its params and "
                "search space in train.candidates (--debug shows each trial's error)."
            ) from exc
        pipeline = _final_fit(spec, chosen, tuning, train_x, train_y, name, folds)
        test_x, test_y = x.iloc[data.split.test], data.y[data.split.test]
        scores = predictions(pipeline, test_x, spec)
        # Decided at the threshold the training rows chose: tuned on the test rows, it would
        # flatter the test metrics and follow a few rows (a lone positive scored 0.002).
        evaluation = evaluate(
            pipeline, test_x, test_y, spec, threshold=tuning.threshold, scores=scores
        )
        candidate = Candidate(
            estimator=name,
            params=tuning.best_params,
            cv_score=tuning.best_score,
            trials=len(tuning.trials),
            pruned=sum(t.state == "pruned" for t in tuning.trials),
            evaluation=evaluation,
            pipeline=pipeline,
            seconds=time.perf_counter() - candidate_started,
            run_id=run.run_id,
            slices=slice_metrics(pipeline, test_x, test_y, data.test_frame, spec,
                                 evaluation.threshold, scores),
            checks=behavioural_checks(pipeline, test_x, spec, scores),
        )  # fmt: skip
        run.finish(candidate, data)
    return candidate


def _final_fit(
    spec: ProjectSpec, chosen: Family, tuning: Tuning, x: pd.DataFrame, y: np.ndarray, name: str,
    folds: list[Fold],
) -> Pipeline:  # fmt: skip
    """The best parameters fitted on every training row, refitted with the next seeds while
    the fit scores far below the search's CV score on its own training rows (it broke).

    The rows checked are those the folds validated on: a time-ordered search validates on
    later rows only, and an earlier, noisier period made a sound linear fit look broken. Past
    ``_FIT_CHECK_ROWS`` they are taken evenly from the whole file: a file sorted by a strong
    column has first rows that its labels tell apart far worse than the whole."""
    metric, seed = spec.metric, spec.train.seed
    validated = np.unique(np.concatenate([valid for _, valid in folds]))
    if len(validated) > _FIT_CHECK_ROWS:
        spread = np.linspace(0, len(validated) - 1, _FIT_CHECK_ROWS).round().astype(int)
        validated = validated[spread]
    for attempt in range(_REFIT_SEEDS + 1):
        seeded = spec.model_copy(update={"train": spec.train.model_copy(update={"seed": seed})})
        pipeline = fit(build_pipeline(seeded, chosen, tuning.best_params), x, y)
        learned = evaluate(pipeline, x.iloc[validated], y[validated], spec).metrics[metric]
        if not _fit_broke(metric, learned, tuning.best_score):
            return pipeline
        said = (
            f"The final fit of candidate '{name}' (seed {seed}) scores {metric} "
            f"{learned:.4f} on its own training rows against {tuning.best_score:.4f} in "
            "cross-validation: the fit failed numerically"
        )
        if attempt < _REFIT_SEEDS:
            seed += 1
            log.warning("%s; fitting it again with seed %d.", said, seed)
    raise BrokenFitError(
        f"{said}, with {_REFIT_SEEDS + 1} seeds: candidate '{name}' is left out. Narrow its "
        "search (a lower learning_rate under train.candidates) or drop it."
    )


def _fit_broke(metric: str, learned: float, cross_validated: float) -> bool:
    """Whether a fit scoring ``learned`` on its training rows failed, given its CV score."""
    if math.isnan(learned) or math.isnan(cross_validated):
        return False  # not measurable (a class absent from the rows checked): not judged
    if metric in LOWER_IS_BETTER:
        return learned > _BROKEN_FIT_RATIO * cross_validated + 1e-9
    return learned < cross_validated - _BROKEN_FIT_GAP
