"""Compile a fitted pipeline into a fast predictor, checked against the pipeline itself.

The sklearn pipeline spends ~5 ms per row in pandas and ColumnTransformer overhead around
~25 µs of model math. The compiled form removes that overhead:

* the preprocessing becomes an :class:`EncoderPlan`, the fitted parameters of tabops'
  ColumnTransformer (imputer statistics, scaler moments, one-hot positions) applied with plain
  Python for one row and with numpy for a frame, after the pipeline's datetime step (its
  columns, expanded by the functions that step uses: :mod:`tabops.model.datetimes`);
* the estimator becomes an ONNX graph (onnxmltools for LightGBM and XGBoost, skl2onnx for
  scikit-learn estimators) run by ONNX Runtime on one thread.

Parity is checked on the version's frozen test rows; a pipeline that cannot be compiled, or
whose compiled scores differ by more than :data:`PARITY_TOLERANCE`, is served by the sklearn
pipeline instead, with the reason recorded (never a silent mismatch).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tabops.model.columns import MISSING_CATEGORY
from tabops.model.datetimes import DATETIME_STEP, array_parts, part_columns, value_parts
from tabops.model.exact import ExactTrees

if TYPE_CHECKING:  # pandas and pyarrow load with the first frame: one row never needs them
    import pandas as pd
    import pyarrow as pa

log = logging.getLogger(__name__)

#: Largest allowed |compiled - reference| score difference on the frozen test rows; for
#: regression, relative to the largest prediction's magnitude when it is above 1 (a tree
#: ensemble's float32 sums err in proportion to their size, not to each row's value: a
#: flight delay of 3 min among predictions in the hundreds differs by ~1e-5 of those).
PARITY_TOLERANCE = 1e-5
#: Rows compared one at a time (the serving path) besides the whole-frame comparison.
ROW_PARITY_ROWS = 200
_ONNX_OPSET = 15  # the newest opset onnxmltools' tree converters support
_UNKNOWN_PROBE = "\x00tabops-unknown\x00"
#: Most bytes of encoded matrix scored at once (see OnnxPredictor.predict_frame).
_BLOCK_BYTES = 64 * 1024 * 1024


class Predictor(Protocol):
    """Scores for model-frame rows: class probabilities (n, k) or predictions (n,)."""

    kind: str

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray: ...

    def predict_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray: ...


class NotCompilableError(Exception):
    """The pipeline has a step the compiler does not handle; the message says which."""


@dataclass(frozen=True)
class EncoderPlan:
    """The fitted preprocessing as data: what each model-frame column becomes."""

    numeric: list[str]
    medians: list[float]
    indicators: list[int]  # positions in ``numeric`` that get a missing-indicator column
    means: list[float]  # scaler moments over numeric + indicator columns
    scales: list[float]
    categorical: list[str]
    lookups: list[dict[str, int]]  # category -> output position within the feature's block
    unknown: list[int | None]  # position for an unseen category (the infrequent column)
    widths: list[int]
    numeric_first: bool = True
    datetimes: list[str] = field(default_factory=list)  # expanded into parts among ``numeric``
    # Text columns, after the numbers and categories: TF-IDF with each column's fitted terms
    # (term -> position in its block) and their inverse document frequencies.
    texts: list[str] = field(default_factory=list)
    vocabularies: list[dict[str, int]] = field(default_factory=list)
    idfs: list[list[float]] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.means) + sum(self.widths) + sum(len(idf) for idf in self.idfs)

    @property
    def onehot_positions(self) -> frozenset[int]:
        """The matrix columns of the one-hot blocks (each only ever 0.0 or 1.0)."""
        first = len(self.means) if self.numeric_first else 0
        return frozenset(range(first, first + sum(self.widths)))

    @property
    def columns(self) -> list[str]:
        """The model-frame columns the plan reads (datetimes before their expansion)."""
        expanded = {c for name in self.datetimes for c in part_columns(name)}
        plain = [c for c in self.numeric if c not in expanded]
        return plain + self.datetimes + self.categorical + self.texts

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EncoderPlan:
        data = json.loads(text)
        data["lookups"] = [dict(lookup) for lookup in data["lookups"]]
        data["vocabularies"] = [dict(terms) for terms in data.get("vocabularies", [])]
        return cls(**data)

    def encode_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """The model matrix (float64) for a model frame (vectorised)."""
        codes = [
            _frame_codes(frame[name], lookup, unknown)
            for name, lookup, unknown in zip(
                self.categorical, self.lookups, self.unknown, strict=True
            )
        ]
        numbers = self._numbers(frame) if self.numeric else None
        documents = [frame[name].tolist() for name in self.texts]
        return self._assemble(numbers, codes, documents, len(frame), np.dtype(np.float64))

    def encode_arrays(
        self, columns: Mapping[str, pa.Array], rows: int, dtype: type = np.float32
    ) -> np.ndarray:
        """The model matrix straight from the data contract's typed Arrow columns (float64,
        int64, bool, string, timestamp[us, UTC]), without pandas: equal to
        ``encode_frame(model_frame(...))`` cast to ``dtype`` (the numbers are computed in
        float64 either way). Categories are dictionary-encoded, so each distinct value is
        looked up once."""
        import pyarrow as pa

        codes = [
            _arrow_codes(columns[name], lookup, unknown)
            for name, lookup, unknown in zip(
                self.categorical, self.lookups, self.unknown, strict=True
            )
        ]
        numbers = None
        if self.numeric:
            parts: dict[str, np.ndarray] = {}
            for name in self.datetimes:
                stamps = columns[name].cast(pa.timestamp("us"))  # UTC, as naive times
                parts.update(zip(part_columns(name), array_parts(_numpy(stamps)).T, strict=True))
            numbers = np.empty((rows, len(self.numeric)))
            for position, name in enumerate(self.numeric):
                numbers[:, position] = (
                    parts[name] if name in parts else _numpy(_as_float(columns[name]))
                )
        documents = [columns[name].to_pylist() for name in self.texts]
        return self._assemble(numbers, codes, documents, rows, np.dtype(dtype))

    def _assemble(
        self, numbers: np.ndarray | None, codes: list[np.ndarray],
        documents: list[list[str | None]], rows: int, dtype: np.dtype,
    ) -> np.ndarray:  # fmt: skip
        """The matrix from the numeric columns (float64, NaN for missing), each
        categorical's one-hot position per row (-1: no column) and each text column's
        documents, written into one preallocated array (the scaling done in float64, then
        stored as ``dtype``)."""
        matrix = np.zeros((rows, self.width), dtype)
        scaled = len(self.means)
        start = scaled if self.numeric_first else 0
        if numbers is not None:
            first = 0 if self.numeric_first else sum(self.widths)
            count = len(self.numeric)
            means, scales = np.asarray(self.means), np.asarray(self.scales)
            missing = np.isnan(numbers)
            imputed = np.where(missing, np.asarray(self.medians), numbers)
            matrix[:, first : first + count] = (imputed - means[:count]) / scales[:count]
            flags = missing[:, self.indicators].astype(np.float64)
            matrix[:, first + count : first + scaled] = (flags - means[count:]) / scales[count:]
        every = np.arange(rows)
        for positions, width in zip(codes, self.widths, strict=True):
            hit = positions >= 0
            matrix[every[hit], start + positions[hit]] = 1.0
            start += width
        self._fill_texts(matrix, documents)
        return matrix

    def _fill_texts(self, matrix: np.ndarray, documents: list[list[str | None]]) -> None:
        """Each text column's TF-IDF into its block of ``matrix`` (after every other column)."""
        start = len(self.means) + sum(self.widths)
        for docs, terms, idf in zip(documents, self.vocabularies, self.idfs, strict=True):
            rows: list[int] = []
            columns: list[int] = []
            weights: list[float] = []
            for row, doc in enumerate(docs):
                found, weighted = _tfidf(doc, terms, idf)
                rows += [row] * len(found)
                columns += found
                weights += weighted
            matrix[np.asarray(rows, np.int64), start + np.asarray(columns, np.int64)] = weights
            start += len(idf)

    def _numbers(self, frame: pd.DataFrame) -> np.ndarray:
        """The numeric columns as float64, datetime parts computed from their columns."""
        if not self.datetimes:
            return frame[self.numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        parts: dict[str, np.ndarray] = {}
        for name in self.datetimes:
            parts.update(zip(part_columns(name), array_parts(frame[name]).T, strict=True))
        return np.column_stack(
            [
                parts[c] if c in parts else frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
                for c in self.numeric
            ]
        ).reshape(len(frame), len(self.numeric))

    def encode_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The model matrix (float64) of model-frame rows, encoded one by one in plain Python
        (microseconds a row: the serving path); text weights go straight into their blocks."""
        dense = len(self.means) + sum(self.widths)
        values = np.array([self._dense_row(row) for row in rows], dtype=np.float64)
        if not self.texts:
            return values.reshape(len(rows), dense)
        matrix = np.zeros((len(rows), self.width))
        matrix[:, :dense] = values.reshape(len(rows), dense)
        self._fill_texts(matrix, [[row.get(name) for row in rows] for name in self.texts])
        return matrix

    def _dense_row(self, row: Mapping[str, Any]) -> list[float]:
        """One row's numbers and one-hot categories, in the matrix's order."""
        numbers: list[float] = []
        if self.datetimes:
            row = {**row}
            for name in self.datetimes:
                row.update(zip(part_columns(name), value_parts(row.get(name)), strict=True))
        if self.numeric:
            imputed = []
            flags = []
            for name, median in zip(self.numeric, self.medians, strict=True):
                value = row.get(name)
                missing = value is None or value != value  # None or NaN
                imputed.append(median if missing else float(value))  # type: ignore[arg-type]
                flags.append(1.0 if missing else 0.0)
            raw = imputed + [flags[i] for i in self.indicators]
            numbers = [(v - m) / s for v, m, s in zip(raw, self.means, self.scales, strict=True)]
        categories: list[float] = []
        for name, lookup, unknown, width in zip(
            self.categorical, self.lookups, self.unknown, self.widths, strict=True
        ):
            value = row.get(name)
            text = MISSING_CATEGORY if value is None or value != value else str(value)
            block = [0.0] * width
            position = lookup.get(text, unknown)
            if position is not None:
                block[position] = 1.0
            categories += block
        return numbers + categories if self.numeric_first else categories + numbers


#: scikit-learn's default token pattern: words of two or more word characters.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def _tfidf(doc: Any, terms: dict[str, int], idf: list[float]) -> tuple[list[int], list[float]]:
    """A document's TF-IDF as scikit-learn's default ``TfidfVectorizer`` computes it: lower
    case, the default tokens, counts of the fitted terms times their idf, scaled to unit
    length. Positions in the column's block and their weights; missing text is ''."""
    counts: dict[int, int] = {}
    for token in _TOKEN.findall(doc.lower() if isinstance(doc, str) else ""):
        position = terms.get(token)
        if position is not None:
            counts[position] = counts.get(position, 0) + 1
    weights = [count * idf[position] for position, count in counts.items()]
    length = math.sqrt(sum(w * w for w in weights))
    return list(counts), [w / length for w in weights] if length else weights


def _frame_codes(values: pd.Series, lookup: dict[str, int], unknown: int | None) -> np.ndarray:
    """Each value's one-hot position (-1: none), as the fitted encoder maps it (text)."""
    text = values.astype("object")
    text = text.where(text.notna(), MISSING_CATEGORY).astype(str)
    default = -1 if unknown is None else unknown
    return np.asarray(text.map(lookup).fillna(default).to_numpy(dtype=np.int64))


def _arrow_codes(values: pa.Array, lookup: dict[str, int], unknown: int | None) -> np.ndarray:
    """:func:`_frame_codes` of a typed column: strings looked up once per distinct value."""
    import pyarrow as pa

    if not pa.types.is_string(values.type):  # not the contract's type: the model frame's way
        from tabops.model.frame import category_text

        return _frame_codes(category_text(values.to_pandas()), lookup, unknown)
    encoded = values.dictionary_encode()
    default = -1 if unknown is None else unknown
    distinct = [lookup.get(text, default) for text in encoded.dictionary.to_pylist()]
    distinct.append(lookup.get(MISSING_CATEGORY, default))  # nulls
    indices = encoded.indices.fill_null(len(distinct) - 1)
    codes: np.ndarray = np.asarray(distinct, dtype=np.int64)[_numpy(indices)]
    return codes


def _as_float(values: pa.Array) -> pa.Array:
    """A numeric, integer or boolean column as float64 (nulls kept), rounded as numpy casts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return values if values.type == pa.float64() else pc.cast(values, pa.float64(), safe=False)


def _numpy(values: pa.Array) -> np.ndarray:
    """An Arrow array as numpy (nulls: NaN for floats, NaT for times)."""
    return np.asarray(values.to_numpy(zero_copy_only=False))


def plan_from_pipeline(pipeline: Any) -> EncoderPlan:
    """The :class:`EncoderPlan` of a fitted tabops pipeline (see ``features.py``)."""
    from sklearn.compose import ColumnTransformer

    pre = [step for _, step in pipeline.steps[:-1]]
    datetimes: list[str] = []
    if pipeline.steps[0][0] == DATETIME_STEP:  # DatetimeParts: its columns, expanded as it does
        datetimes = list(pre.pop(0).columns)
    if len(pre) != 1 or not isinstance(pre[0], ColumnTransformer):
        raise NotCompilableError("the pipeline is not one ColumnTransformer and an estimator")
    transformer = pre[0]
    if transformer.remainder not in ("drop", None):  # sparse output or not: the same values
        raise NotCompilableError("the ColumnTransformer keeps remainder columns")
    fitted = [
        (name, step, cols) for name, step, cols in transformer.transformers_ if name != "remainder"
    ]
    is_text = [name.startswith("text_") for name, _, _ in fitted]
    if is_text != sorted(is_text):  # numbers and categories first, then the text blocks
        raise NotCompilableError("the text steps do not come after the numbers and categories")
    texts = [
        (str(cols), step) for (_, step, cols), text in zip(fitted, is_text, strict=True) if text
    ]
    fitted = [entry for entry, text in zip(fitted, is_text, strict=True) if not text]
    names = [name for name, _, _ in fitted]
    if any(name not in ("numeric", "categorical") for name in names):
        others = [n for n in names if n not in ("numeric", "categorical")]
        raise NotCompilableError(f"no compiled form for the {', '.join(others)} step(s)")
    parts = {name: (step, list(cols)) for name, step, cols in fitted}
    text_parts = [_text_part(step) for _, step in texts]
    numeric: dict[str, Any] = {}
    if "numeric" in parts:
        numeric = _numeric_part(*parts["numeric"])
    categorical: dict[str, Any] = {}
    if "categorical" in parts:
        categorical = _categorical_part(*parts["categorical"])
    plan = EncoderPlan(
        numeric=numeric.get("columns", []),
        medians=numeric.get("medians", []),
        indicators=numeric.get("indicators", []),
        means=numeric.get("means", []),
        scales=numeric.get("scales", []),
        categorical=categorical.get("columns", []),
        lookups=categorical.get("lookups", []),
        unknown=categorical.get("unknown", []),
        widths=categorical.get("widths", []),
        numeric_first=bool(names) and names[0] == "numeric",
        datetimes=datetimes,
        texts=[column for column, _ in texts],
        vocabularies=[terms for terms, _ in text_parts],
        idfs=[idf for _, idf in text_parts],
    )
    n_out = getattr(pipeline[-1], "n_features_in_", plan.width)
    if plan.width != n_out:
        raise NotCompilableError(f"the plan makes {plan.width} features, the model takes {n_out}")
    return plan


#: The TfidfVectorizer settings :func:`_tfidf` computes (those tabops' pipeline leaves as they are).
_TFIDF_DEFAULTS = {
    "analyzer": "word", "lowercase": True, "preprocessor": None, "tokenizer": None,
    "token_pattern": r"(?u)\b\w\w+\b", "strip_accents": None, "stop_words": None,
    "ngram_range": (1, 1), "binary": False, "norm": "l2", "use_idf": True, "sublinear_tf": False,
}  # fmt: skip


def _text_part(step: Any) -> tuple[dict[str, int], list[float]]:
    """A fitted TfidfVectorizer's terms (term -> position) and inverse document frequencies."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    settings = step.get_params() if isinstance(step, TfidfVectorizer) else {}
    if any(settings.get(key, object()) != value for key, value in _TFIDF_DEFAULTS.items()):
        raise NotCompilableError("a text step is not TF-IDF with scikit-learn's default words")
    terms = {str(term): int(position) for term, position in step.vocabulary_.items()}
    return terms, [float(v) for v in step.idf_]


def _numeric_part(step: Any, columns: list[str]) -> dict[str, Any]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    kinds = [type(s) for _, s in getattr(step, "steps", [])]
    if kinds != [SimpleImputer, StandardScaler]:
        raise NotCompilableError("numeric preprocessing is not impute + scale")
    imputer, scaler = step[0], step[1]
    medians = [float(v) for v in imputer.statistics_]
    if len(medians) != len(columns) or not all(math.isfinite(v) for v in medians):
        raise NotCompilableError("a numeric column was empty in training (no median)")
    indicators = [int(i) for i in imputer.indicator_.features_] if imputer.add_indicator else []
    means = [
        float(v) for v in (scaler.mean_ if scaler.with_mean else np.zeros(scaler.n_features_in_))
    ]
    scales = [
        float(v) for v in (scaler.scale_ if scaler.with_std else np.ones(scaler.n_features_in_))
    ]
    return {
        "columns": columns,
        "medians": medians,
        "indicators": indicators,
        "means": means,
        "scales": scales,
    }


def _categorical_part(step: Any, columns: list[str]) -> dict[str, Any]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    kinds = [type(s) for _, s in getattr(step, "steps", [])]
    if kinds != [SimpleImputer, OneHotEncoder]:
        raise NotCompilableError("categorical preprocessing is not impute + one-hot")
    encoder = step[1]
    if step[0].fill_value != MISSING_CATEGORY or encoder.drop is not None:
        raise NotCompilableError("the categorical imputer or encoder is configured differently")
    infrequent = getattr(encoder, "infrequent_categories_", [None] * len(columns))
    widths = [
        len(cats) if rare is None else len(cats) - len(rare) + 1
        for cats, rare in zip(encoder.categories_, infrequent, strict=True)
    ]
    # Probe the fitted encoder with every known category and one unseen value, so that the
    # plan reproduces its mapping (infrequent grouping included) instead of re-deriving it.
    import pandas as pd

    longest = max(len(cats) for cats in encoder.categories_) + 1
    probe = pd.DataFrame(
        {
            name: [str(cats[r]) if r < len(cats) else _UNKNOWN_PROBE for r in range(longest)]
            for name, cats in zip(columns, encoder.categories_, strict=True)
        },
        dtype=object,
    )
    matrix = np.asarray(encoder.transform(probe.to_numpy()))  # fitted on arrays, not frames
    if matrix.shape[1] != sum(widths):
        raise NotCompilableError("the one-hot encoder's output width is not the expected one")
    lookups, unknown, start = [], [], 0
    for cats, width in zip(encoder.categories_, widths, strict=True):
        block = matrix[:, start : start + width]
        lookups.append({str(c): int(block[r].argmax()) for r, c in enumerate(cats)})
        unseen = block[len(cats)]
        unknown.append(int(unseen.argmax()) if unseen.any() else None)
        start += width
    return {"columns": columns, "lookups": lookups, "unknown": unknown, "widths": widths}


def estimator_to_onnx(estimator: Any, n_features: int) -> bytes:
    """The estimator as a serialised ONNX graph taking one float tensor ``x`` (n, features)."""
    import warnings

    from onnxmltools.convert.common.data_types import FloatTensorType

    types = [("x", FloatTensorType([None, n_features]))]
    module = type(estimator).__module__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if module.startswith("lightgbm"):
            from onnxmltools import convert_lightgbm

            model = convert_lightgbm(
                estimator, initial_types=types, zipmap=False, target_opset=_ONNX_OPSET
            )
        elif module.startswith("xgboost"):
            from onnxmltools import convert_xgboost

            model = convert_xgboost(estimator, initial_types=types, target_opset=_ONNX_OPSET)
        elif module.startswith("sklearn"):
            from skl2onnx import convert_sklearn
            from skl2onnx.common.data_types import FloatTensorType as SkFloat

            options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "classes_") else {}
            model = convert_sklearn(
                estimator,
                initial_types=[("x", SkFloat([None, n_features]))],
                options=options,
                target_opset=_ONNX_OPSET,
            )
        else:
            raise NotCompilableError(f"no ONNX converter for {type(estimator).__name__}")
    _dynamic_batch(model.graph)
    return bytes(model.SerializeToString())


