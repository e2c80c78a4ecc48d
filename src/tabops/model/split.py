"""Train/test splits: stratified random, or time-ordered when the spec declares a timestamp.

The test rows are frozen with the run (their positions in the snapshot), so that every later
comparison - the gate re-scoring the champion, say - uses exactly the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from tabops.errors import DataError
from tabops.spec import ColumnRole, ProjectSpec, Task


@dataclass(frozen=True)
class Split:
    """Row positions (in the snapshot) of the train and test parts, and how they were cut."""

    train: np.ndarray
    test: np.ndarray
    method: str  # "stratified", "random" or "time:<column>"


def split_rows(data: pd.DataFrame, y: np.ndarray, spec: ProjectSpec) -> Split:
    """Cut ``data`` (the snapshot, target ``y``) into train and test rows."""
    size = spec.train.test_size
    positions = np.arange(len(data))
    timestamps = spec.columns_with_role(ColumnRole.TIMESTAMP)
    if timestamps:
        column = timestamps[0]
        order = np.argsort(pd.to_datetime(data[column], utc=True).to_numpy(), kind="stable")
        cut = len(order) - max(1, round(len(order) * size))
        # Training rows stay in time order: cross-validation folds then follow time too.
        return Split(order[:cut], np.sort(order[cut:]), f"time:{column}")
    stratify = None
    method = "random"
    if spec.task == Task.CLASSIFICATION:
        _check_classes(y, size)
        stratify, method = y, "stratified"
    train, test = train_test_split(
        positions, test_size=size, random_state=spec.train.seed, stratify=stratify
    )
    return Split(np.sort(train), np.sort(test), method)


def _check_classes(y: np.ndarray, test_size: float) -> None:
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2:
        raise DataError(
            f"The target has a single class ({labels[0] if len(labels) else 'no rows'}); a "
            "classifier needs at least two. Ingest data with both outcomes."
        )
    rare = [str(label) for label, count in zip(labels, counts, strict=True) if count < 2]
    if rare or min(counts) * test_size < 1:
        raise DataError(
            f"Too few rows of class(es) {', '.join(rare) or labels[np.argmin(counts)]} to hold "
            "some out for testing. Ingest more data, or raise train.test_size."
        )
