"""The served model: a registered version, its predictor, its request schema, and the checks a
version passes before it may serve (at startup and on every hot reload)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from tabops.errors import NotFoundError, TabopsError
from tabops.model.columns import input_schema
from tabops.registry.models import CHAMPION, ModelVersion, Registry
from tabops.rules.policy import APPROVE, DECISIONS, combine, rule_outcome, score_outcomes
from tabops.serve.schema import RequestSchema
from tabops.spec import ProjectSpec
from tabops.values import natural_order

if TYPE_CHECKING:
    from tabops.model.compile import Predictor
    from tabops.rules.engine import RuleSet


class RefusedVersionError(TabopsError):
    """A version that failed a serving check; the message says which."""


@dataclass
class ServedModel:
    """One loaded, checked version and everything a response needs from it."""

    spec: ProjectSpec
    version: ModelVersion
    alias: str
    predictor: Predictor
    schema: RequestSchema
    threshold: float | None  # binary classification: P(positive) at or above it is positive
    classes: list[str] | None
    example: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)
    rules: RuleSet | None = None  # the spec's decision rules, evaluated on every record

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def positive(self) -> str | None:
        if self.classes is None or len(self.classes) != 2:
            return None
        wanted = self.spec.positive_class
        return wanted if wanted in self.classes else self.classes[-1]

    def predict(
        self, records: list[Any], batch: bool, text: bool = False
    ) -> tuple[list[dict[str, Any]], np.ndarray]:
        """Outputs for valid records (raises :class:`~tabops.serve.schema.InvalidRecordsError`),
        with the raw scores (probabilities or predictions); ``text``: values are CSV strings."""
        rows = self.schema.model_rows(records, batch, text)
        scores = self.predictor.predict_rows(rows)
        outputs = self.outputs(scores)
        if self.spec.decision is not None:
            self._decide(records, outputs)
        return outputs, scores

    def _decide(self, records: list[Any], outputs: list[dict[str, Any]]) -> None:
        """Add the decision policy's verdict to each output: the rules that fired and the
        decision combining them with the score (:mod:`tabops.rules.policy`)."""
        policy = self.spec.decision
        assert policy is not None
        rules = np.full(len(records), APPROVE, dtype=np.int8)
        if self.rules is not None:
            for position, (record, output) in enumerate(zip(records, outputs, strict=True)):
                result = self.rules.evaluate_row(record)
                output["rules"] = result.to_dict()
                rules[position] = rule_outcome(result.decision)
        model = np.full(len(outputs), APPROVE, dtype=np.int8)
        if outputs and "score" in outputs[0]:  # binary classification
            scores = np.array([output["score"] for output in outputs])
            reject_at = policy.reject_at
            model = score_outcomes(
                scores,
                outputs[0]["threshold"] if reject_at is None else reject_at,
                policy.review_at,
            )
        for output, outcome in zip(outputs, combine(rules, model), strict=True):
            output["decision"] = DECISIONS[outcome]

    def outputs(self, scores: np.ndarray) -> list[dict[str, Any]]:
        """Each row's answer: label + score + threshold (binary), label + probabilities
        (multiclass) or prediction (regression)."""
        if self.classes is None:
            return [{"prediction": float(v)} for v in scores]
        positive = self.positive
        if positive is not None:
            column = scores[:, self.classes.index(positive)]
            negative = self.classes[1 - self.classes.index(positive)]
            threshold = 0.5 if self.threshold is None else self.threshold
            return [
                {
                    "label": positive if p >= threshold else negative,
                    "score": float(p),
                    "threshold": threshold,
                }
                for p in column
            ]
        best = scores.argmax(axis=1)
        shown = [(name, self.classes.index(name)) for name in natural_order(self.classes)]
        return [
            {
                "label": self.classes[i],
                "probabilities": {name: float(row[at]) for name, at in shown},
            }
            for i, row in zip(best, scores, strict=True)
        ]

    def mlflow_predictions(self, scores: np.ndarray) -> list[Any]:
        """What ``mlflow models serve`` answers for the same rows: the pipeline's predict()
        (the most probable label, or the regression value)."""
        if self.classes is None:
            return [float(v) for v in scores]
        return [self.classes[i] for i in scores.argmax(axis=1)]

    def score_of(self, scores: np.ndarray) -> np.ndarray:
        """One number per row for the score histogram and the log: P(positive), the top
        probability, or the prediction."""
        if self.classes is None:
            return scores
        positive = self.positive
        if positive is not None:
            return scores[:, self.classes.index(positive)]
        return np.asarray(scores.max(axis=1))


def load_served(
    spec: ProjectSpec, registry: Registry, alias: str, serving: bool = True
) -> ServedModel:
    """The version ``alias`` points at, loaded and checked (hashes, schema, smoke prediction);
    see :func:`load_version` for ``serving``."""
    version = registry.by_alias(alias)
    if version is None:
        raise NotFoundError(
            f"Model {registry.name} has no '{alias}' version to serve. Register one with "
            "'tabops register' (or 'tabops run') first; if one was registered and the gate "
            "refused it, 'tabops history' says why, and 'tabops promote --version N --force' "
            "makes it the champion anyway."
        )
    return load_version(spec, registry, version, alias, serving)


def load_chosen(
    spec: ProjectSpec,
    registry: Registry,
    version: str | None = None,
    alias: str | None = None,
    serving: bool = True,
) -> ServedModel:
    """Version ``version`` (its number), else the version ``alias`` points at (default: the
    champion), as a command's ``--version``/``--alias`` choose it; see :func:`load_version`."""
    if version is None:
        return load_served(spec, registry, alias or CHAMPION, serving)
    return load_version(spec, registry, registry.version(version), f"version {version}", serving)


