"""Classes and categories written as numbers are shown in numeric order (2 before 10), in the
spec init writes and in every answer; the model keeps its own order inside."""

from __future__ import annotations

from typing import Any

import numpy as np

from tabops.serve.model import ServedModel
from tabops.values import natural_order


def test_numbers_by_value_then_the_rest_as_text() -> None:
    assert natural_order(["10", "2", "1", "0"]) == ["0", "1", "2", "10"]
    mixed = ["-1", "0.5", "b", "10", "A", "1e1"]
    assert natural_order(mixed) == ["-1", "0.5", "10", "1e1", "A", "b"]
    assert natural_order(["setosa", "virginica", "versicolor"]) == [
        "setosa", "versicolor", "virginica"]  # fmt: skip
    assert natural_order([]) == []


def test_served_probabilities_follow_the_natural_order_of_the_models_classes() -> None:
    fields: dict[str, Any] = dict.fromkeys(("spec", "version", "predictor", "schema"))
    classes = ["0", "1", "10", "2"]  # scikit-learn's order: as text
    served = ServedModel(**fields, alias="champion", threshold=None, classes=classes,
                         example=[])  # fmt: skip
    [answer] = served.outputs(np.array([[0.1, 0.2, 0.3, 0.4]]))
    assert answer["label"] == "2"
    assert list(answer["probabilities"].items()) == [("0", 0.1), ("1", 0.2), ("2", 0.4),
                                                     ("10", 0.3)]  # fmt: skip
