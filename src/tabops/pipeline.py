"""``tabops run``: ingest, train, evaluate and register in order, as one stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabops.context import Context
from tabops.data.ingest import IngestResult, run_ingest
from tabops.errors import TabopsError
from tabops.model.train import TrainResult, run_train
from tabops.monitor.reference import on_registered
from tabops.registry.tracking import MlflowTracking
from tabops.release.register import RegisterResult, run_register
from tabops.spec import ProjectSpec


@dataclass
class RunResult:
    """Each stage's result; later stages are None when an earlier one stopped the run, and
    ``error`` says why when a stage after ingest failed (the ingest still stands)."""

    ingest: IngestResult
    train: TrainResult | None = None
    register: RegisterResult | None = None
    error: TabopsError | None = None
    failed_stage: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when the data loaded and the model was promoted, 3 when something was refused,
        the error's code when a stage failed."""
        if self.error is not None:
            return self.error.exit_code
        if self.ingest.status == "blocked":
            return 3
        return 0 if self.register is not None and self.register.decision.promoted else 3

    def to_dict(self) -> dict[str, Any]:
        return {
            "ingest": self.ingest.to_dict(),
            "train": self.train.to_dict() if self.train else None,
            "register": self.register.to_dict() if self.register else None,
            "error": self._error_document(),
        }

    def _error_document(self) -> dict[str, Any] | None:
        if self.error is None:
            return None
        return {"stage": self.failed_stage, "code": self.error.code, "message": str(self.error)}


def run_lifecycle(spec: ProjectSpec, ctx: Context, force: bool = False) -> RunResult:
    """Ingest the source; unless the batch is blocked, train every candidate, register the
    best and gate it against the champion."""
    result = RunResult(ingest=run_ingest(spec, ctx))
    if result.ingest.status == "blocked":
        return result
    stage = "train"
    try:
        with ctx.progress.step("Opening the MLflow tracking store"):
            tracking = MlflowTracking(ctx.settings, spec)
        result.train = run_train(spec, ctx, tracking)
        stage = "register"
        with ctx.progress.step("Registering and gating"):
            result.register = run_register(
                spec, ctx, result.train.best.run_id, force, on_registered(spec, ctx)
            )
    except TabopsError as exc:
        result.error, result.failed_stage = exc, stage
    return result
