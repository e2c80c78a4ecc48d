"""Register a trained candidate as a model version and put it through the gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tabops.context import Context
from tabops.errors import DataError, NotFoundError, TabopsError
from tabops.registry.compiled import KIND_TAG, compile_version
from tabops.registry.models import ModelVersion, registry_for
from tabops.registry.tracking import VERSION_TAGS, MlflowTracking
from tabops.release.gate import Decision, ScoredTestRows, gate
from tabops.spec import ProjectSpec
from tabops.store.ledger import find_snapshot

#: Called with a new version and its scored test rows, before the gate (what later stages
#: keep per version, e.g. monitoring's reference profile, without reloading or rescoring).
OnRegistered = Callable[[ModelVersion, ScoredTestRows], None]


@dataclass
class RegisterResult:
    version: ModelVersion
    decision: Decision
    compiled: dict[str, Any] | None = None  # the compile report, when this call compiled

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.name,
            "version": self.version.version,
            "run_id": self.version.run_id,
            "snapshot_hash": self.version.snapshot_hash,
            "decision": self.decision.to_dict(),
            "compiled": self.compiled,
        }


def run_register(
    spec: ProjectSpec,
    ctx: Context,
    run_id: str | None = None,
    force: bool = False,
    on_registered: OnRegistered | None = None,
) -> RegisterResult:
    """Register the best candidate of the last ``tabops train`` (or run ``run_id``) as a new
    version, then gate it against the champion."""
    tracking = MlflowTracking(ctx.settings, spec)
    run = tracking.run(run_id) if run_id else tracking.best_run()
    if run is None:
        raise NotFoundError(
            f"No trained candidate of {spec.name} to register. Run 'tabops train' first."
        )
    tags = {k: v for k, v in run.data.tags.items() if k in VERSION_TAGS}
    model_uri = run.data.tags.get("tabops.model_uri")
    if model_uri is None or "tabops.artifact_sha256" not in tags:
        raise TabopsError(
            f"Run {run.info.run_id} has no model logged by tabops (did its training finish?)."
        )
    snapshot = tags.get("tabops.snapshot_hash", "")
    if find_snapshot(ctx.store, spec.name, snapshot) is None:  # check before registering
        raise DataError(
            f"Run {run.info.run_id} was trained on snapshot {snapshot[:16]}, which this "
            "workspace's store does not know; the gate needs its frozen test rows."
        )
    registry = registry_for(spec, ctx)
    version = registry.register(run.info.run_id, model_uri, tags)
    compiled = None
    tested = ScoredTestRows.of_version(spec, ctx, registry, version)
    if KIND_TAG not in version.tags:
        version, compiled = compile_version(
            spec, registry, version, tested.rows, tested.pipeline, tested.scores.values
        )
    if on_registered is not None:
        on_registered(version, tested)
    decision = gate(spec, ctx, registry, version, force=force, tested=tested)
    return RegisterResult(version, decision, compiled.report() if compiled else None)


def run_promote(spec: ProjectSpec, ctx: Context, version: str, force: bool = False) -> Decision:
    """Put an existing version through the gate (or past it, with ``force``)."""
    registry = registry_for(spec, ctx)
    return gate(spec, ctx, registry, registry.version(version), force=force, action="promote")
