"""A fraud project's columns (as the fraud generator writes them) and the monitor's rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tabops.spec import ProjectSpec, parse_spec

REPO = Path(__file__).resolve().parents[3]
MONITOR_RULES = REPO / "examples" / "fraud" / "rules.yaml"
TRANSACTION_TYPES = ["real-time", "settlement", "dispute"]


def fraud_spec_dict() -> dict[str, Any]:
    """A fraud spec: the request fields the rules read (a datetime among them), an id, a
    column the model ignores and the label."""
    return {
        "name": "fraud",
        "task": "classification",
        "target": "is_fraud",
        "source": {"path": "transactions.csv"},
        "columns": {
            "transaction_id": {"type": "integer", "role": "id"},
            "ts": {"type": "datetime"},
            "customer_name": {"type": "categorical", "role": "ignored"},
            "amount": {"type": "numeric", "min": 0},
            "account_blacklisted": {"type": "boolean"},
            "transaction_type": {"type": "categorical", "categories": TRANSACTION_TYPES},
            "card_present": {"type": "boolean"},
            "merchant_category": {"type": "categorical"},
            "card_type": {"type": "categorical", "categories": ["Visa", "MasterCard"]},
            "is_fraud": {"type": "boolean", "role": "target"},
        },
    }


@pytest.fixture
def fraud_spec() -> ProjectSpec:
    return parse_spec(fraud_spec_dict())
