"""The preprocessing half of the pipeline: a ColumnTransformer derived from the spec's types."""

from __future__ import annotations

from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabops.model.columns import DATETIME_PARTS, MISSING_CATEGORY, feature_names
from tabops.spec import ColumnType, ProjectSpec

#: Categories seen less often than this in training share one "infrequent" column.
MIN_CATEGORY_COUNT = 5
#: At most this many one-hot columns per categorical feature.
MAX_CATEGORIES = 50
MAX_TEXT_FEATURES = 5000


def build_preprocessor(spec: ProjectSpec) -> ColumnTransformer:
    """Impute and scale numbers, one-hot encode categories (unknown ones ignored), expand
    datetimes into parts (done in :func:`tabops.model.frame.model_frame`), TF-IDF for text."""
    numeric: list[str] = []
    categorical: list[str] = []
    steps: list[tuple[str, Any, Any]] = []
    for name in feature_names(spec):
        kind = spec.columns[name].type
        if kind in (ColumnType.NUMERIC, ColumnType.INTEGER, ColumnType.BOOLEAN):
            numeric.append(name)
        elif kind == ColumnType.DATETIME:
            numeric += [f"{name}__{part}" for part in DATETIME_PARTS]
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
    return ColumnTransformer(steps, remainder="drop", sparse_threshold=0.0)
