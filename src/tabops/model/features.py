"""The preprocessing half of the pipeline, derived from the spec's types: datetimes expanded
into parts (:class:`DatetimeParts`), then a ColumnTransformer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabops.model.columns import MISSING_CATEGORY, feature_names
from tabops.model.datetimes import array_parts, part_columns
from tabops.spec import ColumnType, ProjectSpec

#: Categories seen less often than this in training share one "infrequent" column.
MIN_CATEGORY_COUNT = 5
#: At most this many one-hot columns per categorical feature.
MAX_CATEGORIES = 50
MAX_TEXT_FEATURES = 5000


class DatetimeParts(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """The pipeline's first step: each datetime column (naive UTC times, as
    :func:`tabops.model.frame.model_frame` gives them) replaced by its parts, as numbers
    (:mod:`tabops.model.datetimes`), so that the logged pipeline takes raw datetime columns.

    Stateless; the compiled predictor reads ``columns`` and expands with the same functions.
    """

    def __init__(self, columns: tuple[str, ...] = ()) -> None:
        self.columns = columns

    def fit(self, x: pd.DataFrame, y: Any = None) -> DatetimeParts:
        self.feature_names_in_ = np.asarray(x.columns, dtype=object)
        return self

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        if not self.columns:
            return x
        parts = {
            column: values
            for name in self.columns
            for column, values in zip(part_columns(name), array_parts(x[name]).T, strict=True)
        }
        kept = x.drop(columns=list(self.columns))
        return pd.concat([kept, pd.DataFrame(parts, index=x.index)], axis=1)


def datetime_columns(spec: ProjectSpec) -> tuple[str, ...]:
    """The datetime features, in spec order: what :class:`DatetimeParts` expands."""
    return tuple(n for n in feature_names(spec) if spec.columns[n].type == ColumnType.DATETIME)


def build_preprocessor(spec: ProjectSpec) -> ColumnTransformer:
    """Impute and scale numbers (datetime parts among them, from :class:`DatetimeParts`),
    one-hot encode categories (unknown ones ignored), TF-IDF for text."""
    numeric: list[str] = []
    categorical: list[str] = []
    steps: list[tuple[str, Any, Any]] = []
    for name in feature_names(spec):
        kind = spec.columns[name].type
        if kind in (ColumnType.NUMERIC, ColumnType.INTEGER, ColumnType.BOOLEAN):
            numeric.append(name)
        elif kind == ColumnType.DATETIME:
            numeric += part_columns(name)
        elif kind == ColumnType.CATEGORICAL:
            categorical.append(name)
        else:  # text: one vectoriser per column, which takes the column as 1-D strings
            steps.append((f"text_{name}", TfidfVectorizer(max_features=MAX_TEXT_FEATURES), name))
    if numeric:
        numbers = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                ("scale", StandardScaler()),
            ]
        )
        steps.insert(0, ("numeric", numbers, numeric))
    if categorical:
        categories = Pipeline(
            [
                ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
                (
                    "onehot",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        min_frequency=MIN_CATEGORY_COUNT,
                        max_categories=MAX_CATEGORIES,
                        sparse_output=False,
                    ),
                ),
            ]
        )
        steps.insert(1 if numeric else 0, ("categorical", categories, categorical))
    # Sparse when text columns make most of the matrix zeros (thousands of TF-IDF terms): a
    # dense one would take 8 GB at 200,000 rows, and linear models fit it 8x slower. Without
    # text every part is dense, and so is the matrix.
    return ColumnTransformer(steps, remainder="drop", sparse_threshold=0.3)
