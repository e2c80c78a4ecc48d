"""The model's input columns, from the spec alone: light to import (no pandas), so that serving
can validate requests without loading the training stack."""

from __future__ import annotations

from tabops.spec import ColumnRole, ProjectSpec

#: A missing category as the pipeline sees it (the categorical imputer's fill value): its own
#: one-hot column, in training, evaluation slices and compiled serving alike.
MISSING_CATEGORY = "(missing)"


def feature_names(spec: ProjectSpec) -> list[str]:
    """The feature columns, in spec order."""
    return spec.columns_with_role(ColumnRole.FEATURE)


def input_schema(spec: ProjectSpec) -> dict[str, str]:
    """What a client sends the model: each feature column and its spec type."""
    return {name: spec.columns[name].type.value for name in feature_names(spec)}
