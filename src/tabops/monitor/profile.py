"""The reference profile: per feature a mergeable summary (see sketches.py), plus the score
distribution and the target, built chunk by chunk so any number of rows fits in bounded
memory, and stored as JSON with the model version."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa

from tabops.data.contract import formatted_datetimes
from tabops.model.columns import feature_names
from tabops.monitor.sketches import (
    DEFAULT_CATEGORY_CAP,
    DEFAULT_KLL_K,
    CategorySketch,
    ColumnSketch,
    NumericSketch,
    sketch_from_dict,
)
from tabops.spec import ColumnType, ProjectSpec, Task

#: Bumped when the stored form changes incompatibly.
FORMAT_VERSION = 1
#: Columns summarised at once (one thread each), and the chunk size from which it pays.
PROFILE_THREADS = min(4, os.cpu_count() or 1)
PARALLEL_ROWS = 50_000
#: Spec types profiled as categories; the rest (but text) as numbers.
CATEGORY_TYPES = (ColumnType.CATEGORICAL, ColumnType.BOOLEAN)

Chunk: TypeAlias = pd.DataFrame | pa.RecordBatch | pa.Table


@dataclass
class DatasetProfile:
    """Summaries of one dataset: features by name (with their spec type), the model's scores
    and the target, when given. Datetimes are summarised as epoch seconds."""

    rows: int = 0
    features: dict[str, ColumnSketch] = field(default_factory=dict)
    types: dict[str, ColumnType] = field(default_factory=dict)
    #: Features not profiled, with the reason.
    skipped: dict[str, str] = field(default_factory=dict)
    score: NumericSketch | None = None
    target: ColumnSketch | None = None
    positive_class: str | None = None

    @property
    def label_rate(self) -> float | None:
        """Share of labelled rows in the positive class (binary classification)."""
        target = self.target
        if not isinstance(target, CategorySketch) or self.positive_class is None:
            return None
        return target.counts.get(self.positive_class, 0) / target.count if target.count else None

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        """The profile of both partitions' rows; both must come from the same spec."""
        if self.types != other.types:
            raise ValueError("cannot merge profiles of different feature columns")
        return DatasetProfile(
            rows=self.rows + other.rows,
            features={n: _merge(s, other.features[n]) for n, s in self.features.items()},
            types=dict(self.types),
            skipped=dict(self.skipped),
            score=_merge_scores(self.score, other.score),
            target=_merge_optional(self.target, other.target),
            positive_class=self.positive_class,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "rows": self.rows,
            "features": {
                name: {"type": self.types[name].value, **sketch.to_dict()}
                for name, sketch in self.features.items()
            },
            "skipped": self.skipped,
            "score": None if self.score is None else self.score.to_dict(),
            "target": None if self.target is None else self.target.to_dict(),
            "positive_class": self.positive_class,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported profile format {data.get('format')!r}")
        score = data["score"]
        return cls(
            rows=int(data["rows"]),
            features={name: sketch_from_dict(d) for name, d in data["features"].items()},
            types={name: ColumnType(d["type"]) for name, d in data["features"].items()},
            skipped=dict(data["skipped"]),
            score=None if score is None else NumericSketch.from_dict(score),
            target=None if data["target"] is None else sketch_from_dict(data["target"]),
            positive_class=data["positive_class"],
        )

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DatasetProfile:
        return cls.from_dict(json.loads(raw))


class ProfileBuilder:
    """Builds a profile from chunks of rows (pandas frames or Arrow batches) in turn, holding
    only the summaries between chunks."""

    def __init__(
        self,
        spec: ProjectSpec,
        *,
        kll_k: int = DEFAULT_KLL_K,
        category_cap: int = DEFAULT_CATEGORY_CAP,
    ) -> None:
        self._spec = spec
        self._kll_k = kll_k
        self._category_cap = category_cap
        self._profile = DatasetProfile(positive_class=spec.positive_class)
        for name in feature_names(spec):
            kind = spec.columns[name].type
            if kind == ColumnType.TEXT:
                self._profile.skipped[name] = "free text has no distribution to compare"
                continue
            self._profile.types[name] = kind
            self._profile.features[name] = self._new_sketch(kind)

    def _new_sketch(self, kind: ColumnType) -> ColumnSketch:
        if kind in CATEGORY_TYPES:
            return CategorySketch(cap=self._category_cap)
        return NumericSketch(k=self._kll_k)

    def add(self, chunk: Chunk, scores: np.ndarray | pd.Series | None = None) -> None:
        """Summarise a chunk of rows; ``scores`` are the model's scores for the same rows.
        The target is summarised when the chunk has it."""
        frame = chunk.to_pandas() if isinstance(chunk, pa.RecordBatch | pa.Table) else chunk
        profile = self._profile
        profile.rows += len(frame)
        spec = self._spec
        jobs = [(sketch, frame[name], spec.columns[name].type, spec, name)
                for name, sketch in profile.features.items()]  # fmt: skip
        # Each column has its own sketch, so columns are summarised in parallel: sorting and
        # counting release the GIL for most of their time.
        if len(frame) >= PARALLEL_ROWS and len(jobs) > 1:
            with ThreadPoolExecutor(min(len(jobs), PROFILE_THREADS)) as pool:
                list(pool.map(lambda job: _update(*job), jobs))
        else:
            for job in jobs:
                _update(*job)
        if scores is not None:
            if profile.score is None:
                profile.score = NumericSketch(k=self._kll_k)
            profile.score.update(np.asarray(scores, dtype=np.float64))
        target = self._spec.target
        if target in frame.columns:
            classification = self._spec.task == Task.CLASSIFICATION
            kind = ColumnType.CATEGORICAL if classification else ColumnType.NUMERIC
            if profile.target is None:
                profile.target = self._new_sketch(kind)
            _update(profile.target, frame[target], kind, self._spec, target)

    def build(self) -> DatasetProfile:
        return self._profile


def profile_chunks(
    spec: ProjectSpec,
    chunks: Iterable[Chunk],
    scores: Iterable[np.ndarray | pd.Series] | None = None,
    *,
    kll_k: int = DEFAULT_KLL_K,
) -> DatasetProfile:
    """The profile of all rows of ``chunks`` (with the matching chunks of ``scores``)."""
    builder = ProfileBuilder(spec, kll_k=kll_k)
    score_chunks = iter(scores) if scores is not None else None
    for chunk in chunks:
        builder.add(chunk, None if score_chunks is None else next(score_chunks))
    return builder.build()


def profile_frame(
    spec: ProjectSpec, frame: Chunk, scores: np.ndarray | pd.Series | None = None
) -> DatasetProfile:
    """The profile of one frame of rows."""
    builder = ProfileBuilder(spec)
    builder.add(frame, scores)
    return builder.build()


def _update(
    sketch: ColumnSketch, values: pd.Series, kind: ColumnType, spec: ProjectSpec, name: str
) -> None:
    if isinstance(sketch, CategorySketch):
        if kind == ColumnType.BOOLEAN:
            _add_booleans(sketch, _numbers(values))
        else:
            sketch.update(values)
    elif kind == ColumnType.DATETIME:
        sketch.update(_epoch_seconds(values, spec.columns[name].formats))
    else:
        sketch.update(_numbers(values))


def _numbers(values: pd.Series) -> np.ndarray:
    # As the model frame reads them: anything not a number counts as missing.
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    if values.dtype == np.bool_:  # no missing values: 1.0 and 0.0 directly
        return values.to_numpy(dtype=np.float64)
    numbers = pd.to_numeric(values.astype("object"), errors="coerce")
    return np.asarray(numbers, dtype=np.float64)


def _add_booleans(sketch: CategorySketch, numbers: np.ndarray) -> None:
    # Booleans as the categories "true"/"false", whatever their dtype (bool, 0/1, nullable).
    trues, falses = int((numbers == 1.0).sum()), int((numbers == 0.0).sum())
    counts = {key: n for key, n in (("true", trues), ("false", falses)) if n}
    sketch.add_counts(counts, missing=len(numbers) - trues - falses)


def _epoch_seconds(values: pd.Series, formats: tuple[str, ...]) -> np.ndarray:
    seconds = (formatted_datetimes(values, formats) - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(
        seconds=1
    )
    return np.asarray(seconds, dtype=np.float64)


def _merge(a: ColumnSketch, b: ColumnSketch) -> ColumnSketch:
    if isinstance(a, NumericSketch) and isinstance(b, NumericSketch):
        return a.merge(b)
    if isinstance(a, CategorySketch) and isinstance(b, CategorySketch):
        return a.merge(b)
    raise ValueError("cannot merge a numeric summary with a category summary")


def _merge_scores(a: NumericSketch | None, b: NumericSketch | None) -> NumericSketch | None:
    if a is None or b is None:
        return a if b is None else b
    return a.merge(b)


def _merge_optional(a: ColumnSketch | None, b: ColumnSketch | None) -> ColumnSketch | None:
    if a is None or b is None:
        return a if b is None else b
    return _merge(a, b)