def load_version(
    spec: ProjectSpec, registry: Registry, version: ModelVersion, alias: str, serving: bool = True
) -> ServedModel:
    """One version, loaded and checked. ``serving=False``: for batch work, whose rows are
    scored by another predictor made from this one (LightGBM is not preloaded)."""
    # The compiled model's stack (pandas, onnxruntime) is loaded with the first model, not on
    # import: the server module stays light.
    from tabops.registry.compiled import KIND_TAG, load_predictor, request_example

    expected = input_schema(spec)
    if version.input_schema != expected:
        raise RefusedVersionError(
            f"Version {version.version} of {registry.name} takes inputs {version.input_schema}, "
            f"but tabops.yaml declares {expected}: its input schema changed. Serve it with the "
            "spec it was trained with, or retrain."
        )
    schema = RequestSchema(spec)
    predictor = load_predictor(registry, version, schema.model_columns, preload_exact=serving)
    metrics, started = registry.run_summary(version.run_id)
    classes = getattr(predictor, "classes", None)
    decision = spec.decision
    rules = None
    if decision and decision.rules:
        from tabops.rules.engine import load_rules

        rules = load_rules(spec.root / decision.rules, spec)
    served = ServedModel(
        rules=rules,
        spec=spec,
        version=version,
        alias=alias,
        predictor=predictor,
        schema=schema,
        threshold=metrics.get("threshold"),
        classes=classes,
        example=request_example(registry, version),
    )
    served.info = {
        "name": version.name,
        "version": version.version,
        "alias": alias,
        "run_id": version.run_id,
        "trained_at": datetime.fromtimestamp(started / 1000, UTC).isoformat() if started else None,
        "metrics": {k: v for k, v in sorted(metrics.items()) if k.startswith(("test_", "cv_"))},
        "threshold": served.threshold,
        "estimator": version.tags.get("tabops.estimator"),
        "data_snapshot": version.snapshot_hash,
        "spec_hash": version.tags.get("tabops.spec_hash"),
        "predictor": predictor.kind,
        "compiled": version.tags.get(KIND_TAG, "not compiled"),
        "input_schema": version.input_schema,
    }
    smoke_test(served)
    return served


def smoke_test(served: ServedModel, rounds: int = 20) -> float:
    """Predict the version's request example (also warming it up); refuse non-finite or
    failing outputs. Returns the mean seconds per call."""
    if not served.example:
        raise RefusedVersionError(
            f"Version {served.version.version} has no request example to check it with; "
            f"compile it with 'tabops register --run {served.version.run_id}'."
        )
    started = time.perf_counter()
    for _ in range(rounds):
        try:
            _, scores = served.predict(served.example, batch=True)
        except Exception as exc:
            raise RefusedVersionError(
                f"Version {served.version.version} failed its smoke prediction: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not np.all(np.isfinite(scores)):
            raise RefusedVersionError(
                f"Version {served.version.version} predicts non-finite scores (NaN or infinity) "
                "for its request example."
            )
    return (time.perf_counter() - started) / rounds


def check_replacement(current: ServedModel, candidate: ServedModel) -> None:
    """A hot reload may not change what clients send."""
    if candidate.version.input_schema != current.version.input_schema:
        raise RefusedVersionError(
            f"Version {candidate.version.version} changes the input schema "
            f"({candidate.version.input_schema} instead of {current.version.input_schema})."
        )
    if (candidate.classes is None) != (current.classes is None):
        raise RefusedVersionError(f"Version {candidate.version.version} changes the task.")
