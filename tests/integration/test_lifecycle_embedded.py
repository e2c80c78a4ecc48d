"""Train, register, gate, promote and roll back against a real MLflow store (SQLite, embedded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tabops.context import Context
from tabops.errors import NotFoundError, TabopsError
from tabops.model.train import run_train
from tabops.registry.client import connect
from tabops.registry.models import CHAMPION, PREVIOUS, registry_for
from tabops.registry.tracking import MlflowTracking
from tabops.release.gate import history, rollback
from tabops.release.register import run_promote, run_register
from tabops.serve.model import load_served
from tabops.settings import Settings
from tabops.spec import ProjectSpec, parse_spec
from tests.unit.model.conftest import add_snapshot, synthetic_spec, synthetic_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("lifecycle-embedded")]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Context:
    home = tmp_path_factory.mktemp("lifecycle") / ".tabops"
    ctx = Context(settings=Settings(home=home))
    add_snapshot(ctx, synthetic_spec(), synthetic_table(400))
    return ctx


def _train(spec: ProjectSpec, ctx: Context) -> str:
    result = run_train(spec, ctx, MlflowTracking(ctx.settings, spec))
    assert result.best.run_id is not None
    return result.best.run_id


def test_trials_nest_under_their_candidate_and_the_model_is_logged(workspace: Context) -> None:
    spec = synthetic_spec(trials=3, candidates=[{"estimator": "linear"}])
    run_id = _train(spec, workspace)
    client = connect(workspace.settings.mlflow_uri)
    run = client.get_run(run_id)
    assert run.data.tags["tabops.snapshot_hash"]
    assert run.data.tags["tabops.best"] == "true"
    assert run.data.metrics["test_roc_auc"] > 0.85
    children = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
    )
    assert len(children) == 3
    assert all("C" in child.data.params for child in children)
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"tabops.yaml", "split", "environment", "evaluation"} <= artifacts


def test_gate_promotes_better_refuses_worse_and_audits_both(workspace: Context) -> None:
    good = synthetic_spec(trials=2, candidates=[{"estimator": "linear"}])
    first = run_register(good, workspace, _train(good, workspace))
    assert first.decision.promoted
    # A crippled model: heavy regularisation, no tuning.
    bad = synthetic_spec(
        trials=1, candidates=[{"estimator": "linear", "params": {"C": 1e-4}, "search": {}}]
    )
    worse = run_register(bad, workspace, _train(bad, workspace))
    assert not worse.decision.promoted
    assert "worse than the champion" in worse.decision.reasons[0]
    scored = worse.decision.metrics
    assert scored["candidate"]["roc_auc"] < scored["champion"]["roc_auc"]
    registry = registry_for(good, workspace)
    champion = registry.by_alias(CHAMPION)
    assert champion is not None and champion.version == first.version.version

    forced = run_promote(bad, workspace, worse.version.version, force=True)
    assert forced.promoted and forced.reasons[0].startswith("forced despite")
    previous = registry.by_alias(PREVIOUS)
    assert previous is not None and previous.version == first.version.version

    back = rollback(good, workspace, registry)
    assert back.candidate == first.version.version
    champion = registry.by_alias(CHAMPION)
    assert champion is not None and champion.version == first.version.version
    actions = [(e["action"], e["decision"]) for e in history(workspace, good)]
    assert actions[:4] == [
        ("rollback", "promoted"), ("promote", "promoted"), ("gate", "refused"),
        ("gate", "promoted"),
    ]  # fmt: skip


def test_tampered_artifact_is_refused_before_loading(workspace: Context) -> None:
    spec = synthetic_spec(trials=1, candidates=[{"estimator": "linear"}])
    registry = registry_for(spec, workspace)
    version = registry.register(
        *_logged_model(spec, workspace),
    )
    folder = Path(workspace.settings.artifacts_dir)
    model_files = sorted(folder.rglob("model.skops"), key=lambda p: p.stat().st_mtime)
    model_files[-1].write_bytes(model_files[-1].read_bytes() + b"tampered")
    with pytest.raises(TabopsError, match="SHA-256"):
        registry.load_pipeline(version)


def _logged_model(spec: ProjectSpec, ctx: Context) -> tuple[str, str, dict[str, str]]:
    run_id = _train(spec, ctx)
    run = connect(ctx.settings.mlflow_uri).get_run(run_id)
    tags = {k: v for k, v in run.data.tags.items() if k.startswith("tabops.")}
    return run_id, run.data.tags["tabops.model_uri"], tags


def test_schema_change_and_rerun_are_refused_cleanly(workspace: Context) -> None:
    spec = synthetic_spec(trials=1, candidates=[{"estimator": "linear"}])
    run_id = _train(spec, workspace)
    first = run_register(spec, workspace, run_id)
    again = run_register(spec, workspace, run_id)
    assert again.version.version == first.version.version  # the same run, the same version
    if first.decision.promoted:
        assert "already the champion" in again.decision.reasons[0]
    raw = spec.model_dump(mode="json", exclude_none=True)
    raw["columns"]["flag"]["role"] = "ignored"  # the candidate drops a feature
    narrower = parse_spec(raw)
    refused = run_register(narrower, workspace, _train(narrower, workspace))
    assert not refused.decision.promoted
    reason = refused.decision.reasons[0]
    assert "input schema changed (flag removed)" in reason
    assert f"tabops promote --version {refused.version.version} --force" in reason  # the way on


def test_one_threshold_from_training_decides_in_the_gate_the_reference_and_serving(
    workspace: Context,
) -> None:
    from tabops.model.evaluate import evaluate
    from tabops.model.frame import model_frame, target_values
    from tabops.monitor.reference import reference_for
    from tabops.release.gate import frozen_test_rows

    spec = synthetic_spec(trials=1, candidates=[{"estimator": "linear"}]).model_copy(
        update={"name": "decided"}
    )
    add_snapshot(workspace, spec, synthetic_table(400))
    result = run_register(spec, workspace, _train(spec, workspace))
    registry = registry_for(spec, workspace)
    threshold = registry.threshold(result.version)
    assert threshold is not None
    rows = frozen_test_rows(spec, workspace, registry, result.version)
    x, y = model_frame(rows, spec), target_values(rows, spec)
    pipeline = registry.load_pipeline(result.version)
    at_version = evaluate(pipeline, x, y, spec, threshold).metrics["f1"]
    assert result.decision.metrics["candidate"]["f1"] == pytest.approx(at_version)
    assert reference_for(spec, workspace, result.version.version).threshold == threshold
    served = load_served(spec, registry, CHAMPION)
    assert served.threshold == threshold
    best_on_test = evaluate(pipeline, x, y, spec).threshold  # what the test rows would pick
    assert best_on_test != threshold  # chosen on the training rows instead


def test_registration_scores_the_frozen_test_rows_once(
    workspace: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compile check, the reference and the gate share one scoring of the test rows."""
    from sklearn.pipeline import Pipeline

    from tabops.monitor.reference import on_registered

    spec = synthetic_spec(trials=1, candidates=[{"estimator": "linear"}]).model_copy(
        update={"name": "scored-once"}
    )
    add_snapshot(workspace, spec, synthetic_table(400))
    run_id = _train(spec, workspace)
    scored: list[int] = []
    predict_proba = Pipeline.predict_proba

    def counted(self: Pipeline, x: object, **params: object) -> object:
        scored.append(len(x))  # type: ignore[arg-type]
        return predict_proba(self, x, **params)

    monkeypatch.setattr(Pipeline, "predict_proba", counted)
    result = run_register(spec, workspace, run_id, on_registered=on_registered(spec, workspace))
    from tabops.release.gate import frozen_test_rows

    registry = registry_for(spec, workspace)
    tested = frozen_test_rows(spec, workspace, registry, result.version).num_rows
    assert result.compiled is not None and result.compiled["kind"] == "onnx"
    assert 0 < tested < 400
    assert sorted(scored) == [tested, 400], scored  # the test rows once, the snapshot once


