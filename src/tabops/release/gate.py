"""The promotion gate: a candidate version replaces the champion only when it is better on the
same frozen test rows, was trained on checked data, and keeps the input schema. Every decision,
and every manual promotion or rollback, is written to the audit table."""

from __future__ import annotations

import getpass
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tabops import storage
from tabops.context import Context
from tabops.data.snapshots import read_snapshot
from tabops.errors import DataError, TabopsError
from tabops.model.evaluate import behavioural_checks, evaluate, predictions
from tabops.model.frame import model_frame, target_values
from tabops.model.metrics import Scores
from tabops.registry.models import CHAMPION, PREVIOUS, ModelVersion, Registry
from tabops.spec import LOWER_IS_BETTER, PERFECT, ProjectSpec, Task
from tabops.store.audit import decisions, record_decision
from tabops.store.ledger import find_snapshot

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Decision:
    """The outcome of a gate, promotion or rollback, as audited."""

    action: str  # gate | promote | rollback
    promoted: bool
    model: str
    candidate: str | None
    champion: str | None
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # the gate's rules, as applied

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The audited action of a registration's gate (``tabops promote`` audits ``promote``).
GATE_ACTION = "gate"


@dataclass(frozen=True)
class ScoredTestRows:
    """A version's frozen test rows, its pipeline, and the pipeline's scores of those rows.
    Registration scores them once and shares them: the compile check, the monitoring
    reference and the gate would otherwise each score the same rows again."""

    rows: pa.Table
    pipeline: Any
    x: pd.DataFrame  # the rows as the model reads them
    y: np.ndarray
    scores: Scores

    @classmethod
    def of(cls, spec: ProjectSpec, rows: pa.Table, pipeline: Any) -> ScoredTestRows:
        x = model_frame(rows, spec)
        return cls(rows, pipeline, x, target_values(rows, spec), predictions(pipeline, x, spec))

    @classmethod
    def of_version(
        cls, spec: ProjectSpec, ctx: Context, registry: Registry, version: ModelVersion
    ) -> ScoredTestRows:
        rows = frozen_test_rows(spec, ctx, registry, version)
        return cls.of(spec, rows, registry.load_pipeline(version))


def gate(
    spec: ProjectSpec, ctx: Context, registry: Registry, candidate: ModelVersion,
    force: bool = False, action: str = GATE_ACTION, tested: ScoredTestRows | None = None,
) -> Decision:  # fmt: skip
    """Compare ``candidate`` with the champion on the candidate's frozen test rows and move
    the ``champion`` alias if it passes (or ``force``); audit the decision either way.
    ``tested``: the candidate's test rows and scores, when the caller has them."""
    champion = registry.by_alias(CHAMPION)
    decision = Decision(
        action, False, registry.name, candidate.version, champion.version if champion else None
    )
    metric = spec.metric
    tested = tested or ScoredTestRows.of_version(spec, ctx, registry, candidate)
    rows, pipeline, x, y, scores = tested.rows, tested.pipeline, tested.x, tested.y, tested.scores
    threshold = registry.threshold(candidate)  # each version decides at its own threshold
    scored = evaluate(pipeline, x, y, spec, threshold, scores).metrics
    decision.metrics["candidate"] = _finite(scored)
    failures = _data_failures(spec, ctx, candidate)
    failures += _perfect_failures(scored, spec, pipeline, x, y, threshold)
    failures += [
        f"behavioural check '{c.name}' failed: {c.detail}"
        for c in behavioural_checks(pipeline, x, spec, scores)
        if not c.passed
    ]
    notes: list[str] = []
    if champion is not None and champion.run_id == candidate.run_id:
        failures.append(f"this run is already the champion (version {champion.version})")
    elif champion is not None:
        schema_failures = _schema_failures(champion, candidate)
        failures += schema_failures
        if not schema_failures:  # the champion can only score rows of its own schema
            unseen = unseen_by(spec, ctx, registry, champion, candidate, rows)
            seen, left = int((~unseen).sum()), int(unseen.sum())
            if seen and left >= min(MIN_UNSEEN_ROWS, len(unseen)):
                notes.append(
                    f"compared on the {left:,} of {len(unseen):,} test rows the "
                    f"champion was not trained on (it was on the other {seen:,})"
                )
                x, y = x[unseen], y[unseen]
                scored = evaluate(pipeline, x, y, spec, threshold, scores.rows(unseen)).metrics
                decision.metrics["candidate"] = _finite(scored)
            elif seen:
                notes.append(
                    f"compared on all {len(unseen):,} test rows, though the champion was trained "
                    f"on {seen:,} of them: too few others are left to compare on"
                )
            rescored = evaluate(
                registry.load_pipeline(champion), x, y, spec, registry.threshold(champion)
            ).metrics
            decision.metrics["champion"] = _finite(rescored)
            failures += _metric_failures(metric, scored[metric], rescored[metric], spec)
    decision.settings = {
        "spec_hash": spec.spec_hash, "metric": metric, "tolerance": spec.gate.tolerance,
        "checks": [c.name for c in spec.evaluate.checks],
    }  # fmt: skip
    failures += _below_chance(scored, spec)
    notes += _chance_notes(metric, scored, spec) + _below_majority_notes(scored, y, spec)
    decision.reasons = (failures or [_pass_reason(metric, decision.metrics)]) + notes
    if failures and force:
        decision.reasons = [f"forced despite: {reason}" for reason in failures] + notes
    decision.promoted = not failures or force
    if decision.promoted:
        if champion is not None and champion.version != candidate.version:
            registry.set_alias(PREVIOUS, champion.version)
        registry.set_alias(CHAMPION, candidate.version)
    audit(ctx, spec, decision)
    return decision


