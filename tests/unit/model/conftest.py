"""Small synthetic projects for model tests: a known signal so that metrics can be checked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from tabops.context import Context
from tabops.data.snapshots import write_snapshot
from tabops.model.train import Candidate, TrainData
from tabops.model.tune import Trial
from tabops.spec import ProjectSpec, parse_spec
from tabops.store import schema


def synthetic_table(rows: int = 400, seed: int = 0, classes: int = 2) -> pa.Table:
    """Features with a known signal: ``x`` and colour 'red' raise the label's odds."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    color = rng.choice(["red", "blue", "green"], size=rows)
    noise = rng.normal(scale=0.5, size=rows)
    signal = 2 * x + (color == "red") + noise
    if classes == 2:
        label = np.where(signal > 0.3, "yes", "no")
    else:
        label = np.array(["low", "mid", "high"])[np.digitize(signal, [-0.5, 1.0])]
    return pa.table(
        {
            "id": np.arange(rows),
            "x": x,
            "n": rng.integers(0, 10, size=rows),
            "color": color,
            "flag": rng.random(rows) > 0.5,
            "when": pa.array(
                (
                    np.datetime64("2026-01-01T00:00:00") + np.arange(rows).astype("timedelta64[h]")
                ).astype("datetime64[us]"),
                pa.timestamp("us", tz="UTC"),
            ),
            "label": label,
            "value": signal * 10,
        }
    )


def synthetic_spec(task: str = "classification", **train: Any) -> ProjectSpec:
    columns: dict[str, Any] = {
        "id": {"type": "integer", "role": "id"},
        "x": {"type": "numeric"},
        "n": {"type": "integer"},
        "color": {"type": "categorical"},
        "flag": {"type": "boolean"},
        "when": {"type": "datetime", "role": "ignored"},
        "label": {
            "type": "categorical",
            "role": "target" if task == "classification" else "ignored",
        },
        "value": {"type": "numeric", "role": "target" if task == "regression" else "ignored"},
    }
    spec: dict[str, Any] = {
        "name": "synthetic",
        "task": task,
        "target": "label" if task == "classification" else "value",
        "source": {"path": "unused.csv"},
        "columns": columns,
        "train": {"trials": 3, "cv_folds": 2, **train},
    }
    return parse_spec(spec)


def add_snapshot(ctx: Context, spec: ProjectSpec, table: pa.Table) -> str:
    """Record ``table`` as the project's snapshot, as ingest would."""
    digest, path = write_snapshot(table, ctx.settings.snapshots_dir / spec.name)
    with ctx.store.connect() as conn:
        conn.execute(
            schema.snapshots.insert().values(
                project=spec.name, snapshot_hash=digest, path=str(path), rows=table.num_rows,
                columns=table.num_columns, batch_id="test", parent_hash=None, source="test",
                created_at=datetime.now(UTC),
            )
        )  # fmt: skip
    return digest


@dataclass
class RecordingRun:
    """A candidate run that keeps what it is given, in memory."""

    run_id: str
    trials: list[Trial] = field(default_factory=list)
    finished: list[Candidate] = field(default_factory=list)

    def trial_sink(self, trial: Trial) -> None:
        self.trials.append(trial)

    def finish(self, candidate: Candidate, data: TrainData) -> None:
        self.finished.append(candidate)


@dataclass
class RecordingTracking:
    runs: dict[str, RecordingRun] = field(default_factory=dict)
    best: Candidate | None = None

    def mark_best(self, candidate: Candidate) -> None:
        self.best = candidate

    @contextmanager
    def candidate_run(
        self, spec: ProjectSpec, data: TrainData, estimator: str
    ) -> Iterator[RecordingRun]:
        run = RecordingRun(f"run-{estimator}")
        self.runs[estimator] = run
        yield run


@pytest.fixture
def tracking() -> RecordingTracking:
    return RecordingTracking()
