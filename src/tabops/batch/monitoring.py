"""``tabops predict --monitor``: a run measured like a window of the prediction log.

The scored rows' typed features and scores feed the same
:class:`~tabops.monitor.window.WindowMeasurement` as the log, against the scoring version's
reference; the result is stored as the monitor window holding the run date's midnight (UTC),
under the source ``batch``, so a rerun replaces it and each run date adds a point to the
batch series (its alerts judged apart from the log's).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from tabops.batch.scoring import ScoredChunk, refusal_counts
from tabops.context import Context
from tabops.monitor.reference import reference_for
from tabops.monitor.run import (
    MonitorResult,
    WindowSummary,
    judge_and_notify,
    store_window,
    window_bounds,
)
from tabops.monitor.window import WindowMeasurement
from tabops.spec import ProjectSpec

#: The source batch runs are measured under (the log's is "predictions").
BATCH_SOURCE = "batch"


class RunMonitor:
    """Measures one run's scored chunks as one window."""

    def __init__(self, spec: ProjectSpec, ctx: Context, version: str, run_date: date) -> None:
        self.spec, self.ctx, self.version = spec, ctx, version
        self.window = WindowMeasurement(spec, reference_for(spec, ctx, version))
        midnight = datetime.combine(run_date, time(), UTC)
        self.bounds = next(window_bounds(spec, midnight, midnight + timedelta(microseconds=1)))

    def add(self, chunk: ScoredChunk) -> None:
        if chunk.features is not None and len(chunk.features):
            # A writable copy: the sketches refuse read-only (zero-copy Arrow) arrays.
            score = np.array(chunk.scored.column("score").to_numpy(zero_copy_only=False), float)
            labels = chunk.labels
            if labels is None:  # the input has no target column
                labels = pd.Series([None] * len(score), dtype=object)
            scored = chunk.scored
            answers = (
                pd.Series(scored.column("label").to_pylist(), dtype=object)
                if "label" in scored.schema.names
                else None
            )
            self.window.add(chunk.features.reset_index(drop=True), score, labels, answers)
        refused = refusal_counts(chunk.rejects)
        if chunk.refused_labels and self.spec.target is not None:
            refused[self.spec.target] = chunk.refused_labels  # unlabelled rows, still scored
        self.window.refused(chunk.rejects.num_rows, refused)

    def finish(self) -> MonitorResult:
        """Store the window (replacing a rerun's) and judge the batch series' alerts."""
        rows = self.window.finish()
        store_window(self.ctx.store, self.spec, self.version, self.bounds, rows, BATCH_SOURCE)
        result = MonitorResult(source=BATCH_SOURCE)
        result.windows.append(WindowSummary.of(self.bounds, self.version, self.window.rows, rows))
        judge_and_notify(self.spec, self.ctx.store, result)
        return result