def rollback(spec: ProjectSpec, ctx: Context, registry: Registry) -> Decision:
    """Move ``champion`` back to ``previous``; the version rolled back from loses its alias."""
    champion, previous = registry.by_alias(CHAMPION), registry.by_alias(PREVIOUS)
    if previous is None:
        raise TabopsError(
            f"Model {registry.name} has no 'previous' version to roll back to. "
            "'tabops history' shows what was promoted when."
        )
    registry.set_alias(CHAMPION, previous.version)
    registry.delete_alias(PREVIOUS)
    decision = Decision(
        "rollback", True, registry.name, previous.version,
        champion.version if champion else None,
        [f"rolled back from version {champion.version if champion else '-'} to {previous.version}"],
    )  # fmt: skip
    audit(ctx, spec, decision)
    return decision


def audit(ctx: Context, spec: ProjectSpec, decision: Decision) -> None:
    record_decision(
        ctx.store,
        spec.name,
        decision.model,
        decision.action,
        decision.promoted,
        (decision.champion, decision.candidate),
        decision.reasons,
        {**decision.metrics, "settings": decision.settings},
        actor(),
    )


def history(ctx: Context, spec: ProjectSpec, limit: int = 50) -> list[dict[str, Any]]:
    """Audited decisions, newest first."""
    return decisions(ctx.store, spec.name, limit)


def frozen_test_rows(
    spec: ProjectSpec, ctx: Context, registry: Registry, version: ModelVersion
) -> pa.Table:
    """The rows ``version`` was tested on: its training snapshot, at its frozen positions."""
    found = find_snapshot(ctx.store, spec.name, version.snapshot_hash)
    if found is None or not storage.exists(found.path):
        raise DataError(
            f"The snapshot {version.snapshot_hash[:16]} that version {version.version} was "
            "trained on is not in this workspace; its frozen test rows are needed."
        )
    rows = pq.read_table(registry.test_rows(version)).column("row").to_numpy()
    table = read_snapshot(found.path)
    return table.filter(table.column(spec.target).is_valid()).take(rows)


#: Fewer of the candidate's test rows than this that the champion was not trained on, and the
#: comparison keeps them all (so few would decide by noise), saying so.
MIN_UNSEEN_ROWS = 30


def unseen_by(
    spec: ProjectSpec, ctx: Context, registry: Registry, champion: ModelVersion,
    candidate: ModelVersion, rows: pa.Table,
) -> np.ndarray:  # fmt: skip
    """Which of ``rows`` (``candidate``'s frozen test rows) the champion was not trained on.
    A snapshot that grew (the old rows and new ones) is split again, so some of the new test
    rows can be the champion's training rows, which it scores as rows it has learnt. On the
    champion's own snapshot, by position; on another, by value: a row whose values are those of
    one of the champion's training rows counts as seen."""
    found = find_snapshot(ctx.store, spec.name, champion.snapshot_hash)
    if found is None or not storage.exists(found.path):
        return np.ones(rows.num_rows, dtype=bool)  # trained elsewhere: its rows are unknown
    table = read_snapshot(found.path)
    table = table.filter(table.column(spec.target).is_valid())
    trained = np.ones(table.num_rows, dtype=bool)
    trained[pq.read_table(registry.test_rows(champion)).column("row").to_numpy()] = False
    if champion.snapshot_hash == candidate.snapshot_hash:
        positions = pq.read_table(registry.test_rows(candidate)).column("row").to_numpy()
        return np.asarray(~trained[positions])
    shared = [name for name in rows.column_names if name in table.column_names]
    learnt = _row_hashes(table.filter(pa.array(trained)).select(shared))
    return np.asarray(~np.isin(_row_hashes(rows.select(shared)), learnt))


