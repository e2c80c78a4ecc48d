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
        _check_classes(y, size, spec.target)
        stratify, method = y, "stratified"
    train, test = train_test_split(
        positions, test_size=size, random_state=spec.train.seed, stratify=stratify
    )
    return Split(np.sort(train), np.sort(test), method)


def _check_classes(y: np.ndarray, test_size: float, target: str) -> None:
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2:
        raise DataError(
            f"The target has a single class ({labels[0] if len(labels) else 'no rows'}); a "
            "classifier needs at least two. Ingest data with both outcomes."
        )
    short = [(str(label), int(n)) for label, n in zip(labels, counts, strict=True)
             if n < 2 or n * test_size < 1]  # fmt: skip
    if short:
        named = ", ".join(f"'{label}' ({n} row{'s' if n > 1 else ''})" for label, n in short[:5])
        # A larger test share helps a class of 2 or more rows, never one of a single row.
        larger = " or raise train.test_size," if min(n for _, n in short) > 1 else ""
        raise DataError(
            f"Too few rows of class(es) {named} of '{target}' to hold some out for testing. "
            f"Ingest more rows of them,{larger} or remove them from columns.{target}.categories "
            "in tabops.yaml: ingest then quarantines their rows."
        )
