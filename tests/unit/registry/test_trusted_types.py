"""skops loads a logged pipeline only with the types tabops declares trusted: its own datetime
step among them, and nothing foreign."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from tabops.errors import TabopsError
from tabops.model.candidates import FAMILIES
from tabops.model.frame import model_frame, target_values
from tabops.model.tune import build_pipeline
from tabops.registry.tracking import trusted_types
from tabops.spec import parse_spec
from tests.unit.model.conftest import synthetic_spec, synthetic_table


class Foreign(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    def fit(self, x: object, y: object = None) -> Foreign:
        return self

    def transform(self, x: object) -> object:
        return x


def test_a_pipeline_with_datetimes_round_trips_through_skops_with_its_trusted_types() -> None:
    raw = synthetic_spec().model_dump(mode="json")
    raw["columns"]["when"] = {"type": "datetime"}
    spec = parse_spec(raw)
    table = synthetic_table(200)
    frame = model_frame(table, spec)
    pipeline = build_pipeline(spec, FAMILIES[spec.task]["linear"], {})
    pipeline.fit(frame, target_values(table, spec))
    trusted = trusted_types(pipeline)
    assert "tabops.model.features.DatetimeParts" in trusted
    loaded = skops.io.loads(skops.io.dumps(pipeline), trusted=trusted)
    np.testing.assert_array_equal(loaded.predict_proba(frame), pipeline.predict_proba(frame))


def test_a_type_from_elsewhere_is_refused() -> None:
    with pytest.raises(TabopsError, match="does not trust"):
        trusted_types(Pipeline([("foreign", Foreign())]))