def _row_hashes(table: pa.Table) -> np.ndarray:
    """One hash per row of its values as text, cast by Arrow (pandas would turn an integer
    column with a missing value into floats, and 510 into '510.0')."""
    import pandas as pd

    text = {name: pc.cast(table.column(name), pa.string()) for name in table.column_names}
    frame = pa.table(text).to_pandas().fillna("\x00missing")
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _data_failures(spec: ProjectSpec, ctx: Context, candidate: ModelVersion) -> list[str]:
    # A snapshot exists only for a batch that passed the contract; check it is this project's.
    if find_snapshot(ctx.store, spec.name, candidate.snapshot_hash) is None:
        return [f"training snapshot {candidate.snapshot_hash[:16]} did not pass ingestion"]
    return []


def _schema_failures(champion: ModelVersion, candidate: ModelVersion) -> list[str]:
    before, after = champion.input_schema, candidate.input_schema
    if before == after:
        return []
    changes = [f"{c} removed" for c in before if c not in after]
    changes += [f"{c} added" for c in after if c not in before]
    changes += [
        f"{c} {before[c]}→{after[c]}" for c in before if c in after and before[c] != after[c]
    ]
    return [
        f"input schema changed ({', '.join(changes)}): the two models read different inputs, "
        "so they cannot be compared on the same rows, and clients of the champion may need "
        "changing (an input added or retyped is refused until they send it). If the change is "
        f"meant, promote it with 'tabops promote --version {candidate.version} --force' "
        "(audited as forced)"
    ]


def _metric_failures(
    metric: str, candidate: float, champion: float, spec: ProjectSpec
) -> list[str]:
    tolerance = spec.gate.tolerance
    lower = metric in LOWER_IS_BETTER
    worse_by = (candidate - champion) if lower else (champion - candidate)
    if math.isnan(candidate) or worse_by > tolerance:
        return [
            f"{metric} {candidate:.4f} is worse than the champion's {champion:.4f} on the same "
            f"test rows (tolerance {tolerance})"
        ]
    return []


#: Held-out rows of each of its two commonest classes before a perfect classification score
#: is taken for leakage: on fewer, an honest model of an easy task scores perfectly (iris: 10
#: test rows of each species). A rare third class does not excuse it (an outcome with 10 rows
#: in 1,000, a leaked status code telling every class).
PERFECT_MIN_CLASS_ROWS = 30


#: A regression whose held-out R² is at least this predicts its target all but exactly (the
#: errors' variance under 0.01% of the target's): the target is computed from the features,
#: as vgsales' global sales, the sum of its regional sales columns (R² 0.99999), rounding
#: keeping the error from 0.
NEAR_PERFECT_R2 = 1 - 1e-4


def _perfect_failures(
    scored: dict[str, float], spec: ProjectSpec, pipeline: Any, x: pd.DataFrame, y: np.ndarray,
    threshold: float | None,
) -> list[str]:  # fmt: skip
    """A perfect primary score (for a regression, a near-perfect R²) as a failure, naming the
    features the model leans on most."""
    metric = spec.metric
    value = scored.get(metric, math.nan)
    if spec.task == Task.REGRESSION:
        perfect = scored.get("r2", math.nan) >= NEAR_PERFECT_R2
        shown = f"{metric} is {value:g} (R² {scored.get('r2', math.nan):.6f})"
    else:
        perfect = abs(value - PERFECT[metric]) <= 1e-9
        shown = f"{metric} is {value:g}"
    if spec.gate.allow_perfect or not perfect:
        return []
    if spec.task == Task.CLASSIFICATION:
        counts = np.sort(np.unique(y, return_counts=True)[1])
        if len(counts) < 2 or counts[-2] < PERFECT_MIN_CLASS_ROWS:
            return []
    leaned = _leaned_on(pipeline, x, y, spec, threshold)
    suspects = ", ".join(f"'{name}' ({score:.3g} without it)" for name, score in leaned)
    first = "it" if len(leaned) == 1 else "those"
    named = f" The model leans most on {suspects}: look at {first} first." if leaned else ""
    return [
        f"{shown} on the held-out test rows, a perfect score: a feature most likely "
        "leaks the target (it is the label, or computed from it, or recorded after the "
        f"outcome).{named} Set that column's role to ignored ('tabops init' flags the columns "
        "that determine the target on their own), or set gate.allow_perfect: true if the task "
        "really is this easy"
    ]


#: Features named in a perfect score's refusal: those whose shuffling costs the most.
_SUSPECTS = 3


