"""A retrain killed after its gate, before its own audit: the rerun reports the gate's verdict
instead of gating the same versions again (one gate decision per retrain in the history)."""

from __future__ import annotations

from pathlib import Path

from tabops.model.train import run_train
from tabops.orchestrate import retrain
from tabops.registry.models import CHAMPION, registry_for
from tabops.registry.tracking import VERSION_TAGS, MlflowTracking
from tabops.release.gate import GATE_ACTION
from tabops.store.audit import events_of, record_decision
from tests.integration.orchestrate.conftest import D1, make_daily_project
from tests.unit.model.conftest import add_snapshot, synthetic_table


def test_a_rerun_after_a_refusal_reports_it_and_gates_again_only_for_a_new_champion(
    tmp_path: Path,
) -> None:
    project = make_daily_project(tmp_path / "rerun")
    spec, ctx = project.spec, project.ctx
    registry = registry_for(spec, ctx)
    champion = registry.by_alias(CHAMPION)
    assert champion is not None
    # What a killed retrain leaves: its run registered, and the gate's refusal audited.
    add_snapshot(ctx, spec, synthetic_table(500, seed=7))
    run_id = run_train(spec, ctx, MlflowTracking(project.settings, spec)).best.run_id
    run_tags = MlflowTracking(project.settings, spec).run(run_id).data.tags
    tags = {k: v for k, v in run_tags.items() if k in VERSION_TAGS}
    candidate = registry.register(run_id, run_tags["tabops.model_uri"], tags)
    record_decision(ctx.store, spec.name, registry.name, GATE_ACTION, False,
                    (champion.version, candidate.version), ["roc_auc is worse"],
                    {"candidate": {"roc_auc": 0.5}}, "test")  # fmt: skip
    gates = len(events_of(ctx.store, spec.name, GATE_ACTION))

    result = retrain.gate(spec, ctx, D1, "manual", {"run_id": run_id})
    assert result["decision"] == "refused" and result["model_version"] == candidate.version
    assert result["reasons"] == [f"retrain of {D1}: refused before (a rerun): roc_auc is worse"]
    assert len(events_of(ctx.store, spec.name, GATE_ACTION)) == gates  # not gated again

    # Judged against a champion that is no longer there, it is not today's verdict: gated again.
    registry.delete_alias(CHAMPION)
    again = retrain.gate(spec, ctx, D1.replace(day=2), "manual", {"run_id": run_id})
    assert again["decision"] in ("promoted", "refused")
    assert not any("refused before" in reason for reason in again["reasons"])
    assert len(events_of(ctx.store, spec.name, GATE_ACTION)) == gates + 1
