"""Evaluate a registered version again, on its frozen test rows with the spec's current
evaluation settings, and find its report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabops import storage
from tabops.context import Context
from tabops.errors import NotFoundError, RegistryError
from tabops.model.evaluate import (
    CheckResult,
    behavioural_checks,
    evaluate,
    predictions,
    slice_metrics,
)
from tabops.model.frame import model_frame, target_values
from tabops.model.metrics import Evaluation
from tabops.model.report import REPORT_NAME, report_pipeline
from tabops.registry.models import CHAMPION, ModelVersion, Registry, registry_for
from tabops.release.gate import frozen_test_rows
from tabops.spec import ProjectSpec


@dataclass
class EvaluateResult:
    version: ModelVersion
    evaluation: Evaluation
    slices: dict[str, dict[str, dict[str, float]]]
    checks: list[CheckResult]
    report: str  # the workspace's copy, or the storage's (TABOPS_STORAGE_URL)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.name,
            "version": self.version.version,
            "metrics": self.evaluation.metrics,
            "threshold": self.evaluation.threshold,
            "confusion": self.evaluation.confusion,
            "slices": self.slices,
            "checks": [c.to_dict() for c in self.checks],
            "report": self.report,
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
    scores = predictions(pipeline, x, spec)
    evaluation = evaluate(pipeline, x, y, spec, registry.threshold(chosen), scores)
    slices = slice_metrics(pipeline, x, y, rows.to_pandas(), spec, evaluation.threshold, scores)
    checks = behavioural_checks(pipeline, x, spec, scores)
    folder = ctx.settings.home / "reports" / spec.name / f"v{chosen.version}"
    report_pipeline(
        folder, pipeline, x, y, spec, evaluation,
        title=f"{spec.name} version {chosen.version}", slices=slices,
        checks=[c.to_dict() for c in checks],
        facts={"model": f"{chosen.name} v{chosen.version}", "run": chosen.run_id,
               "data snapshot": chosen.snapshot_hash, "artifact SHA-256": chosen.artifact_sha256},
    )  # fmt: skip
    report = str(folder / REPORT_NAME)
    published = ctx.settings.artifacts("reports", spec.name)
    if published is not None:  # the workspace copy stays: 'tabops report' finds it there
        published = storage.join(published, f"v{chosen.version}")
        storage.upload_folder(folder, published)
        report = storage.join(published, REPORT_NAME)
    return EvaluateResult(chosen, evaluation, slices, checks, report)


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
