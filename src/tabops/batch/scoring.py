"""Scoring a chunk of rows: the engine-neutral core of ``tabops predict``.

A :class:`ScorerRecipe` holds everything needed to score without the registry (the spec, the
compiled predictor's parts or the pipeline, the rules' text, the lineage); it is a small
picklable value, so the local engine and Spark's executors build the same
:class:`ChunkScorer` from it. ``ChunkScorer.score`` is a pure function of one record batch:
rows are typed by the data contract exactly as ingest types them; a row with a value the
contract refuses goes to the rejects with the column and the reason (never dropped); the other
rows are encoded as serving encodes them and scored by the same model (a LightGBM model by
its native code, :mod:`tabops.model.kernel`, when lleaves is installed and the run is large
or the code compiled already, see ``KERNEL_ENV``; else serving's ONNX graph), decided by the
policy serving uses (:mod:`tabops.rules.policy`, rules evaluated on the whole frame), and
stamped with lineage.
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from tabops.data.contract import ARROW_TYPES, explain_values, target_labels
from tabops.errors import TabopsError
from tabops.model.columns import feature_names
from tabops.model.frame import model_frame
from tabops.progress import SILENT, Progress
from tabops.rules.policy import APPROVE, DECISIONS, combine, rule_outcome, score_outcomes
from tabops.spec import ColumnRole, ProjectSpec, parse_spec
from tabops.values import natural_order

if TYPE_CHECKING:
    from tabops.context import Context
    from tabops.model.compile import Predictor
    from tabops.model.kernel import NativeCode
    from tabops.rules.engine import RuleSet
    from tabops.serve.model import ServedModel

log = logging.getLogger(__name__)

#: How LightGBM models are scored: ``native`` by their native code (LightGBM's own float64
#: scores; compiled first, seconds to a minute, then cached), ``onnx`` by the ONNX graph as
#: serving does (float32: serving's scores to the last bit); ``auto`` (the default) by the
#: native code when it is compiled already or the run is large enough to repay compiling it.
KERNEL_ENV = "TABOPS_BATCH_KERNEL"
KERNELS = ("auto", "native", "onnx")
#: ``auto`` compiles the model for a run of at least this many rows (not one of unknown size:
#: a 5-class model of a gzipped 73,000-row file took 210 s to compile and 6 s to score).
NATIVE_MIN_ROWS = 1_000_000

#: The lineage columns every scored (and rejected) row carries, in order.
LINEAGE = ("model_name", "model_version", "spec_hash", "rules_version", "run_date", "batch_id")
#: The rejects' own columns, after the input's values (as text).
REJECT_COLUMN, REJECT_REASON = "reject_column", "reject_reason"


def refusal_counts(rejects: pa.RecordBatch | pa.Table) -> dict[str, dict[str, int]]:
    """How many rejects each column has per check (``type``, ``missing``, ``category``...):
    a reason reads ``check: detail``."""
    counts: dict[str, dict[str, int]] = {}
    columns = rejects.column(REJECT_COLUMN).to_pylist()
    reasons = rejects.column(REJECT_REASON).to_pylist()
    for column, reason in zip(columns, reasons, strict=True):
        check = str(reason).split(":", 1)[0]
        per_check = counts.setdefault(str(column), {})
        per_check[check] = per_check.get(check, 0) + 1
    return counts


@dataclass(frozen=True)
class Lineage:
    """Where every output row came from."""

    model_name: str
    model_version: str
    spec_hash: str
    rules_version: str | None
    run_date: date
    batch_id: str


@dataclass(frozen=True)
class ScorerRecipe:
    """Everything a process (or a Spark executor) needs to build the :class:`ChunkScorer`.

    Attributes:
        spec: The project spec as its JSON-able mapping.
        plan_json: The compiled predictor's EncoderPlan (None: not compiled).
        onnx_model: The compiled ONNX graph (None: not compiled).
        exact_model: LightGBM's model text for rows on a split threshold (or None).
        pipeline: The pickled sklearn pipeline when the version is not compiled (else None).
        classes: The classes (None: regression).
        threshold: P(positive) at or above it is positive (binary), as serving's.
        positive: The positive class (binary) or None.
        rules_text: The decision rules file's text (None: no rules).
        lineage: Stamped on every output row.
        native: The LightGBM model compiled to native code (:mod:`tabops.model.kernel`),
            which scores instead of the ONNX graph; None: the ONNX graph scores.
        keep: Input columns copied into both outputs beside the id columns (``--keep``):
            a model feature as the model read it, any other column as text, as read.
    """

    spec: dict[str, Any]
    plan_json: str | None
    onnx_model: bytes | None
    exact_model: str | None
    pipeline: bytes | None
    classes: list[str] | None
    threshold: float | None
    positive: str | None
    rules_text: str | None
    lineage: Lineage
    native: NativeCode | None = None
    keep: tuple[str, ...] = ()

    def build(self, scoring: bool = True) -> ChunkScorer:
        """The scorer; ``scoring=False``: its schemas and columns only, without loading the
        model (a process whose workers do the scoring)."""
        spec = parse_spec(self.spec)
        predictor = self._predictor(spec) if scoring else None
        return ChunkScorer(spec, predictor, self._rules(spec), self)

    def _predictor(self, spec: ProjectSpec) -> Predictor:
        from tabops.model.compile import EncoderPlan, OnnxPredictor, SklearnPredictor
        from tabops.model.kernel import NativePredictor
        from tabops.serve.schema import RequestSchema

        if self.onnx_model is not None and self.plan_json is not None:
            plan = EncoderPlan.from_json(self.plan_json)
            if self.native is not None and self.exact_model is not None:
                try:
                    return NativePredictor(plan, self.exact_model, self.classes, self.native)
                except Exception as exc:  # e.g. an executor without lleaves: the graph scores
                    log.warning("Scoring with the ONNX graph: the native code did not load "
                                "(%s: %s)", type(exc).__name__, exc)  # fmt: skip
            return OnnxPredictor(plan, self.onnx_model, self.classes, self.exact_model)
        assert self.pipeline is not None
        # The bytes were read from the hash-verified registry artifact by recipe_for.
        return SklearnPredictor(pickle.loads(self.pipeline), RequestSchema(spec).model_columns)

    def _rules(self, spec: ProjectSpec) -> RuleSet | None:
        if self.rules_text is None:
            return None
        from tabops.rules.engine import parse_rules

        assert spec.decision is not None and spec.decision.rules is not None
        return parse_rules(self.rules_text, spec.decision.rules, spec)


def recipe_for(
    spec: ProjectSpec,
    ctx: Context,
    version: str | None = None,
    alias: str | None = None,
    *,
    run_date: date,
    batch_id: str,
    progress: Progress = SILENT,
    rows: int | None = None,
) -> ScorerRecipe:
    """The recipe of ``version`` (or the version ``alias`` points at; default the champion),
    loaded and checked as serving loads it, for a run of ``rows`` rows (None: not known)."""
    kernel = os.environ.get(KERNEL_ENV, "auto").strip().lower() or "auto"
    if kernel not in KERNELS:
        raise TabopsError(
            f"{KERNEL_ENV}={os.environ[KERNEL_ENV]!r} is not a batch kernel; use one of "
            f"{', '.join(KERNELS)} (auto: the native code for large runs or once compiled)."
        )
    from tabops.registry.models import registry_for
    from tabops.serve.model import load_chosen

    served = load_chosen(spec, registry_for(spec, ctx), version, alias, serving=False)
    return recipe_of(served, run_date=run_date, batch_id=batch_id, progress=progress,
                     native=_native_wanted(served, kernel, rows))  # fmt: skip


def _native_wanted(served: ServedModel, kernel: str, rows: int | None) -> bool:
    """Whether to score with the native code: compiling it costs seconds to a minute per
    model version, repaid on large runs, and once cached it is free."""
    exact = getattr(served.predictor, "exact_model", None)
    if kernel == "onnx" or exact is None:
        return False
    if kernel == "native" or (rows is not None and rows >= NATIVE_MIN_ROWS):
        return True
    from tabops.model.kernel import is_compiled

    return is_compiled(exact)


def recipe_of(
    served: ServedModel, *, run_date: date, batch_id: str, progress: Progress = SILENT,
    native: bool = True,
) -> ScorerRecipe:  # fmt: skip
    """The recipe of an already loaded (and checked) served model; with ``native``, a
    LightGBM model is compiled to native code here, once, so that workers and executors only
    load it."""
    predictor: Any = served.predictor
    compiled = predictor.kind == "onnx"
    native_code = None
    if native and compiled and predictor.exact_model is not None:
        from tabops.model.kernel import compile_native

        native_code = compile_native(predictor.exact_model, progress.step)
    rules = served.rules
    rules_text = None
    if rules is not None:
        from tabops.rules.engine import read_rules_text

        assert served.spec.decision is not None and served.spec.decision.rules is not None
        rules_text = read_rules_text(served.spec.root / served.spec.decision.rules)
    return ScorerRecipe(
        spec=served.spec.model_dump(mode="json"),
        plan_json=predictor.plan.to_json() if compiled else None,
        onnx_model=predictor.onnx_model if compiled else None,
        exact_model=predictor.exact_model if compiled else None,
        pipeline=None if compiled else pickle.dumps(predictor.pipeline),
        classes=served.classes,
        threshold=served.threshold,
        positive=served.positive,
        rules_text=rules_text,
        lineage=Lineage(
            model_name=served.name,
            model_version=served.version.version,
            spec_hash=served.version.tags.get("tabops.spec_hash", served.spec.spec_hash),
            rules_version=None if rules is None else rules.version,
            run_date=run_date,
            batch_id=batch_id,
        ),
        native=native_code,
    )


@dataclass(frozen=True)
class ScoredChunk:
    """One chunk's outcome: ``scored`` rows (output schema) and ``rejects`` (rejects schema)."""

    scored: pa.RecordBatch
    rejects: pa.RecordBatch
    features: Any = None  # with keep_features: the scored rows' typed features (pandas)
    #: With keep_features and a target column in the input: the scored rows' labels (pandas,
    #: None where missing or refused) and the refused target values per check.
    labels: Any = None
    refused_labels: dict[str, int] | None = None


