"""The decision policy is one implementation: serving's per-request decisions (rules evaluated
row by row, then combined with the score) count the same rejects and reviews as the rules
backtest (rules evaluated on the whole frame) for the same rows and thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tabops.rules.backtest import backtest
from tabops.rules.engine import load_rules
from tabops.rules.policy import APPROVE, REJECT, REVIEW, combine, score_outcomes
from tabops.serve.app import create_app
from tests.integration.serve.conftest import (
    ServedProject,
    make_project,
    served_spec_dict,
    valid_record,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]

RULES = """version: "1"
rules:
  - {id: big x, condition: x > 1.5, action: review, explanation: large x}
  - {id: green flag, condition: color == "green" and flag, action: reject, explanation: g}
  - {id: small n, condition: n < 2, action: approve, explanation: n}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    folder = tmp_path_factory.mktemp("decision")
    (folder / "rules.yaml").write_text(RULES)
    spec = served_spec_dict()
    spec["decision"] = {"rules": "rules.yaml", "review_at": 0.3, "reject_at": 0.7}
    return make_project(Path(folder), spec)


def _records(count: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(5)
    return [
        valid_record(x=round(float(rng.normal(scale=1.5)), 3), n=int(rng.integers(0, 10)),
                     color=str(rng.choice(["red", "blue", "green"])), flag=bool(rng.random() < 0.5))
        for _ in range(count)
    ]  # fmt: skip


def test_serving_decides_as_the_backtest_counts(project: ServedProject) -> None:
    records = _records(200)
    with TestClient(create_app(project.spec, project.settings)) as client:
        response = client.post("/predict", json=records)
    assert response.status_code == 200, response.text
    answers = response.json()["predictions"]
    decisions = pd.Series([a["decision"] for a in answers])
    assert set(decisions) == {"approve", "review", "reject"}  # every outcome is exercised

    frame = pd.DataFrame(records)
    frame["score"] = [a["score"] for a in answers]
    frame["label"] = np.where(frame["x"] > 0, "yes", "no")
    rules = load_rules(project.folder / "rules.yaml", project.spec)
    result = backtest(frame, rules, "label", positive="yes", score="score",
                      threshold=0.7, review_threshold=0.3)  # fmt: skip
    combined = result.policies["combined"]
    assert (combined.rejected, combined.reviewed) == (
        int((decisions == "reject").sum()),
        int((decisions == "review").sum()),
    )
    fired = [{f["id"] for f in a["rules"]["fired"]} for a in answers]
    assert all(
        ("green flag" in f) <= (d == "reject") for f, d in zip(fired, decisions, strict=True)
    )


def test_policy_outcomes_combine_by_maximum() -> None:
    scores = np.array([0.1, 0.3, 0.69, 0.7, np.nan])
    model = score_outcomes(scores, reject_at=0.7, review_at=0.3)
    assert model.tolist() == [APPROVE, REVIEW, REVIEW, REJECT, APPROVE]
    rules = np.array([REJECT, APPROVE, APPROVE, REVIEW, REVIEW], dtype=np.int8)
    assert combine(rules, model).tolist() == [REJECT, REVIEW, REVIEW, REJECT, REVIEW]