def test_failing_behavioural_check_blocks_promotion(workspace: Context) -> None:
    raw = synthetic_spec(trials=1, candidates=[{"estimator": "linear"}]).model_dump(
        mode="json", exclude_none=True
    )
    # x raises the label's odds in the data, so a model that learnt it fails this check.
    check = {"name": "x must lower risk", "kind": "directional", "column": "x", "delta": 1.0}
    raw["evaluate"] = {"checks": [check | {"direction": "decrease"}]}
    spec = parse_spec(raw)
    result = run_register(spec, workspace, _train(spec, workspace))
    assert not result.decision.promoted
    assert any("behavioural check 'x must lower risk' failed" in r for r in result.decision.reasons)
    audited = history(workspace, spec)[0]
    assert audited["decision"] == "refused"
    assert audited["metrics"]["settings"]["checks"] == ["x must lower risk"]


def test_a_perfect_test_score_is_refused_as_leakage_unless_allowed(workspace: Context) -> None:
    raw = synthetic_spec().model_dump(mode="json", exclude_none=True)
    raw["name"] = "leaky"  # 'value' is computed from the same signal as the label: a leak
    raw["columns"]["value"]["role"] = "feature"
    raw["train"] = {"trials": 1, "cv_folds": 2,
                    "candidates": [{"estimator": "lightgbm", "search": {}}]}  # fmt: skip
    spec = parse_spec(raw)
    add_snapshot(workspace, spec, synthetic_table(400))
    run_id = _train(spec, workspace)
    refused = run_register(spec, workspace, run_id).decision
    assert not refused.promoted
    assert "perfect score" in refused.reasons[0] and "allow_perfect" in refused.reasons[0]
    assert "The model leans most on 'value' (" in refused.reasons[0]  # the leak, named first
    with pytest.raises(NotFoundError, match="gate refused it, 'tabops history' says why"):
        load_served(spec, registry_for(spec, workspace), CHAMPION)

    raw["gate"] = {"allow_perfect": True}
    allowed = run_promote(parse_spec(raw), workspace, refused.candidate or "")
    assert allowed.promoted, allowed.reasons


