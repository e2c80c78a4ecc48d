"""Champion versus challenger on the same requests: agreement, and performance once labels
arrive (from the prediction log, the shadow log and the labels table)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tabops.store.db import Store
from tabops.store.predictions import shadow_pairs


@dataclass
class ModelScore:
    """One model's performance on the labelled shared requests."""

    version: str
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class ShadowComparison:
    """One (champion version, challenger version) pair."""

    champion: str
    challenger: str
    requests: int
    agreement: float  # share of requests with the same label (or within 1% for regression)
    mean_abs_score_difference: float
    labelled: int
    scores: list[ModelScore] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_shadow(
    store: Store, project: str, task: str, positive: str | None
) -> list[ShadowComparison]:
    """Every champion/challenger pair that answered the same requests, newest first."""
    frame = pd.DataFrame(shadow_pairs(store, project))
    if frame.empty:
        return []
    comparisons = []
    for (champion, challenger), group in frame.groupby(["champion", "challenger"], sort=False):
        comparisons.append(_compare(str(champion), str(challenger), group, task, positive))
    order = frame.groupby(["champion", "challenger"])["created_at"].max()
    return sorted(comparisons, key=lambda c: order[(c.champion, c.challenger)], reverse=True)


def _compare(
    champion: str, challenger: str, group: pd.DataFrame, task: str, positive: str | None
) -> ShadowComparison:
    a, b = group["champion_score"].astype(float), group["challenger_score"].astype(float)
    if task == "regression":
        same = np.isclose(a, b, rtol=0.01)
    else:
        same = group["champion_decision"] == group["challenger_decision"]
    labelled = group[group["label"].notna()]
    result = ShadowComparison(
        champion, challenger, len(group), float(np.mean(same)), float(np.mean(np.abs(a - b))),
        len(labelled),
    )  # fmt: skip
    if len(labelled):
        for version, prefix in ((champion, "champion"), (challenger, "challenger")):
            result.scores.append(ModelScore(version, _metrics(labelled, prefix, task, positive)))
    return result


def _metrics(rows: pd.DataFrame, prefix: str, task: str, positive: str | None) -> dict[str, float]:
    from sklearn import metrics

    scores = rows[f"{prefix}_score"].astype(float).to_numpy()
    if task == "regression":
        values = rows["label"].astype(float).to_numpy()
        return {"mae": float(metrics.mean_absolute_error(values, scores))}
    truth_labels = rows["label"].astype(str)
    decided = rows[f"{prefix}_decision"].astype(str)
    result = {"accuracy": float(np.mean(truth_labels == decided))}
    if positive is not None:
        truth = (truth_labels == positive).to_numpy()
        said = (decided == positive).to_numpy()
        result["precision"] = float(metrics.precision_score(truth, said, zero_division=0))
        result["recall"] = float(metrics.recall_score(truth, said, zero_division=0))
        if 0 < truth.sum() < len(truth):
            result["roc_auc"] = float(metrics.roc_auc_score(truth, scores))
    return result