class ChunkScorer:
    """Scores record batches; no I/O, no state changed by scoring, deterministic."""

    def __init__(
        self,
        spec: ProjectSpec,
        predictor: Predictor | None,
        rules: RuleSet | None,
        recipe: ScorerRecipe,
    ) -> None:
        self.spec, self.predictor, self.rules, self.recipe = spec, predictor, rules, recipe
        self.features = feature_names(spec)
        self.ids = spec.columns_with_role(ColumnRole.ID)
        # Typed and checked: a row failing any of these is rejected.
        self.checked = self.ids + [f for f in self.features if f not in self.ids]
        self.kept = [n for n in recipe.keep if n not in self.ids]
        self.passed = [n for n in self.kept if n not in self.checked]  # copied as text
        self.nulls = spec.source.csv.null_values
        self.output_schema = self._output_schema()
        self.rejects_schema = pa.schema(
            [pa.field(name, pa.string()) for name in self.checked + self.passed]
            + [pa.field(REJECT_COLUMN, pa.string()), pa.field(REJECT_REASON, pa.string())]
            + _lineage_fields()
        )

    @property
    def required_columns(self) -> list[str]:
        """The input columns scoring reads: the id column(s), the model's features and the
        columns kept."""
        return self.checked + self.passed

    @property
    def answer_columns(self) -> list[str]:
        """The columns the scorer writes itself (a kept input column must not take a name)."""
        taken = set(self.ids) | set(self.kept)
        own = [n for n in self.output_schema.names if n not in taken]
        return [*own, REJECT_COLUMN, REJECT_REASON]

    def _output_schema(self) -> pa.Schema:
        recipe = self.recipe
        fields = [pa.field(n, ARROW_TYPES[self.spec.columns[n].type]) for n in self.ids]
        fields += [
            pa.field(n, pa.string() if n in self.passed else ARROW_TYPES[self.spec.columns[n].type])
            for n in self.kept
        ]
        if recipe.classes is None:
            fields += [pa.field("prediction", pa.float64()), pa.field("score", pa.float64())]
        elif recipe.positive is not None:
            fields += [
                pa.field("label", pa.string()),
                pa.field("score", pa.float64()),
                pa.field("threshold", pa.float64()),
            ]
        else:
            fields += [pa.field("label", pa.string()), pa.field("score", pa.float64())]
            fields += [pa.field(f"probability_{c}", pa.float64())
                       for c in natural_order(recipe.classes)]  # fmt: skip
        if self.spec.decision is not None:
            fields.append(pa.field("decision", pa.string()))
            if self.rules is not None:
                fields.append(pa.field("fired_rules", pa.string()))
        return pa.schema(fields + _lineage_fields())

    def score(self, batch: pa.RecordBatch, keep_features: bool = False) -> ScoredChunk:
        """The chunk's scored rows and rejects (rows in = scored + rejected); with
        ``keep_features``, also the scored rows' typed features (for monitoring)."""
        rows = batch.num_rows
        names = batch.schema.names
        typed: dict[str, pa.Array] = {}
        refused = np.zeros(rows, dtype=bool)
        reject_column = np.full(rows, None, dtype=object)
        reject_reason = np.full(rows, None, dtype=object)
        for name in self.checked:
            if name not in names and name in self.ids:
                # An input without its id column (an R export's row names): scored, as
                # serving scores a record without it, its rows carrying no id.
                typed[name] = pa.nulls(rows, ARROW_TYPES[self.spec.columns[name].type])
                continue
            values, checks, reason = explain_values(
                _column(batch, names, name), self.spec.columns[name], self.nulls
            )
            typed[name] = values
            for check, mask in checks.items():
                first = np.flatnonzero(mask & ~refused)  # a row's first failure is its reason
                if len(first):
                    refused[first] = True
                    for position in first.tolist():
                        reject_column[position] = name
                        reject_reason[position] = f"{check}: {reason(check, position)}"
        good = np.flatnonzero(~refused)
        passed = {n: _column(batch, names, n).cast(pa.string()) for n in self.passed}
        scored, features = self._scored(typed, passed, good, keep_features)
        labels = refused_labels = None
        if keep_features and self.spec.target in names:  # measured with its outcomes
            every, failed = target_labels(_column(batch, names, self.spec.target), self.spec)
            labels = every.iloc[good].reset_index(drop=True)
            refused_labels = {check: int(mask[good].sum()) for check, mask in failed.items()}
        return ScoredChunk(
            scored=scored,
            rejects=self._rejects(
                batch, names, np.flatnonzero(refused), reject_column, reject_reason
            ),
            features=features,
            labels=labels,
            refused_labels=refused_labels,
        )

    def _scored(
        self,
        typed: dict[str, pa.Array],
        passed: dict[str, pa.Array],
        good: np.ndarray,
        keep_features: bool,
    ) -> tuple[pa.RecordBatch, Any]:
        """The scored rows, and their features as a model frame when ``keep_features``
        (``passed``: the kept columns that are not checked, as text).

        The compiled predictor encodes the typed Arrow columns itself; the pandas frame is
        built only when something reads it (the rules, monitoring, the sklearn pipeline)."""
        recipe, predictor = self.recipe, self.predictor
        assert predictor is not None, "built with scoring=False: it cannot score"
        if len(good) < len(next(iter(typed.values()), ())):  # rows were rejected
            taken = pa.array(good, type=pa.int64())
            typed = {n: values.take(taken) for n, values in typed.items()}
            passed = {n: values.take(taken) for n, values in passed.items()}
        columns: dict[str, Any] = {
            n: passed[n] if n in passed else typed[n].cast(ARROW_TYPES[self.spec.columns[n].type])
            for n in self.ids + self.kept
        }
        compiled = getattr(predictor, "predict_arrays", None)
        frame = None
        if compiled is None or keep_features or self.rules is not None:
            frame = pa.table({n: typed[n] for n in self.features}).to_pandas()
        if not len(good):
            width = 0 if recipe.classes is None else len(recipe.classes)
            raw = np.zeros((0, width) if width else 0)
        elif compiled is not None:
            raw = compiled({n: typed[n] for n in self.features}, len(good))
        else:
            raw = predictor.predict_frame(model_frame(frame, self.spec))
        score = self._outputs(raw, columns)
        if self.spec.decision is not None:
            self._decide(frame, len(good), score, columns)
        lineage = self.lineage_columns(len(good))
        scored = pa.RecordBatch.from_pydict({**columns, **lineage}, schema=self.output_schema)
        return scored, frame if keep_features else None

    def _outputs(self, raw: np.ndarray, columns: dict[str, Any]) -> np.ndarray | None:
        """Add the answer columns as serving's outputs(); the binary score (for the policy)."""
        recipe = self.recipe
        classes = recipe.classes
        if classes is None:
            columns["prediction"] = columns["score"] = pa.array(raw, pa.float64())
            return None
        if recipe.positive is not None:
            positive = classes.index(recipe.positive)
            score = raw[:, positive]
            threshold = 0.5 if recipe.threshold is None else recipe.threshold
            answers = pa.array([classes[1 - positive], recipe.positive], pa.string())
            columns["label"] = answers.take(pa.array(score >= threshold).cast(pa.int8()))
            columns["score"] = pa.array(score, pa.float64())
            columns["threshold"] = pa.array(np.full(len(score), threshold), pa.float64())
            return np.asarray(score)
        best = raw.argmax(axis=1) if len(raw) else np.zeros(0, dtype=int)
        columns["label"] = pa.array(classes, pa.string()).take(pa.array(best))
        columns["score"] = pa.array(raw.max(axis=1) if len(raw) else [], pa.float64())
        for name in natural_order(classes):
            columns[f"probability_{name}"] = pa.array(raw[:, classes.index(name)], pa.float64())
        return None

    def _decide(
        self, frame: Any, rows: int, score: np.ndarray | None, columns: dict[str, Any]
    ) -> None:
        """The decision policy serving applies (ServedModel._decide), on the whole chunk
        (``frame``: the features, built when there are rules)."""
        policy = self.spec.decision
        assert policy is not None
        rules = np.full(rows, APPROVE, dtype=np.int8)
        if self.rules is not None:
            verdict = self.rules.evaluate_frame(frame)
            rules = np.array([rule_outcome(d) for d in verdict.decision], dtype=np.int8)
            fired = verdict.fired.to_numpy()
            ids = list(verdict.fired.columns)
            columns["fired_rules"] = pa.array(
                [",".join(i for i, hit in zip(ids, row, strict=True) if hit) for row in fired],
                pa.string(),
            )
        model = np.full(rows, APPROVE, dtype=np.int8)
        if score is not None:  # binary classification
            threshold = 0.5 if self.recipe.threshold is None else self.recipe.threshold
            reject_at = threshold if policy.reject_at is None else policy.reject_at
            model = score_outcomes(score, reject_at, policy.review_at)
        outcome = combine(rules, model) if rows else np.zeros(0, dtype=np.int8)
        columns["decision"] = pa.array(DECISIONS, pa.string()).take(pa.array(outcome))
        if self.rules is not None:  # keep the schema's order: decision before fired_rules
            columns["fired_rules"] = columns.pop("fired_rules")

    def _rejects(
        self,
        batch: pa.RecordBatch,
        names: list[str],
        refused: np.ndarray,
        column: np.ndarray,
        reason: np.ndarray,
    ) -> pa.RecordBatch:
        taken = pa.array(refused, type=pa.int64())
        values = {
            n: _column(batch, names, n).take(taken).cast(pa.string())
            for n in self.checked + self.passed
        }
        values[REJECT_COLUMN] = pa.array(column[refused].tolist(), pa.string())
        values[REJECT_REASON] = pa.array(reason[refused].tolist(), pa.string())
        return pa.RecordBatch.from_pydict(
            {**values, **self.lineage_columns(len(refused))}, schema=self.rejects_schema
        )

    def lineage_columns(self, rows: int) -> dict[str, pa.Array]:
        lineage = self.recipe.lineage
        values = (lineage.model_name, lineage.model_version, lineage.spec_hash,
                  lineage.rules_version, lineage.run_date, lineage.batch_id)  # fmt: skip
        return {
            field.name: pa.repeat(pa.scalar(value, field.type), rows)
            for field, value in zip(_lineage_fields(), values, strict=True)
        }


def _lineage_fields() -> list[pa.Field]:
    return [pa.field(n, pa.date32() if n == "run_date" else pa.string()) for n in LINEAGE]


def _column(batch: pa.RecordBatch, names: list[str], name: str) -> pa.Array:
    """The input's column ``name`` (all nulls when the input lacks it: the run checks the
    required columns up front, so this only fills optional ones)."""
    if name not in names:
        return pa.nulls(batch.num_rows, pa.string())
    return batch.column(names.index(name))