def test_a_regression_target_computed_from_its_features_is_refused(workspace: Context) -> None:
    # As vgsales' global sales, the sum of its regional columns rounded: R² 0.99999, RMSE > 0.
    raw = synthetic_spec("regression", trials=1, candidates=[{"estimator": "linear"}]).model_dump(
        mode="json", exclude_none=True
    )
    raw["name"] = "summed"
    spec = parse_spec(raw)
    table = synthetic_table(400)
    x, red = table["x"].to_numpy(), pc.equal(table["color"], "red").to_numpy(zero_copy_only=False)
    summed = np.round(20 * x + 10 * red, 2)
    add_snapshot(workspace, spec, table.set_column(table.schema.get_field_index("value"),
                                                   "value", pa.array(summed)))  # fmt: skip
    refused = run_register(spec, workspace, _train(spec, workspace)).decision
    assert not refused.promoted
    assert refused.metrics["candidate"]["rmse"] > 0
    assert refused.reasons[0].startswith("rmse is ")
    assert " (R² 0.99999" in refused.reasons[0] and "a perfect score" in refused.reasons[0]
    assert "The model leans most on 'x' (" in refused.reasons[0]
    # No part of the sum: their shuffling costs next to nothing, and they are not named.
    assert "'n'" not in refused.reasons[0] and "'flag'" not in refused.reasons[0]


