"""``tabops run``: ingest, train, evaluate and register in order, as one stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabops.context import Context
from tabops.data.ingest import IngestResult, run_ingest
from tabops.errors import TabopsError
from tabops.model.train import TrainResult, run_train
from tabops.monitor.reference import on_registered
from tabops.registry.models import CHAMPION, registry_for
from tabops.registry.tracking import MlflowTracking
from tabops.release.register import RegisterResult, run_register
from tabops.spec import ProjectSpec
from tabops.store.ledger import latest_snapshot


@dataclass
class RunResult:
    """Each stage's result; later stages are None when an earlier one stopped the run, and
    ``error`` says why when a stage after ingest failed (the ingest still stands)."""

    ingest: IngestResult
    train: TrainResult | None = None
    register: RegisterResult | None = None
    error: TabopsError | None = None
    failed_stage: str | None = None
    #: The champion's version when training was skipped: it was trained on the same data
    #: snapshot with the same spec, so a new version would be the same model again.
    unchanged: str | None = None

    @property
    def exit_code(self) -> int:
        """0 when the data loaded and the model was promoted (or the champion already is that
        model), 3 when something was refused, the error's code when a stage failed."""
        if self.error is not None:
            return self.error.exit_code
        if self.ingest.status == "blocked":
            return 3
        if self.unchanged is not None:
            return 0
        return 0 if self.register is not None and self.register.decision.promoted else 3

    def to_dict(self) -> dict[str, Any]:
        return {
            "ingest": self.ingest.to_dict(),
            "train": self.train.to_dict() if self.train else None,
            "register": self.register.to_dict() if self.register else None,
            "unchanged": None if self.unchanged is None else {
                "champion": self.unchanged, "message": self.unchanged_message},
            "error": self._error_document(),
        }  # fmt: skip

    @property
    def unchanged_message(self) -> str:
        return (
            f"Nothing to train: the champion, version {self.unchanged}, was trained on this "
            "data snapshot with this spec, so a new version would be the same model. Pass "
            "--retrain to train anyway."
        )

    def _error_document(self) -> dict[str, Any] | None:
        if self.error is None:
            return None
        return {"stage": self.failed_stage, "code": self.error.code, "message": str(self.error)}


def run_lifecycle(
    spec: ProjectSpec, ctx: Context, force: bool = False, retrain: bool = False
) -> RunResult:
    """Ingest the source; unless the batch is blocked, train every candidate, register the
    best and gate it against the champion. Training is skipped when the champion was trained
    on the snapshot training would read, with the same spec (unless ``retrain``)."""
    result = RunResult(ingest=run_ingest(spec, ctx))
    if result.ingest.status == "blocked":
        return result
    if not retrain:
        result.unchanged = _champion_of_the_same_inputs(spec, ctx)
        if result.unchanged is not None:
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


def _champion_of_the_same_inputs(spec: ProjectSpec, ctx: Context) -> str | None:
    """The champion's version when it was trained on the latest snapshot with this spec."""
    latest = latest_snapshot(ctx.store, spec.name)
    if latest is None:
        return None
    champion = registry_for(spec, ctx).by_alias(CHAMPION)
    if champion is None:
        return None
    same = champion.snapshot_hash == latest.snapshot_hash and champion.spec_hash == spec.spec_hash
    return champion.version if same else None
