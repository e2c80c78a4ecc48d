"""``tabops run``: ingest, train, evaluate and register in order, as one stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabops.context import Context
from tabops.data.ingest import IngestResult, run_ingest
from tabops.model.train import TrainResult, run_train
from tabops.registry.lifecycle import RegisterResult, run_register
from tabops.registry.tracking import MlflowTracking
from tabops.spec import ProjectSpec


@dataclass
class RunResult:
    """Each stage's result; later stages are None when an earlier one stopped the run."""

    ingest: IngestResult
    train: TrainResult | None = None
    register: RegisterResult | None = None

    @property
    def exit_code(self) -> int:
        """0 when the data loaded and the model was promoted, 3 when something was refused."""
        if self.ingest.status == "blocked":
            return 3
        return 0 if self.register is not None and self.register.decision.promoted else 3

    def to_dict(self) -> dict[str, Any]:
        return {
            "ingest": self.ingest.to_dict(),
            "train": self.train.to_dict() if self.train else None,
            "register": self.register.to_dict() if self.register else None,
        }


def run_lifecycle(spec: ProjectSpec, ctx: Context, force: bool = False) -> RunResult:
    """Ingest the source; unless the batch is blocked, train every candidate, register the
    best and gate it against the champion."""
    result = RunResult(ingest=run_ingest(spec, ctx))
    if result.ingest.status == "blocked":
        return result
    with ctx.progress.step("Opening the MLflow tracking store"):
        tracking = MlflowTracking(ctx.settings, spec)
    result.train = run_train(spec, ctx, tracking)
    with ctx.progress.step("Registering and gating"):
        result.register = run_register(spec, ctx, run_id=result.train.best.run_id, force=force)
    return result
