from typing import Any

import pytest

from tabops.errors import SpecError
from tabops.spec import OrchestrationSpec, parse_spec
from tests.conftest import small_spec_dict


def _spec(orchestration: dict[str, Any], **extra: Any) -> Any:
    return parse_spec(small_spec_dict(orchestration=orchestration, **extra))


def test_defaults_keep_existing_specs_and_their_hash() -> None:
    plain = parse_spec(small_spec_dict())
    assert plain.orchestration == OrchestrationSpec()
    assert plain.orchestration.day is None and plain.orchestration.schedule == "@daily"
    explicit = _spec({})  # an empty section is the defaults: the same hash
    assert explicit.spec_hash == plain.spec_hash
    changed = _spec({"day": {"input": "days/{date}.csv"}})
    assert changed.spec_hash != plain.spec_hash


def test_a_full_section_is_typed() -> None:
    spec = _spec(
        {
            "day": {"input": "postgresql://db/x", "query": "select * from t where d = '{date}'"},
            "output": "table:scores",
            "tasks": {"score": {"retries": 3}, "train": {"timeout_s": 7200}},
            "retrain": {"triggers": {"alerts": ["low"], "every_days": 30, "manual": False},
                        "min_new_labels": 10, "cooldown_days": 1},
        },
        monitor={"alerts": [{"name": "low", "metric": "roc_auc", "below": 0.7}]},
    )  # fmt: skip
    assert spec.orchestration.tasks["score"].retries == 3
    assert spec.orchestration.retrain.triggers.alerts == ["low"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"day": {"input": "days/today.csv"}}, "{date}"),
        ({"day": {"input": "db://x", "table": "t_{date}", "query": "q"}}, "not both"),
        ({"tasks": {"fit": {"retries": 1}}}, "unknown task(s) ['fit']"),
        ({"retrain": {"triggers": {"alerts": ["nope"]}}}, "'nope' is not one of monitor.alerts"),
        ({"retrain": {"cooldown_days": -1}}, "orchestration.retrain.cooldown_days"),
        ({"retries": -1}, "orchestration.retries"),
        ({"nope": 1}, "orchestration.nope"),
    ],
)
def test_mistakes_name_the_setting(section: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as raised:
        _spec(section)
    assert message in str(raised.value)
