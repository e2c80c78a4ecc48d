"""A model version's reference: what the monitor compares production with.

Built at registration from the version's training snapshot (the feature profile and the
model's score distribution) and its frozen test rows (the isotonic calibration that turns its
scores into probabilities for performance estimation, and its decision threshold), and kept
in the store by model version. When the spec names a labelled production period
(``monitor.reference``), the calibration is refitted on that period's logged scores and labels
instead, as NannyML fits CBPE on a labelled reference period: a few days of test rows can hold
another mix of positives than production a month later, and serving's logged scores are the
ones the estimate reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tabops.context import Context
from tabops.data.snapshots import read_snapshot
from tabops.errors import DataError
from tabops.model.evaluate import evaluate, model_score, predictions
from tabops.model.frame import model_frame
from tabops.monitor.performance import Calibrator
from tabops.monitor.profile import DatasetProfile, ProfileBuilder
from tabops.registry.models import ModelVersion, registry_for
from tabops.release.gate import ScoredTestRows
from tabops.release.register import OnRegistered
from tabops.spec import ProjectSpec, Task
from tabops.store.ledger import find_snapshot
from tabops.store.monitoring import prediction_window
from tabops.store.references import load_reference, save_reference

#: Rows scored at once while profiling the snapshot: bounded memory on any size.
CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class Reference:
    """The profile of the training data, and how the version's scores read as probabilities."""

    profile: DatasetProfile
    threshold: float | None  # the binary decision threshold (serving's)
    positive: str | None  # the positive class of a binary classifier
    calibration: tuple[list[float], list[float]] | None  # isotonic (score, probability) points
    test_metrics: dict[str, float]
    #: What the calibration was fitted on (stored with every estimate).
    calibrated_on: str = "frozen test rows"

    def calibrator(self) -> Calibrator | None:
        if self.calibration is None:
            return None
        scores, truth = (np.asarray(v, dtype=float) for v in self.calibration)
        return Calibrator(truth, scores)

    def to_json(self) -> str:
        return json.dumps(
            {"profile": self.profile.to_dict(), "threshold": self.threshold,
             "positive": self.positive, "calibration": self.calibration,
             "test_metrics": self.test_metrics},
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> Reference:
        doc: dict[str, Any] = json.loads(text)
        calibration = doc["calibration"]
        return cls(
            DatasetProfile.from_dict(doc["profile"]),
            doc["threshold"],
            doc["positive"],
            None if calibration is None else (calibration[0], calibration[1]),
            doc["test_metrics"],
        )


def build_reference(
    spec: ProjectSpec, snapshot: pa.Table, tested: ScoredTestRows, threshold: float | None = None
) -> Reference:
    """The reference of a fitted pipeline trained on ``snapshot`` and ``tested`` on its frozen
    test rows (rows with a target, as the gate scores them); a binary classifier decides at
    ``threshold``, its version's (None: the test rows' best)."""
    pipeline, y, scores = tested.pipeline, tested.y, tested.scores
    builder = ProfileBuilder(spec)
    for chunk in _chunks(snapshot.filter(snapshot.column(spec.target).is_valid())):
        builder.add(chunk, model_score(predictions(pipeline, model_frame(chunk, spec), spec), spec))
    evaluation = evaluate(pipeline, tested.x, y, spec, threshold, scores)
    calibration, positive = None, None
    binary = spec.task == Task.CLASSIFICATION and len(scores.classes or []) == 2
    if binary:
        positive = scores.positive(spec.positive_class)
        truth = (y == positive).astype(float)
        # Points of the test rows' isotonic fit: enough to rebuild it, without the rows.
        fitted = Calibrator(truth, scores.of_class(positive))
        calibration = fitted.points()
    return Reference(
        builder.build(),
        evaluation.threshold if binary else None,
        positive,
        calibration,
        {k: v for k, v in evaluation.metrics.items() if np.isfinite(v)},
    )


def _chunks(table: pa.Table) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, CHUNK_ROWS):
        yield table.slice(start, CHUNK_ROWS)


def store_reference(spec: ProjectSpec, ctx: Context, version: str) -> Reference:
    """Build a registered version's reference and keep it in the store (for versions
    registered before references existed; registration uses :func:`on_registered`)."""
    registry = registry_for(spec, ctx)
    chosen = registry.version(version)
    return _store_built(spec, ctx, chosen, ScoredTestRows.of_version(spec, ctx, registry, chosen))


def on_registered(spec: ProjectSpec, ctx: Context) -> OnRegistered:
    """The registration hook that stores each new version's reference."""

    def hook(version: ModelVersion, tested: ScoredTestRows) -> None:
        _store_built(spec, ctx, version, tested)

    return hook


def _store_built(
    spec: ProjectSpec, ctx: Context, version: ModelVersion, tested: ScoredTestRows
) -> Reference:
    found = find_snapshot(ctx.store, spec.name, version.snapshot_hash)
    if found is None:
        raise DataError(
            f"Version {version.version} was trained on snapshot {version.snapshot_hash[:16]}, "
            "which this workspace's store does not know; its reference profile needs it."
        )
    snapshot = read_snapshot(found.path)
    threshold = registry_for(spec, ctx).threshold(version)
    reference = build_reference(spec, snapshot, tested, threshold)
    save_reference(ctx.store, spec.name, version.name, version.version, reference.to_json())
    return reference


def reference_for(spec: ProjectSpec, ctx: Context, version: str) -> Reference:
    """A version's stored reference, built and stored first if it has none; calibrated on the
    spec's labelled reference period when it names one."""
    doc = load_reference(ctx.store, spec.name, spec.name, version)
    reference = Reference.from_json(doc) if doc is not None else store_reference(spec, ctx, version)
    period = spec.monitor.reference
    return reference if period is None else calibrated_on_period(spec, ctx, version, reference)


def calibrated_on_period(
    spec: ProjectSpec, ctx: Context, version: str, reference: Reference
) -> Reference:
    """``reference`` with its calibration refitted on ``version``'s labelled predictions in
    the spec's ``monitor.reference`` period; unchanged (and saying why) when that period has
    no labelled rows of both classes for it, e.g. a version deployed after the period."""
    period = spec.monitor.reference
    if period is None or reference.positive is None:
        return reference
    window = prediction_window(ctx.store, spec.name, spec.name, period.start, period.end)
    served = window.served
    mine = served[(served["model_version"] == version) & served["label"].notna()]
    score = pd.to_numeric(mine["score"], errors="coerce").to_numpy(dtype=float)
    truth = (mine["label"].astype(str) == reference.positive).to_numpy(dtype=float)
    known = np.isfinite(score)
    score, truth = score[known], truth[known]
    span = f"monitor.reference {period.start.isoformat()} to {period.end.isoformat()}"
    if not 0 < truth.sum() < len(truth):
        return replace(reference, calibrated_on=f"frozen test rows ({span} has no labelled "
                       f"rows of both classes for version {version})")  # fmt: skip
    return replace(
        reference,
        calibration=Calibrator(truth, score).points(),
        calibrated_on=f"{span}: {len(truth)} labelled rows",
    )