def _dynamic_batch(graph: Any) -> None:
    """Give every output a dynamic first dimension: onnxmltools declares LightGBM's ``label``
    with a batch of 1, and ONNX Runtime warns on every call with more rows."""
    for output in graph.output:
        dims = output.type.tensor_type.shape.dim
        if dims and dims[0].dim_value == 1:
            dims[0].dim_param = "N"  # replaces the fixed value (a oneof)


class OnnxPredictor:
    """The compiled predictor: an :class:`EncoderPlan` then the estimator in ONNX Runtime.

    With ``exact_model`` (a LightGBM model as text), the rows ONNX's float32 comparisons could
    send down another branch are scored by LightGBM itself (:mod:`tabops.model.exact`), so
    every row gets the pipeline's score; ``preload_exact``: load LightGBM now, in the
    background, rather than when a row first needs it.
    """

    kind = "onnx"

    def __init__(
        self, plan: EncoderPlan, onnx_model: bytes, classes: list[str] | None,
        exact_model: str | None = None, preload_exact: bool = True,
    ) -> None:  # fmt: skip
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread each: on a small machine the pool costs more than a row's prediction.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.plan, self.classes = plan, classes
        # Kept to ship the predictor elsewhere (batch scoring's recipe).
        self.onnx_model, self.exact_model = onnx_model, exact_model
        self.session = ort.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])
        outputs = [o.name for o in self.session.get_outputs()]
        # Classifiers answer (label, probabilities); regressors one prediction column.
        self._output = [outputs[1] if classes is not None else outputs[0]]
        self._exact = None
        if exact_model is not None:
            self._exact = ExactTrees(
                exact_model, classes is not None, plan.onehot_positions, preload_exact
            )

    def _run(self, single: np.ndarray, exact: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Scores of the float32 matrix; ``exact(mask)`` gives the float64 rows of ``mask``
        for LightGBM, where a value sits on a split threshold."""
        result = np.asarray(self.session.run(self._output, {"x": single})[0], dtype=np.float64)
        if self.classes is None:
            result = result.reshape(-1)  # a regressor's (rows, 1), shaped as LightGBM's
        if self._exact is not None:
            ambiguous = self._exact.on_threshold(single)
            if ambiguous.any():
                result[ambiguous] = self._exact.scores(exact(ambiguous))
        return result

    def _run_matrix(self, matrix: np.ndarray) -> np.ndarray:
        return self._run(matrix.astype(np.float32), lambda mask: matrix[mask])

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        # The encoded matrix is rows x width float64 (one-hot blocks included): scored in
        # blocks, so memory stays bounded whatever the frame's size and the model's width.
        block = max(1, _BLOCK_BYTES // (8 * max(1, self.plan.width)))
        if len(frame) <= block:
            return self._run_matrix(self.plan.encode_frame(frame))
        parts = [
            self._run_matrix(self.plan.encode_frame(frame.iloc[start : start + block]))
            for start in range(0, len(frame), block)
        ]
        return np.concatenate(parts)

    def predict_arrays(self, columns: Mapping[str, pa.Array], rows: int) -> np.ndarray:
        """:meth:`predict_frame` of the typed Arrow columns (see
        :meth:`EncoderPlan.encode_arrays`): encoded straight into float32, in blocks; the
        few rows LightGBM rescores are encoded again in float64."""
        import pyarrow as pa

        plan = self.plan
        block = max(1, _BLOCK_BYTES // (4 * max(1, plan.width)))
        parts = []
        for start in range(0, rows, block):
            count = min(block, rows - start)
            piece = {name: columns[name].slice(start, count) for name in plan.columns}

            def exact(mask: np.ndarray, piece: Mapping[str, pa.Array] = piece) -> np.ndarray:
                chosen = pa.array(mask)
                rows_of = {name: values.filter(chosen) for name, values in piece.items()}
                return plan.encode_arrays(rows_of, int(mask.sum()), np.float64)

            parts.append(self._run(plan.encode_arrays(piece, count), exact))
        if not parts:
            width = 0 if self.classes is None else len(self.classes)
            return np.zeros((0, width) if width else 0)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def predict_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self._run_matrix(self.plan.encode_rows(rows))


class SklearnPredictor:
    """The reference path: the fitted pipeline itself (slow per row, always right)."""

    kind = "sklearn"

    def __init__(self, pipeline: Any, columns: list[str]) -> None:
        self.pipeline, self.columns = pipeline, columns
        self.classes = (
            [str(c) for c in pipeline.classes_] if hasattr(pipeline, "predict_proba") else None
        )

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        if self.classes is not None:
            return np.asarray(self.pipeline.predict_proba(frame), dtype=np.float64)
        return np.asarray(self.pipeline.predict(frame), dtype=np.float64).reshape(-1)

    def predict_rows(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        import pandas as pd

        frame = pd.DataFrame.from_records(list(rows), columns=self.columns)
        for name in frame.columns:  # the model frame's dtypes: float64 or object
            if frame[name].dtype == object and all(
                v is None or isinstance(v, float | int) for v in frame[name]
            ):
                frame[name] = frame[name].astype("float64")
        return self.predict_frame(frame)


@dataclass
class Compiled:
    """The outcome of compiling one pipeline."""

    kind: str  # onnx | sklearn
    reason: str = ""  # why the sklearn path serves, when it does
    parity: float | None = None  # max |compiled - reference| on the frozen test rows
    rows_checked: int = 0
    plan: EncoderPlan | None = None
    onnx_model: bytes = b""
    classes: list[str] | None = field(default=None)
    exact_model: str | None = None  # LightGBM's own model (text), for threshold ties

    def report(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "parity_max_abs_diff": self.parity,
            "rows_checked": self.rows_checked,
            "tolerance": PARITY_TOLERANCE,
            "classes": self.classes,
        }


def compile_pipeline(
    pipeline: Any, test_frame: pd.DataFrame, expected: np.ndarray | None = None
) -> Compiled:
    """Compile ``pipeline`` and check it against itself on ``test_frame`` (model-frame rows).
    ``expected``: the pipeline's own scores of ``test_frame``, when the caller has them."""
    classes = [str(c) for c in pipeline.classes_] if hasattr(pipeline, "classes_") else None
    try:
        plan = plan_from_pipeline(pipeline)
        onnx_model = estimator_to_onnx(pipeline[-1], plan.width)
        exact_model = _lightgbm_text(pipeline[-1])
        compiled = OnnxPredictor(plan, onnx_model, classes, exact_model)
    except NotCompilableError as exc:
        return _fallback(f"not compiled: {exc}", classes)
    except Exception as exc:  # converters raise anything; the reference path still serves
        log.warning("Compiling the pipeline failed", exc_info=True)
        return _fallback(f"not compiled: {type(exc).__name__}: {exc}", classes)
    reference = (
        SklearnPredictor(pipeline, list(test_frame.columns)).predict_frame(test_frame)
        if expected is None
        else np.asarray(expected, dtype=np.float64)
    )
    sample = test_frame.head(ROW_PARITY_ROWS)
    rows = [{str(k): v for k, v in r.items()} for r in sample.to_dict(orient="records")]
    try:
        difference = max(
            _max_difference(compiled.predict_frame(test_frame), reference),
            _max_difference(compiled.predict_rows(rows), reference[: len(rows)]),
        )
    except Exception as exc:  # a graph that loads but cannot run: the reference path serves
        log.warning("The compiled predictor failed on the test rows", exc_info=True)
        return _fallback(f"not compiled: the compiled form failed: {type(exc).__name__}", classes)
    result = Compiled(
        "onnx", "", difference, len(test_frame), plan, onnx_model, classes, exact_model
    )
    if not difference <= PARITY_TOLERANCE:  # also catches NaN
        result.kind = "sklearn"
        result.reason = (
            f"parity check failed: compiled scores differ from the pipeline's by up to "
            f"{difference:.3g} (> {PARITY_TOLERANCE:g}) on {len(test_frame)} frozen test rows"
        )
        log.warning("Serving the sklearn pipeline: %s", result.reason)
    return result


def _lightgbm_text(estimator: Any) -> str | None:
    """A LightGBM estimator's model as text (loadable without pickle), else None."""
    if not type(estimator).__module__.startswith("lightgbm"):
        return None
    return str(estimator.booster_.model_to_string())


def _fallback(reason: str, classes: list[str] | None) -> Compiled:
    log.warning("Serving the sklearn pipeline: %s", reason)
    return Compiled("sklearn", reason, classes=classes)


def _max_difference(compiled: np.ndarray, reference: np.ndarray) -> float:
    if compiled.shape != reference.shape:
        return math.inf
    if len(reference) == 0:
        return 0.0
    scale = max(1.0, float(np.max(np.abs(reference)))) if reference.ndim == 1 else 1.0
    return float(np.max(np.abs(compiled - reference) / scale))
