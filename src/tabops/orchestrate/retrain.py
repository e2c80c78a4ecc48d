"""The retrain: dataset -> train -> register and gate, each step idempotent by logical date.

Only a retrain the guardrails let start runs (an audited ``triggered`` event of its logical
date); its result - the gate's verdict, or why it stopped - is audited too. The gate alone
promotes: nothing here forces it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tabops.context import Context
from tabops.errors import TabopsError
from tabops.model.train import run_train
from tabops.monitor.reference import on_registered
from tabops.orchestrate import audit
from tabops.orchestrate.dataset import run_dataset
from tabops.orchestrate.day import RefusedError
from tabops.orchestrate.decide import DAILY, MANUAL, run_decide
from tabops.registry.models import CHAMPION, ModelVersion, Registry, registry_for
from tabops.registry.tracking import MlflowTracking
from tabops.release.gate import GATE_ACTION
from tabops.release.register import run_register
from tabops.spec import ProjectSpec
from tabops.store.audit import events_of

#: Results a rerun returns instead of retraining again (a failure is retried).
FINAL = ("promoted", "refused")


def allowed_via(spec: ProjectSpec, ctx: Context, day: date, reason: str) -> str:
    """What let a retrain of ``day`` start (``daily`` or ``manual``); with neither audited,
    a manual trigger (``reason``) is judged now.

    Raises:
        RefusedError: the guardrails stopped the manual trigger (audited as a skip).
    """
    for via in (DAILY, MANUAL):
        if audit.find(spec, ctx, day, via, (audit.TRIGGERED,)) is not None:
            return via
    verdict = run_decide(spec, ctx, day, MANUAL, reason)
    if not verdict["retrain"]:
        raise RefusedError(f"No retrain on {day}: {verdict['reason']}.")
    return MANUAL


def run_retrain(spec: ProjectSpec, ctx: Context, day: date, via: str) -> dict[str, Any]:
    """Dataset, train, register and gate for a retrain ``via`` let start on ``day``."""
    if audit.find(spec, ctx, day, via, (audit.TRIGGERED,)) is None:
        raise TabopsError(
            f"No retrain was let start on {day} ({via}): the decide task (or 'tabops pipeline "
            "retrain') audits the trigger first; 'tabops history' shows the decisions."
        )
    done = audit.find(spec, ctx, day, via, FINAL)
    if done is not None:
        return _result(done)
    try:
        data = run_dataset(spec, ctx, day)
        trained = train(spec, ctx, day, str(data["snapshot_hash"]))
        return gate(spec, ctx, day, via, trained | {"dataset": data})
    except RefusedError as exc:
        audit.record(spec, ctx, day, via, "blocked", [str(exc)], {})
        raise
    except TabopsError as exc:
        audit.record(spec, ctx, day, via, "failed", [str(exc)], {"error": exc.code})
        raise


def train(
    spec: ProjectSpec, ctx: Context, day: date, snapshot: str | None = None
) -> dict[str, Any]:
    """Train on the retrain's dataset (``snapshot``, else built again: the ledger finds it
    loaded), unless the latest best run already did (a rerun)."""
    snapshot = snapshot or str(run_dataset(spec, ctx, day)["snapshot_hash"])
    tracking = MlflowTracking(ctx.settings, spec)
    best = tracking.best_run()
    tags = best.data.tags if best is not None else {}
    if (
        tags.get("tabops.snapshot_hash") == snapshot
        and tags.get("tabops.spec_hash") == spec.spec_hash
    ):
        return {"date": day.isoformat(), "status": "already_trained", "snapshot_hash": snapshot,
                "run_id": best.info.run_id}  # fmt: skip
    result = run_train(spec, ctx, tracking, snapshot=snapshot)
    return {"date": day.isoformat(), "status": "trained", "snapshot_hash": snapshot,
            "run_id": result.best.run_id, "estimator": result.best.estimator,
            "train_rows": result.train_rows, "test_rows": result.test_rows}  # fmt: skip


def gate(
    spec: ProjectSpec, ctx: Context, day: date, via: str, trained: dict[str, Any]
) -> dict[str, Any]:
    """Register the trained run and put it through the gate; audit the result."""
    done = audit.find(spec, ctx, day, via, FINAL)
    if done is not None:
        return _result(done)
    run_id = str(trained["run_id"])
    registry = registry_for(spec, ctx)
    champion = registry.by_alias(CHAMPION)
    versions: tuple[str | None, str | None]
    if champion is not None and champion.run_id == run_id:  # promoted by a killed run
        promoted, reasons, versions = True, ["promoted before (a rerun)"], (None, champion.version)
        metrics: dict[str, Any] = {}
    elif (refused := _refused_before(spec, ctx, registry, run_id, champion)) is not None:
        promoted, metrics = False, refused["metrics"]
        reasons = [f"refused before (a rerun): {reason}" for reason in refused["reasons"]]
        versions = (refused["from_version"], refused["to_version"])
    else:
        registered = run_register(spec, ctx, run_id, False, on_registered(spec, ctx))
        decision = registered.decision
        promoted, reasons, metrics = decision.promoted, decision.reasons, decision.metrics
        versions = (decision.champion, decision.candidate)
    details = {"run_id": run_id, "snapshot_hash": trained.get("snapshot_hash"),
               "metrics": metrics}  # fmt: skip
    reasons = [f"retrain of {day}: {reason}" for reason in reasons]
    audit.record(spec, ctx, day, via, "promoted" if promoted else "refused", reasons, details,
                 versions)  # fmt: skip
    found = audit.find(spec, ctx, day, via, FINAL)
    assert found is not None
    return _result(found)


def _refused_before(
    spec: ProjectSpec, ctx: Context, registry: Registry, run_id: str,
    champion: ModelVersion | None,
) -> dict[str, Any] | None:  # fmt: skip
    """The gate's audited refusal of the version registered from ``run_id``, when it was
    judged against the current champion: a retrain killed after its gate, rerun, reports that
    verdict instead of gating the same versions again."""
    version = registry.of_run(run_id)
    if version is None:
        return None
    current = None if champion is None else champion.version
    found = None
    for event in events_of(ctx.store, spec.name, GATE_ACTION):
        if event["to_version"] == version.version and event["from_version"] == current:
            found = event
    return found if found is not None and found["decision"] == "refused" else None


def _result(event: dict[str, Any]) -> dict[str, Any]:
    details = event["metrics"]
    return {"date": details["logical_date"], "via": details["via"],
            "decision": event["decision"], "promoted": event["decision"] == "promoted",
            "model_version": event["to_version"], "champion_before": event["from_version"],
            "snapshot_hash": details.get("snapshot_hash"), "run_id": details.get("run_id"),
            "reasons": event["reasons"]}  # fmt: skip
