"""The model's input frame: feature columns from a snapshot or a request, in model dtypes.

Training, evaluation, serving and batch scoring all build the pipeline's input here, so the
fitted pipeline always sees the same dtypes (no training/serving skew).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tabops.data.contract import formatted_datetimes
from tabops.model.columns import feature_names
from tabops.spec import ColumnType, ProjectSpec


def model_frame(data: pa.Table | pd.DataFrame, spec: ProjectSpec) -> pd.DataFrame:
    """The features of ``data`` as the pipeline's input: numbers and booleans as float64
    (NaN for missing), categories as object (NaN for missing), text as str ('' for missing),
    datetimes as naive UTC ``datetime64[us]`` (NaT for missing; the pipeline's first step
    expands them into parts)."""
    frame = data.to_pandas() if isinstance(data, pa.Table) else data
    columns: dict[str, pd.Series] = {}
    for name in feature_names(spec):
        kind = spec.columns[name].type
        values = frame[name]
        if kind == ColumnType.DATETIME:
            stamps = formatted_datetimes(values, spec.columns[name].formats)
            columns[name] = stamps.dt.tz_convert(None).astype("datetime64[us]")
        elif kind in (ColumnType.NUMERIC, ColumnType.INTEGER, ColumnType.BOOLEAN):
            columns[name] = pd.to_numeric(values.astype("object"), errors="coerce").astype(
                "float64"
            )
        elif kind == ColumnType.TEXT:
            columns[name] = values.astype("object").where(values.notna(), "").astype(str)
        else:
            columns[name] = category_text(values)
    return pd.DataFrame(columns, index=frame.index)


def category_text(values: pd.Series) -> pd.Series:
    """A categorical column as the pipeline takes it: text as object, NaN for missing."""
    as_text = values.astype("object")
    # where(), not fillna(): fillna on an all-missing object column downcasts it to float
    # (and pandas warns about it).
    return as_text.astype(str).where(as_text.notna(), np.nan)


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as the JSON records a client sends: nulls as None, numpy scalars as Python
    values, times as ISO 8601 strings (naive ones taken as UTC)."""
    return [
        {str(name): _json_value(value) for name, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return (value.tz_localize("UTC") if value.tzinfo is None else value).isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def target_values(data: pa.Table | pd.DataFrame, spec: ProjectSpec) -> np.ndarray:
    """The target column: labels as str (classification) or float64 (regression)."""
    column = (
        data.column(spec.target).to_pandas() if isinstance(data, pa.Table) else data[spec.target]
    )
    if spec.task == "regression":
        return column.astype("float64").to_numpy()
    return column.astype(str).to_numpy(dtype=object)