def test_a_rare_class_does_not_excuse_a_perfect_score(workspace: Context) -> None:
    # Four outcomes, one in 40 rows of 1,000 (about 8 test rows); 'color' is a status code
    # that tells each outcome: a leak, however rare one class is.
    raw = synthetic_spec(trials=1, candidates=[{"estimator": "lightgbm", "search": {}}])
    raw = raw.model_dump(mode="json", exclude_none=True)
    raw["name"] = "rare-leak"
    table = synthetic_table(1000, classes=3)
    label = table["label"].to_pylist()
    label[::25] = ["rare"] * 40
    status = [outcome[0].upper() for outcome in label]
    table = table.set_column(table.schema.get_field_index("label"), "label", pa.array(label))
    table = table.set_column(table.schema.get_field_index("color"), "color", pa.array(status))
    spec = parse_spec(raw)
    add_snapshot(workspace, spec, table)
    refused = run_register(spec, workspace, _train(spec, workspace)).decision
    assert not refused.promoted
    assert "a perfect score" in refused.reasons[0]
    assert "The model leans most on 'color' (" in refused.reasons[0]


def test_a_perfect_score_on_few_test_rows_of_a_class_is_no_sign_of_leakage(
    workspace: Context,
) -> None:
    # As on iris (10 held-out rows of each species): an easy task scores perfectly on so few.
    raw = synthetic_spec().model_dump(mode="json", exclude_none=True)
    raw["name"] = "small-and-easy"
    raw["columns"]["value"]["role"] = "feature"
    raw["train"] = {"trials": 1, "cv_folds": 2,
                    "candidates": [{"estimator": "lightgbm", "search": {}}]}  # fmt: skip
    spec = parse_spec(raw)
    add_snapshot(workspace, spec, synthetic_table(120))
    decision = run_register(spec, workspace, _train(spec, workspace)).decision
    assert decision.metrics["candidate"][spec.metric] == 1.0
    assert decision.promoted, decision.reasons


def test_the_gate_leaves_out_test_rows_the_champion_was_trained_on(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # The data grows: the new snapshot holds the champion's rows and new ones, and is split
    # again, so some of its test rows are the champion's training rows.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tabops.release.gate import frozen_test_rows, unseen_by

    ctx = Context(settings=Settings(home=tmp_path_factory.mktemp("grown") / ".tabops"))
    spec = synthetic_spec(trials=1, candidates=[{"estimator": "linear"}])
    old = synthetic_table(400)
    add_snapshot(ctx, spec, old)
    first = run_register(spec, ctx, _train(spec, ctx))
    assert first.decision.promoted
    new = synthetic_table(400, seed=5)
    # Counts missing among the new rows: pandas would read the column as floats (3.0).
    counts = [None if i % 10 == 0 else n for i, n in enumerate(new["n"].to_pylist())]
    new = new.set_column(new.schema.get_field_index("n"), "n", pa.array(counts, pa.int64()))
    add_snapshot(ctx, spec, pa.concat_tables([old, new]))
    second = run_register(spec, ctx, _train(spec, ctx))

    registry = registry_for(spec, ctx)
    rows = frozen_test_rows(spec, ctx, registry, second.version)
    unseen = unseen_by(spec, ctx, registry, first.version, second.version, rows)
    old_test = set(pq.read_table(registry.test_rows(first.version)).column("row").to_pylist())
    pairs = list(zip(old["id"].to_pylist(), old["x"].to_pylist(), strict=True))
    learnt = {pair for position, pair in enumerate(pairs) if position not in old_test}
    tested = zip(rows["id"].to_pylist(), rows["x"].to_pylist(), strict=True)
    seen = [pair in learnt for pair in tested]
    assert list(~unseen) == seen and 0 < sum(seen) < len(seen)
    note = next(r for r in second.decision.reasons if r.startswith("compared on the"))
    assert note == (f"compared on the {len(seen) - sum(seen):,} of {len(seen):,} test rows the "
                    f"champion was not trained on (it was on the other {sum(seen):,})")  # fmt: skip
    assert set(second.decision.metrics) == {"candidate", "champion"}
