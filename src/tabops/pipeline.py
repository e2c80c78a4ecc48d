"""``tabops run``: ingest, train, evaluate and register in order, as one stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tabops.context import Context
from tabops.data.ingest import IngestResult, run_ingest
from tabops.errors import NotFoundError, TabopsError
from tabops.model.train import TrainResult, run_train
from tabops.monitor.reference import on_registered
from tabops.registry.models import CHAMPION, ModelVersion, registry_for
from tabops.registry.tracking import MlflowTracking
from tabops.release.register import RegisterResult, run_register
from tabops.spec import ProjectSpec
from tabops.store.audit import events_of
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
    #: The champion's version when training was skipped: it (or ``rolled_back``) was trained
    #: on the same data snapshot with the same spec, so a new version would be that model again.
    unchanged: str | None = None
    #: A version rolled back from, trained on those inputs: retraining would bring it back.
    rolled_back: str | None = None

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
                "champion": self.unchanged, "rolled_back": self.rolled_back,
                "message": self.unchanged_message},
            "error": self._error_document(),
        }  # fmt: skip

    @property
    def unchanged_message(self) -> str:
        if self.rolled_back is not None:
            return (
                f"Nothing to train: version {self.rolled_back}, rolled back from, was trained "
                "on this data snapshot with this spec, so a new version would be that model "
                f"again and undo the rollback. The champion stays version {self.unchanged}. "
                "Ingest new data, change the spec, or pass --retrain to train anyway."
            )
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
    on the snapshot training would read, with the same spec, or a version rolled back from was
    (unless ``retrain``)."""
    result = RunResult(ingest=run_ingest(spec, ctx))
    if result.ingest.status == "blocked":
        return result
    if not retrain:
        result.unchanged, result.rolled_back = _trained_on_the_same_inputs(spec, ctx)
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


def _trained_on_the_same_inputs(spec: ProjectSpec, ctx: Context) -> tuple[str | None, str | None]:
    """The champion's version when it, or a version rolled back from (the second), was
    trained on the latest snapshot with this spec; (None, None) when training is due."""
    latest = latest_snapshot(ctx.store, spec.name)
    registry = registry_for(spec, ctx)
    champion = registry.by_alias(CHAMPION)
    if latest is None or champion is None:
        return None, None

    def same(version: ModelVersion) -> bool:
        return version.snapshot_hash == latest.snapshot_hash and version.spec_hash == spec.spec_hash

    if same(champion):
        return champion.version, None
    for event in reversed(events_of(ctx.store, spec.name, "rollback")):
        undone = event["from_version"]
        if undone is None or undone == champion.version:
            continue
        try:
            if same(registry.version(undone)):
                return champion.version, undone
        except NotFoundError:  # deleted from the registry since: it cannot come back
            continue
    return None, None
