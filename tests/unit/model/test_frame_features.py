from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa

from tabops.model.features import DatetimeParts, build_preprocessor
from tabops.model.frame import model_frame, target_values
from tabops.spec import parse_spec
from tests.unit.model.conftest import synthetic_spec, synthetic_table


def test_frame_has_model_dtypes_and_missing_values() -> None:
    spec = synthetic_spec()
    table = pa.table(
        {"x": [1.5, None], "n": pa.array([3, None], pa.int64()), "color": ["red", None],
         "flag": [True, None], "label": ["yes", "no"]}
    )  # fmt: skip
    frame = model_frame(table, spec)
    assert list(frame.columns) == ["x", "n", "color", "flag"]  # features only, spec order
    assert [str(t) for t in frame.dtypes] == ["float64", "float64", "object", "float64"]
    assert frame["flag"].tolist()[0] == 1.0 and np.isnan(frame["flag"].tolist()[1])
    assert frame["color"].tolist()[0] == "red" and frame["color"].isna().tolist()[1]
    assert target_values(table, spec).tolist() == ["yes", "no"]


def test_a_category_missing_on_every_row_stays_text_without_a_warning() -> None:
    table = pa.table(
        {"x": [1.5, 2.0], "n": pa.array([3, 4], pa.int64()),
         "color": pa.array([None, None], pa.string()), "flag": [True, False]}
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas warned of downcasting it to float
        frame = model_frame(table, synthetic_spec())
    assert str(frame["color"].dtype) == "object" and frame["color"].isna().all()


def test_datetime_features_become_parts() -> None:
    spec = parse_spec(
        {"name": "d", "task": "regression", "target": "y", "source": {"path": "a.csv"},
         "columns": {"at": {"type": "datetime"}, "y": {"type": "numeric", "role": "target"}}}
    )  # fmt: skip
    table = pa.table({"at": pa.array(["2026-03-04T05:00:00"]).cast(pa.timestamp("us")),
                      "y": [1.0]})  # fmt: skip
    frame = model_frame(table, spec)
    assert str(frame["at"].dtype) == "datetime64[us]"  # naive UTC: the pipeline expands it
    parts = DatetimeParts(("at",)).fit(frame).transform(frame)
    assert parts.iloc[0].to_dict() == {
        "at__year": 2026.0, "at__month": 3.0, "at__day": 4.0, "at__dayofweek": 2.0,
        "at__hour": 5.0,
    }  # fmt: skip
    assert build_preprocessor(spec).fit_transform(parts).shape == (1, 5)  # nothing missing


def test_preprocessor_handles_unknown_categories_and_nulls() -> None:
    spec = synthetic_spec()
    frame = model_frame(synthetic_table(200), spec)
    preprocessor = build_preprocessor(spec).fit(frame)
    unseen = frame.head(2).copy()
    unseen.loc[unseen.index[0], "color"] = "purple"  # never seen in training
    unseen.loc[unseen.index[1], "x"] = np.nan
    transformed = preprocessor.transform(unseen)
    assert np.isfinite(transformed).all()
    assert transformed.shape[1] == preprocessor.transform(frame.head(1)).shape[1]


def test_text_columns_get_tfidf() -> None:
    spec = parse_spec(
        {"name": "t", "task": "classification", "target": "y", "source": {"path": "a.csv"},
         "columns": {"note": {"type": "text"}, "y": {"type": "categorical", "role": "target"}}}
    )  # fmt: skip
    table = pa.table({"note": ["card declined", None, "refund card"], "y": ["a", "b", "a"]})
    out = build_preprocessor(spec).fit_transform(model_frame(table, spec))
    assert out.shape == (3, 3)  # vocabulary: card, declined, refund
