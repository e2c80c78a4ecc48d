"""LightGBM's own model, for the rows its ONNX graph may score differently.

ONNX tree ensembles compare float32 inputs with float32 thresholds, while LightGBM compares
float64 values with float64 thresholds: a value whose float32 rounding equals a split's float32
threshold can fall on the other side of that split. :class:`ExactTrees` finds those rows from
the thresholds written in LightGBM's model text (no ONNX parsing) and scores them with LightGBM
itself.

Importing LightGBM takes seconds (it brings pandas, and scikit-learn where installed) while the
rows that need it are rare, so serving loads it on a background thread when the model is
(``preload``): it is ready without waiting for it, and a row that needs it before it is there
waits for it. Batch scoring, whose rows are scored by the model's native code, loads it only
if a row needs it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

_ZERO = np.float32(0.0)  # x + 0.0 is x, except -0.0 + 0.0 = 0.0
#: LightGBM's decision_type bit for a categorical split (its threshold indexes a category
#: list; categories are small integers, exact in float32).
_CATEGORICAL_SPLIT = 1


def split_thresholds(model_text: str) -> list[tuple[int, frozenset[float]]]:
    """Each feature's numeric split thresholds in a LightGBM model, as float32 values."""
    by_feature: dict[int, set[float]] = {}
    features: list[str] = []
    thresholds: list[str] = []
    for line in model_text.splitlines():
        key, _, value = line.partition("=")
        if key == "Tree":  # a one-leaf tree has no split lines: forget the previous tree's
            features, thresholds = [], []
        elif key == "split_feature":
            features = value.split()
        elif key == "threshold":
            thresholds = value.split()
        elif key == "decision_type":
            for feature, threshold, kind in zip(features, thresholds, value.split(), strict=True):
                if not int(kind) & _CATEGORICAL_SPLIT:
                    by_feature.setdefault(int(feature), set()).add(float(np.float32(threshold)))
    return [(feature, frozenset(values)) for feature, values in sorted(by_feature.items())]


class ExactTrees:
    """Which rows sit on a split threshold, and LightGBM's scores for them."""

    def __init__(
        self, model_text: str, classifier: bool, binary: frozenset[int] = frozenset(),
        preload: bool = True,
    ) -> None:  # fmt: skip
        """``binary``: the features that only take 0.0 and 1.0 (one-hot columns);
        ``preload``: start loading LightGBM now rather than when a row first needs it."""
        self.splits = split_thresholds(model_text)
        # Every threshold of every feature: a row sharing no value with it (nearly all rows)
        # is cleared by one set operation, on the columns the trees split on (a wide row, a
        # text column's terms, is read there only).
        self._any_threshold = frozenset().union(*(values for _, values in self.splits))
        self._split_columns = np.array([column for column, _ in self.splits], dtype=np.int64)
        # Frames: a binary feature is checked only for the 0/1 values among its thresholds
        # (usually none: its split sits between them); the others' values are looked up among
        # their thresholds by a hash, or, in a matrix of mostly zeros (text terms), only the
        # nonzero ones, all columns at once, by a key of the column and the value's bits.
        checked = [
            (column, values & {0.0, 1.0} if column in binary else values)
            for column, values in self.splits
        ]
        checked = [(column, values) for column, values in checked if values]
        self._frame_columns = np.array([column for column, _ in checked], dtype=np.int64)
        self._thresholds = [np.array(sorted(values), np.float32) + _ZERO for _, values in checked]
        keys = [
            (position << 32) | int(np.float32(value).view(np.uint32))
            for position, (_, values) in enumerate(checked)
            for value in values
            if value != 0.0
        ]
        self._threshold_keys = np.array(sorted(keys), dtype=np.uint64)
        self._zero_split = np.array(
            [p for p, (_, values) in enumerate(checked) if 0.0 in values], dtype=np.int64
        )
        self._classifier = classifier
        self._booster: Any = None
        self._failure: BaseException | None = None
        self._loaded = threading.Event()
        self._model_text: str | None = model_text  # until the load starts
        self._starting = threading.Lock()
        if preload:
            self._start_loading()

    def _start_loading(self) -> None:
        with self._starting:
            model_text, self._model_text = self._model_text, None
        if model_text is not None:
            threading.Thread(
                target=self._load, args=(model_text,), name="tabops-lightgbm", daemon=True
            ).start()

    def _load(self, model_text: str) -> None:
        try:
            import lightgbm

            self._booster = lightgbm.Booster(model_str=model_text)
        except BaseException as exc:  # re-raised where the booster is needed
            self._failure = exc
        finally:
            self._loaded.set()

    def on_threshold(self, single: np.ndarray) -> np.ndarray:
        """Rows (of the float32 matrix) with a value on a split threshold."""
        if len(single) == 1:  # the serving path: set lookups beat numpy calls for one row
            used = single[0, self._split_columns].tolist()
            if self._any_threshold.isdisjoint(used):
                return np.zeros(1, dtype=bool)
            pairs = zip(used, self.splits, strict=True)
            return np.array([any(v in values for v, (_, values) in pairs)])
        used = single[:, self._frame_columns]
        if np.count_nonzero(used) * 4 < used.size:
            return self._nonzero_on_threshold(used)
        import pyarrow as pa
        import pyarrow.compute as pc

        mask = np.zeros(len(single), dtype=bool)
        for position, values in enumerate(self._thresholds):
            # Arrow's hash lookup compares bits: -0.0 is made 0.0 on both sides first.
            found = pc.is_in(pa.array(used[:, position] + _ZERO), value_set=pa.array(values))
            mask |= found.to_numpy(zero_copy_only=False)
        return mask

    def _nonzero_on_threshold(self, used: np.ndarray) -> np.ndarray:
        """:meth:`on_threshold` of the split columns ``used``, mostly zeros."""
        import pyarrow as pa
        import pyarrow.compute as pc

        rows, positions = np.nonzero(used)  # -0.0 is zero too
        bits = np.ascontiguousarray(used[rows, positions], dtype=np.float32).view(np.uint32)
        keys = (positions.astype(np.uint64) << np.uint64(32)) | bits.astype(np.uint64)
        found = pc.is_in(pa.array(keys), value_set=pa.array(self._threshold_keys))
        mask = np.zeros(len(used), dtype=bool)
        mask[rows[found.to_numpy(zero_copy_only=False)]] = True
        if len(self._zero_split):
            mask |= (used[:, self._zero_split] == 0.0).any(axis=1)
        return mask

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """LightGBM's scores for ``rows`` (float64), shaped as the ONNX graph's output."""
        self._start_loading()
        self._loaded.wait()
        if self._failure is not None:
            raise RuntimeError("LightGBM could not load the model") from self._failure
        scores = np.asarray(self._booster.predict(rows, num_threads=1), dtype=np.float64)
        return as_outputs(scores, self._classifier)


def as_outputs(scores: np.ndarray, classifier: bool) -> np.ndarray:
    """LightGBM's predictions shaped as the ONNX graph's output: a classifier's probabilities
    (rows, classes), a regressor's predictions (rows,)."""
    if classifier and scores.ndim == 1:  # binary: P(second class)
        return np.column_stack([1 - scores, scores])
    return scores.reshape(len(scores), -1) if classifier else scores