def _leaned_on(
    pipeline: Any, x: pd.DataFrame, y: np.ndarray, spec: ProjectSpec, threshold: float | None
) -> list[tuple[str, float]]:
    """The features whose values, shuffled among the test rows, lower the primary metric the
    most (permutation importance), with the metric then; those that lower it by at least a
    tenth of the most."""
    metric = spec.metric
    perfect = PERFECT[metric]
    rng = np.random.default_rng(spec.train.seed)
    order = rng.permutation(len(x))
    costs: list[tuple[float, str, float]] = []
    for name in x.columns:
        shuffled = x.copy()
        shuffled[name] = x[name].to_numpy()[order]
        value = evaluate(pipeline, shuffled, y, spec, threshold).metrics[metric]
        if math.isfinite(value) and value != perfect:
            costs.append((abs(value - perfect), str(name), value))
    ranked = sorted(costs, reverse=True)[:_SUSPECTS]
    # Beside a leak, the others' shuffling costs next to nothing (bikeshare's humidity: R²
    # 0.9999998 to 0.9999997): only those that cost a tenth of the leak's are named.
    return [(name, value) for cost, name, value in ranked if cost >= ranked[0][0] / 10]


#: What a model that learnt nothing scores, and how far above it a score still is no signal.
CHANCE = {"roc_auc": (0.5, 0.05), "r2": (0.0, 0.05)}


def _below_chance(scored: dict[str, float], spec: ProjectSpec) -> list[str]:
    """A failure when the candidate scores clearly below what guessing does (R² below 0: worse
    than one value for every row; ROC AUC below 0.5), whatever the primary metric: a
    daily series' model with R² -7.7 on its later test days was promoted as a first champion."""
    metric = "r2" if spec.task == Task.REGRESSION else "roc_auc"
    value = scored.get(metric, math.nan)
    chance, margin = CHANCE[metric]
    if not math.isfinite(value) or value >= chance - margin:
        return []
    worse = "predicting one value (their mean) for every row" if metric == "r2" else "guessing"
    return [
        f"{metric} is {value:.4f} on the held-out test rows: worse than {worse} ({chance:g}). "
        "Look at the split and the features before serving it, or promote it anyway with "
        "'tabops promote --version N --force'"
    ]


def _chance_notes(metric: str, scored: dict[str, float], spec: ProjectSpec) -> list[str]:
    """A warning when the candidate scores about what guessing does (a note: weak signals
    are real too, and the user judges)."""
    if metric not in CHANCE or not math.isfinite(scored.get(metric, math.nan)):
        return []
    chance, margin = CHANCE[metric]
    if scored[metric] > chance + margin:
        return []
    return [
        f"warning: {metric} {scored[metric]:.4f} is about what guessing scores ({chance:g}): "
        f"the features hardly predict '{spec.target}'. Check the target and the features' "
        "roles in tabops.yaml before serving this model"
    ]


def _below_majority_notes(scored: dict[str, float], y: np.ndarray, spec: ProjectSpec) -> list[str]:
    """A warning when a model of three classes or more answers right less often than always
    answering the commonest class would (thanksgiving's 11 income brackets: accuracy 0.137
    against 0.176, promoted on ROC AUC 0.573 without a word). A note, not a failure: a model
    weighted to find the rare classes may trade some accuracy for them. Binary models are
    not judged so: their threshold trades accuracy for recall by design."""
    if spec.task != Task.CLASSIFICATION or not math.isfinite(scored.get("accuracy", math.nan)):
        return []
    classes, counts = np.unique(y.astype(str), return_counts=True)
    share = counts.max() / counts.sum() if len(counts) else 0.0
    if len(classes) < 3 or scored["accuracy"] >= share:
        return []
    commonest = classes[counts.argmax()]
    return [
        f"warning: accuracy {scored['accuracy']:.4f} is below what always answering the "
        f"commonest class '{commonest}' scores ({share:.4f}) on the held-out test rows: the "
        f"model's answers are wrong more often than that guess. Check the features' roles, "
        f"or whether fewer, broader classes of '{spec.target}' would do"
    ]


def _pass_reason(metric: str, metrics: dict[str, dict[str, float]]) -> str:
    candidate = metrics["candidate"].get(metric, math.nan)
    if "champion" not in metrics:
        return f"first champion ({metric} {candidate:.4f})"
    return f"{metric} {candidate:.4f} vs champion {metrics['champion'].get(metric, math.nan):.4f}"


def _finite(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in values.items() if math.isfinite(v)}


def actor() -> str:
    """Who is acting: the operating-system user (what the audit records)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
