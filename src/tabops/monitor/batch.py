"""``tabops monitor run --data``: a file or a database table measured like the prediction log.

Its rows are read in chunks (memory bounded by the chunk size and the number of windows, not
by the source's size), typed by the data contract exactly as ingest types them, scored by the
chosen version with the predictor serving loads, and measured per window by the same
:class:`~tabops.monitor.window.WindowMeasurement` as the log. Windows follow the spec's
timestamp column when the data has it (UTC-aligned like the log's); otherwise the whole source
is one window: the monitor window (hour, day or week) the run happens in, so a rerun within it
replaces the results and a later run adds the next point of the source's series.

Rows with a value the contract refuses (wrong type, out of range, unknown category, missing
where not nullable) are not scored: they are counted per window (``refused_rows``, and
``refused_values`` per column and check), as ingest would quarantine them. A refused target
value counts too, and its row is measured as unlabelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tabops.context import Context
from tabops.data.contract import check_values, target_labels
from tabops.data.sources import RowStream, header_hint, stream_file, stream_sql_table
from tabops.errors import DataError, TabopsError
from tabops.model.columns import feature_names
from tabops.model.frame import model_frame
from tabops.monitor.reference import reference_for
from tabops.monitor.run import (
    DataCounts,
    MonitorResult,
    WindowSummary,
    judge_and_notify,
    store_window,
    window_bounds,
)
from tabops.monitor.window import WindowMeasurement
from tabops.progress import SILENT, Progress
from tabops.registry.models import registry_for
from tabops.serve.model import ServedModel, load_chosen
from tabops.spec import MONITOR_WINDOWS, ColumnRole, ProjectSpec
from tabops.store.monitoring import LOG_SOURCE

#: Rows read, typed, scored and profiled at once.
CHUNK_ROWS = 100_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_EPOCH = datetime(1970, 1, 5, tzinfo=UTC)  # window_bounds' epoch: a Monday
_OUTSIDE, _UNPLACED = -1, -2  # window numbers of rows measured in no window

_TICK = timedelta(microseconds=1)

Bounds = tuple[datetime, datetime]


@dataclass(frozen=True)
class DataSource:
    """A file (CSV, compressed CSV or Parquet) or, with ``table``, a table of the database
    at ``location`` (an SQLAlchemy URL, as the spec's ``source.url``)."""

    location: str
    table: str | None = None

    @property
    def name(self) -> str:
        """The default source name: the table's, or the file's up to its first dot."""
        if self.table is not None:
            return self.table
        return Path(self.location).name.split(".")[0] or "data"

    def open(self, spec: ProjectSpec, chunk_rows: int) -> RowStream:
        if self.table is not None:
            return stream_sql_table(self.location, self.table, chunk_rows)
        return stream_file(self.location, spec.source.csv, chunk_rows)


def check_source_name(name: str) -> str:
    """``name`` if it can name a source's series: not the log's, and plain."""
    if name == LOG_SOURCE:
        raise TabopsError(
            f"--name {LOG_SOURCE} is the prediction log's series; name the data otherwise."
        )
    if not _NAME.fullmatch(name):
        raise TabopsError(
            f"--name '{name}' is not a valid source name: start with a letter or digit, then "
            "at most 127 letters, digits, '_', '.' or '-'."
        )
    return name


def run_data_monitor(
    spec: ProjectSpec,
    ctx: Context,
    source: DataSource,
    *,
    name: str | None = None,
    version: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress = SILENT,
    at: datetime | None = None,
) -> MonitorResult:
    """Measure ``source`` with ``version`` (default: the champion), store its windows under
    ``name`` (default: the table's or file's name), judge and deliver its alerts. Rows without
    a timestamp column fall in the window holding ``at`` (default: now)."""
    result = MonitorResult(source=check_source_name(name or source.name), data=DataCounts())
    stream = source.open(spec, chunk_rows)  # a missing file or column: said before loading
    _check_features(spec, stream)
    served = load_chosen(spec, registry_for(spec, ctx), version)
    reference = reference_for(spec, ctx, served.version.version)
    reader = _ChunkReader(spec, stream, served, start, end)
    windows: dict[Bounds, WindowMeasurement] = {}
    now = at or datetime.now(UTC)
    untimed = None if reader.timestamp else next(window_bounds(spec, now, now + _TICK))

    def window(bounds: Bounds) -> WindowMeasurement:
        if bounds not in windows:
            windows[bounds] = WindowMeasurement(spec, reference)
        return windows[bounds]

    counts = result.data
    assert counts is not None
    with progress.step(f"Measuring {stream.description}", stream.expected_rows) as advance:
        for batch in stream.batches():
            reader.measure(batch, counts, window, untimed)
            advance(batch.num_rows)
    counts.rejected = len(stream.rejects)
    model_version = served.version.version
    for bounds in sorted(windows):
        rows = windows[bounds].finish()
        store_window(ctx.store, spec, model_version, bounds, rows, result.source)
        summary = WindowSummary.of(bounds, model_version, windows[bounds].rows, rows)
        result.windows.append(summary)
    judge_and_notify(spec, ctx.store, result)
    return result


def _check_features(spec: ProjectSpec, stream: RowStream) -> None:
    present = set(stream.columns)
    missing = [n for n in feature_names(spec) if n not in present]
    if missing:
        raise DataError(
            f"{stream.description} lacks the model's feature column(s) {missing}; it "
            f"has {sorted(present)[:20]}. Pass data with the spec's columns."
            + header_hint(stream.columns, missing, spec.source.csv.encoding)
        )


class _ChunkReader:
    """Types, scores and windows one chunk of rows at a time."""

    def __init__(
        self,
        spec: ProjectSpec,
        stream: RowStream,
        served: ServedModel,
        start: datetime | None,
        end: datetime | None,
    ) -> None:
        present = set(stream.columns)
        self.spec, self.served = spec, served
        stamps = [n for n in spec.columns_with_role(ColumnRole.TIMESTAMP) if n in present]
        self.timestamp = stamps[0] if stamps else None
        if self.timestamp is None and (start is not None or end is not None):
            raise TabopsError(
                f"--since/--until select rows by their timestamp, but {stream.description} "
                "has no timestamp column (a column with role: timestamp in the spec)."
            )
        self.start = start
        self.end = end
        self.target = spec.target if spec.target in present else None
        self.size = timedelta(seconds=MONITOR_WINDOWS[spec.monitor.window])

    def measure(
        self,
        batch: pa.RecordBatch,
        counts: DataCounts,
        window: Callable[[Bounds], WindowMeasurement],
        untimed: Bounds | None,
    ) -> None:
        table = pa.Table.from_batches([batch])
        rows = table.num_rows
        counts.read += rows
        nulls = self.spec.source.csv.null_values
        typed: dict[str, pa.Array] = {}
        failed: dict[str, dict[str, np.ndarray]] = {}
        refused = np.zeros(rows, dtype=bool)
        checked = feature_names(self.spec) + [c for c in (self.timestamp,) if c is not None]
        for name in checked:
            typed[name], checks = check_values(_column(table, name), self.spec.columns[name], nulls)
            failed[name] = {check: mask for check, mask in checks.items() if mask.any()}
            for mask in failed[name].values():
                refused |= mask
        label = self._labels(table, failed)
        stamps = typed[self.timestamp] if self.timestamp else None
        keys, bounds = self._windows(stamps, rows, untimed)
        inside = keys >= 0
        counts.outside += int((keys == _OUTSIDE).sum())
        counts.unplaced += int((keys == _UNPLACED).sum())
        counts.refused += int((refused & inside).sum())
        good = ~refused & inside
        counts.measured += int(good.sum())
        features = pa.table({n: typed[n] for n in feature_names(self.spec)}).to_pandas()[good]
        (score, answers), labels, good_keys = self._score(features), label[good], keys[good]
        for key in np.unique(keys[inside]).tolist():
            measuring = window(bounds[key])
            here = keys == key
            found = {
                name: {check: int((mask & here).sum()) for check, mask in checks.items()}
                for name, checks in failed.items()
            }
            measuring.refused(int((refused & here).sum()), found)
            chosen = good_keys == key
            if chosen.any():
                answered = None if answers is None else answers[chosen]
                measuring.add(features[chosen], score[chosen], labels[chosen], answered)

    def _labels(self, table: pa.Table, failed: dict[str, dict[str, np.ndarray]]) -> pd.Series:
        """Each row's label (:func:`target_labels`); refused ones are counted as refused values
        of the target column."""
        if self.target is None:
            return pd.Series([None] * table.num_rows, dtype=object)
        labels, failed[self.target] = target_labels(_column(table, self.target), self.spec)
        return labels

    def _windows(
        self, stamps: pa.Array | None, rows: int, untimed: Bounds | None
    ) -> tuple[np.ndarray, dict[int, Bounds]]:
        """Each row's window number (or _OUTSIDE --since/--until, or _UNPLACED: no valid
        timestamp) and the bounds of each number."""
        if stamps is None:
            assert untimed is not None
            return np.zeros(rows, dtype=np.int64), {0: untimed}
        valid = np.asarray(pc.is_valid(stamps).to_numpy(zero_copy_only=False), dtype=bool)
        micros = pc.fill_null(pc.cast(stamps, pa.int64()), 0).to_numpy(zero_copy_only=False)
        keys = np.where(valid, (micros - _micros(_EPOCH)) // _micros(self.size), _UNPLACED)
        if self.start is not None:
            keys[valid & (micros < _micros(self.start))] = _OUTSIDE
        if self.end is not None:
            keys[valid & (micros >= _micros(self.end))] = _OUTSIDE
        bounds = {
            k: (_EPOCH + self.size * k, _EPOCH + self.size * (k + 1))
            for k in np.unique(keys[keys >= 0]).tolist()
        }
        return keys, bounds

    def _score(self, features: pd.DataFrame) -> tuple[np.ndarray, pd.Series | None]:
        """The rows' scores, and a multiclass model's answers (the classes it predicts)."""
        served = self.served
        multiclass = served.classes is not None and served.positive is None
        if features.empty:
            return np.zeros(0), pd.Series([], dtype=object) if multiclass else None
        raw = served.predictor.predict_frame(model_frame(features, self.spec))
        score = np.asarray(served.score_of(raw), dtype=float)
        if not multiclass:
            return score, None
        assert served.classes is not None
        answers = np.asarray(served.classes, dtype=object)[np.asarray(raw).argmax(axis=1)]
        return score, pd.Series(answers, index=features.index)


def _micros(moment: datetime | timedelta) -> int:
    """Microseconds since the Unix epoch (a moment) or in all (a duration)."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return moment // timedelta(microseconds=1)


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()
