"""Register a trained candidate as a model version and put it through the gate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabops.context import Context
from tabops.errors import DataError, NotFoundError, RegistryError, TabopsError
from tabops.model.evaluate import CheckResult, behavioural_checks, evaluate, slice_metrics
from tabops.model.frame import model_frame, target_values
from tabops.model.metrics import Evaluation
from tabops.model.report import REPORT_NAME, report_pipeline
from tabops.registry.compiled import KIND_TAG, compile_version
from tabops.registry.gate import Decision, frozen_test_rows, gate
from tabops.registry.models import CHAMPION, ModelVersion, Registry
from tabops.registry.tracking import VERSION_TAGS, MlflowTracking
from tabops.spec import ProjectSpec
from tabops.store.ledger import find_snapshot


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


def registry_for(spec: ProjectSpec, ctx: Context) -> Registry:
    """The project's registered model, in the configured tracking store."""
    return Registry(ctx.settings.mlflow_uri, spec.name)


def run_register(
    spec: ProjectSpec, ctx: Context, run_id: str | None = None, force: bool = False
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
    loaded = frozen_test_rows(spec, ctx, registry, version), registry.load_pipeline(version)
    if KIND_TAG not in version.tags:
        version, compiled = compile_version(spec, registry, version, *loaded)
    decision = gate(spec, ctx, registry, version, force=force, loaded=loaded)
    return RegisterResult(version, decision, compiled.report() if compiled else None)


def run_promote(spec: ProjectSpec, ctx: Context, version: str, force: bool = False) -> Decision:
    """Put an existing version through the gate (or past it, with ``force``)."""
    registry = registry_for(spec, ctx)
    return gate(spec, ctx, registry, registry.version(version), force=force, action="promote")


@dataclass
class EvaluateResult:
    version: ModelVersion
    evaluation: Evaluation
    slices: dict[str, dict[str, dict[str, float]]]
    checks: list[CheckResult]
    report: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.name,
            "version": self.version.version,
            "metrics": self.evaluation.metrics,
            "threshold": self.evaluation.threshold,
            "confusion": self.evaluation.confusion,
            "slices": self.slices,
            "checks": [c.to_dict() for c in self.checks],
            "report": str(self.report),
        }


def _version_or_champion(registry: Registry, version: str | None) -> ModelVersion:
    if version is not None:
        return registry.version(version)
    champion = registry.by_alias(CHAMPION)
    if champion is None:
        raise NotFoundError(
            f"Model {registry.name} has no champion yet; pass --version or run 'tabops register'."
        )
    return champion


def run_evaluate(spec: ProjectSpec, ctx: Context, version: str | None = None) -> EvaluateResult:
    """Re-score a registered version (default: the champion) on its frozen test rows with the
    spec's current evaluation settings, and write its report into the workspace."""
    registry = registry_for(spec, ctx)
    chosen = _version_or_champion(registry, version)
    rows = frozen_test_rows(spec, ctx, registry, chosen)
    x, y = model_frame(rows, spec), target_values(rows, spec)
    pipeline = registry.load_pipeline(chosen)
    evaluation = evaluate(pipeline, x, y, spec)
    slices = slice_metrics(pipeline, x, y, rows.to_pandas(), spec, evaluation.threshold)
    checks = behavioural_checks(pipeline, x, spec)
    folder = ctx.settings.home / "reports" / spec.name / f"v{chosen.version}"
    report_pipeline(
        folder, pipeline, x, y, spec, evaluation,
        title=f"{spec.name} version {chosen.version}", slices=slices,
        checks=[c.to_dict() for c in checks],
        facts={"model": f"{chosen.name} v{chosen.version}", "run": chosen.run_id,
               "data snapshot": chosen.snapshot_hash, "artifact SHA-256": chosen.artifact_sha256},
    )  # fmt: skip
    return EvaluateResult(chosen, evaluation, slices, checks, folder / REPORT_NAME)


def report_path(spec: ProjectSpec, ctx: Context, version: str | None = None) -> Path:
    """A version's report (default: the champion's): from 'tabops evaluate' if written, else
    the one written at training (fetched from the tracking store if not local)."""
    registry = registry_for(spec, ctx)
    chosen = _version_or_champion(registry, version)
    reports = ctx.settings.home / "reports" / spec.name
    for local in (
        reports / f"v{chosen.version}" / REPORT_NAME,
        reports / chosen.run_id / REPORT_NAME,
    ):
        if local.exists():  # the latest 'tabops evaluate', else the training report
            return local
    try:
        return registry.run_artifact(chosen.run_id, f"evaluation/{REPORT_NAME}")
    except RegistryError as exc:
        raise NotFoundError(
            f"Version {chosen.version} has no training report. Write one with "
            f"'tabops evaluate --version {chosen.version}'."
        ) from exc
