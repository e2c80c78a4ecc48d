"""Score a later, unseen period with the champion and backtest rules vs model vs combined.

Usage (from the project folder): python backtest.py data/later/transactions.csv results.json

Prints PR AUC and recall at a 1% alert rate of the model, and precision, recall, alert rate and
cost of the rules alone, the model alone and the combined policy (docs/rules.md), and writes
them to the JSON file for the example's README and BENCHMARKS.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from tabops.context import Context
from tabops.model.frame import model_frame
from tabops.registry.compiled import load_predictor
from tabops.registry.models import CHAMPION
from tabops.release.register import registry_for
from tabops.rules.backtest import backtest
from tabops.rules.engine import load_rules
from tabops.serve.schema import RequestSchema
from tabops.settings import load_settings
from tabops.spec import load_spec


def recall_at_alert_rate(truth: np.ndarray, scores: np.ndarray, rate: float) -> float:
    """Share of frauds among the ``rate`` highest-scored transactions' frauds."""
    alerts = max(1, round(rate * len(scores)))
    top = np.argsort(-scores, kind="stable")[:alerts]
    return float(truth[top].sum() / max(1, truth.sum()))


def _review_at(review_at: float | None, threshold: float) -> float | None:
    """The review band, when it lies below the model's (cost-chosen) threshold."""
    return review_at if review_at is not None and review_at < threshold else None


def main(data_path: str, output: str) -> None:
    spec = load_spec(Path.cwd())
    ctx = Context(settings=load_settings())
    registry = registry_for(spec, ctx)
    version = registry.by_alias(CHAMPION)
    assert version is not None, "no champion: run 'tabops run' first"
    metrics, _ = registry.run_summary(version.run_id)
    threshold = metrics["threshold"]
    frame = pd.read_csv(data_path, parse_dates=["tx_datetime"])
    predictor = load_predictor(registry, version, RequestSchema(spec).model_columns)
    classes = list(predictor.classes or [])
    scores = predictor.predict_frame(model_frame(frame, spec))[:, classes.index("1")]
    frame["score"] = scores
    truth = frame["is_fraud"].to_numpy() == 1
    assert spec.decision is not None and spec.decision.rules is not None
    rules = load_rules(spec.root / spec.decision.rules, spec)
    result = backtest(
        frame, rules, "is_fraud", positive=1, score="score", threshold=threshold,
        review_threshold=_review_at(spec.decision.review_at, threshold), costs=spec.evaluate.costs,
    )  # fmt: skip
    summary = {
        "rows": len(frame),
        "frauds": int(truth.sum()),
        "model_version": version.version,
        "threshold": threshold,
        "pr_auc": float(average_precision_score(truth, scores)),
        "roc_auc": float(roc_auc_score(truth, scores)),
        "recall_at_1pct_alerts": recall_at_alert_rate(truth, scores, 0.01),
        "policies": {name: p.to_dict() for name, p in result.policies.items()},
    }
    Path(output).write_text(json.dumps(summary, indent=2))
    print(f"Later period: {len(frame):,} transactions, {truth.sum():,} frauds "
          f"({truth.mean():.2%}); champion v{version.version}")  # fmt: skip
    print(f"Model: PR AUC {summary['pr_auc']:.3f}, ROC AUC {summary['roc_auc']:.3f}, "
          f"recall at a 1% alert rate {summary['recall_at_1pct_alerts']:.1%}")  # fmt: skip
    print(f"{'policy':<10}{'precision':>10}{'recall':>8}{'alert rate':>12}{'cost':>12}")
    for policy in result.policies.values():
        precision = "-" if policy.precision is None else f"{policy.precision:.3f}"
        recall = "-" if policy.recall is None else f"{policy.recall:.3f}"
        cost = "-" if policy.cost is None else f"{policy.cost:,.0f}"
        print(f"{policy.policy:<10}{precision:>10}{recall:>8}{policy.alert_rate:>12.2%}{cost:>12}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
