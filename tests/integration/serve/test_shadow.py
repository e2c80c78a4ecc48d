"""The challenger scored in shadow: never answered, logged beside the champion, compared."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tabops.monitor.shadow import compare_shadow
from tabops.registry.models import CHALLENGER, CHAMPION, registry_for
from tabops.serve.app import create_app
from tests.integration.serve.conftest import make_project, served_spec_dict, valid_record

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]


def test_challenger_is_shadowed_logged_and_compared_with_labels(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", served_spec_dict("linear"))
    other = project.train_and_register(
        train={"trials": 1, "cv_folds": 2,
               "candidates": [{"estimator": "lightgbm", "search": {}}]},
    )  # fmt: skip
    registry = registry_for(project.spec, project.ctx)
    champion = registry.by_alias(CHAMPION)
    assert champion is not None
    if other == champion.version:  # the gate promoted it: shadow the first one instead
        other = "1"
    registry.set_alias(CHALLENGER, other)

    records = [valid_record(x=i / 10 - 2, color=("red", "blue")[i % 2]) for i in range(40)]
    with TestClient(create_app(project.spec, project.settings)) as client:
        ids = []
        for i, record in enumerate(records):
            response = client.post("/predict", json=record, headers={"x-request-id": f"s-{i}"})
            assert response.status_code == 200
            assert response.json()["version"] == champion.version  # never the challenger's
            ids.append(f"s-{i}")
        labels = [{"request_id": rid, "label": "yes" if r["x"] > 0 else "no"}
                  for rid, r in zip(ids, records, strict=True)]  # fmt: skip
        assert client.post("/feedback", json={"labels": labels}).status_code == 200
        deadline = time.monotonic() + 60
        comparisons = []
        while time.monotonic() < deadline:
            comparisons = compare_shadow(project.ctx.store, "synthetic", "classification", "yes")
            if comparisons and comparisons[0].requests == len(records):
                break
            time.sleep(0.1)
    assert len(comparisons) == 1
    result = comparisons[0]
    assert (result.champion, result.challenger) == (champion.version, other)
    assert result.requests == 40 and result.labelled == 40
    assert 0.5 <= result.agreement <= 1.0
    assert [s.version for s in result.scores] == [champion.version, other]
    assert all(0.5 < s.metrics["roc_auc"] <= 1.0 for s in result.scores)
