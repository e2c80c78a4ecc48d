from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tabops.errors import SpecError
from tabops.spec import (
    ColumnRole,
    ColumnType,
    Task,
    apply_override,
    dump_spec,
    load_spec,
    parse_spec,
)
from tests.conftest import small_spec_dict


def _write(folder: Path, spec: dict[str, Any]) -> Path:
    path = folder / "tabops.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_valid_spec_is_typed(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, small_spec_dict()))
    assert spec.task is Task.CLASSIFICATION
    assert spec.columns["amount"].type is ColumnType.NUMERIC
    assert spec.columns["id"].role is ColumnRole.ID
    assert spec.columns_with_role(ColumnRole.TARGET) == ["label"]
    assert spec.root == tmp_path.resolve()
    assert spec.resolve_path("data.csv") == tmp_path.resolve() / "data.csv"
    assert spec.source.kind == "csv"


def test_unknown_key_names_file_path_and_allowed_keys(tmp_path: Path) -> None:
    raw = small_spec_dict()
    raw["contract"]["max_quarantine_rat"] = 0.1
    path = _write(tmp_path, raw)
    with pytest.raises(SpecError) as error:
        load_spec(path)
    message = str(error.value)
    assert str(path) in message
    assert "contract.max_quarantine_rat: unknown key" in message
    assert "max_quarantine_rate" in message  # what is allowed


def test_unknown_column_key_lists_column_keys(tmp_path: Path) -> None:
    raw = small_spec_dict()
    raw["columns"]["amount"]["minimum"] = 0
    with pytest.raises(SpecError, match=r"columns\.amount\.minimum: unknown key.*nullable"):
        load_spec(_write(tmp_path, raw))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"task": "clustering"}, "task: Input should be 'classification' or 'regression'"),
        ({"target": "missing_column"}, "target 'missing_column' is not among the columns"),
        ({"name": "1bad name"}, "name: '1bad name' is not allowed: a name starts with a letter"),
        ({"source": {"path": "a.csv", "url": "sqlite://"}}, "exactly one of 'path'"),
        ({"source": {"url": "sqlite://"}}, "exactly one of 'table' or 'query'"),
        ({"contract": {"max_quarantine_rate": 1.5}}, "less than or equal to 1"),
    ],
)
def test_invalid_values_are_explained(change: dict[str, Any], expected: str) -> None:
    raw = small_spec_dict() | change
    with pytest.raises(SpecError) as error:
        parse_spec(raw, source="my.yaml")
    assert "my.yaml is invalid" in str(error.value)
    assert expected in str(error.value)


def test_column_rules() -> None:
    raw = small_spec_dict()
    raw["columns"]["color"]["min"] = 1
    with pytest.raises(SpecError, match="min/max apply to numeric and integer columns"):
        parse_spec(raw)
    raw = small_spec_dict()
    raw["columns"]["amount"]["role"] = "target"
    with pytest.raises(SpecError, match="role 'target' belongs to exactly the column"):
        parse_spec(raw)
    raw = small_spec_dict(task="regression", positive_class=None)
    with pytest.raises(SpecError, match="regression target must be a numeric"):
        parse_spec(raw)


def test_missing_spec_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="tabops init --data FILE --target COLUMN"):
        load_spec(tmp_path)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "tabops.yaml"
    path.write_text("name: x\ncolumns: [unclosed\n")
    with pytest.raises(SpecError, match=r"tabops.yaml at line \d+, column \d+ is not valid YAML"):
        load_spec(path)


def test_overrides_change_nested_values_with_yaml_types(tmp_path: Path) -> None:
    path = _write(tmp_path, small_spec_dict())
    spec = load_spec(
        path, ["contract.max_quarantine_rate=0.2", "columns.amount.max=50", "ingest.dvc=true"]
    )
    assert spec.contract.max_quarantine_rate == 0.2
    assert spec.columns["amount"].max == 50
    assert spec.ingest.dvc is True


def test_override_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, small_spec_dict())
    with pytest.raises(SpecError, match=r"not of the form key\.path=value"):
        load_spec(path, ["contract"])
    with pytest.raises(SpecError, match="'name' is a value, not a section"):
        load_spec(path, ["name.first=x"])
    with pytest.raises(SpecError, match=r"ingest\.nonsense: unknown key"):
        load_spec(path, ["ingest.nonsense=1"])


def test_apply_override_creates_sections() -> None:
    raw: dict[str, Any] = {}
    apply_override(raw, "ingest.table=events")
    assert raw == {"ingest": {"table": "events"}}


def test_dump_round_trips_and_hash_is_stable(tmp_path: Path) -> None:
    spec = parse_spec(small_spec_dict())
    text = dump_spec(spec)
    again = parse_spec(yaml.safe_load(text))
    assert again == spec
    assert again.spec_hash == spec.spec_hash
    changed = parse_spec(small_spec_dict(name="other"))
    assert changed.spec_hash != spec.spec_hash
    assert "min: 0\n" in text  # whole floats written as ints


@pytest.mark.parametrize(
    ("tokens", "fragment"),
    [
        ({"true_values": ["Yes"]}, "set both true_values and false_values"),
        ({"true_values": ["Yes"], "false_values": []}, "set both"),
        ({"true_values": ["Y", "1"], "false_values": ["1"]}, "cannot be both"),
    ],
)
def test_boolean_tokens_must_be_two_disjoint_lists(tokens: dict[str, Any], fragment: str) -> None:
    raw = small_spec_dict()
    raw["columns"]["flag"] |= tokens
    with pytest.raises(SpecError, match=fragment):
        parse_spec(raw)


def test_boolean_tokens_belong_to_boolean_columns() -> None:
    raw = small_spec_dict()
    raw["columns"]["color"] |= {"true_values": ["red"], "false_values": ["blue"]}
    with pytest.raises(SpecError, match="boolean columns only"):
        parse_spec(raw)


@pytest.mark.parametrize("bound", ["min", "max"])
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
def test_non_finite_min_or_max_is_refused(tmp_path: Path, bound: str, value: str) -> None:
    path = _write(tmp_path, small_spec_dict())
    with pytest.raises(SpecError, match=rf"columns\.amount: {bound} must be a finite number"):
        load_spec(path, [f"columns.amount.{bound}={value}"])


@pytest.mark.parametrize(
    ("override", "words"),
    [("name=1bad", "a name starts with a letter"), ("ingest.table=a-b", "a table name starts")],
)
def test_a_name_that_breaks_its_pattern_is_explained_in_words(
    tmp_path: Path, override: str, words: str
) -> None:
    path = _write(tmp_path, small_spec_dict())
    with pytest.raises(SpecError, match=words) as info:
        load_spec(path, [override])
    assert "String should match pattern" not in str(info.value)


def _alert(**fields: Any) -> dict[str, Any]:
    return {"monitor": {"alerts": [{"name": "a", "metric": "roc_auc", "below": 0.7} | fields]}}


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        (_alert(metric="entropy"), "unknown metric 'entropy'; use one of drift_score"),
        (_alert(metric="psi", above=0.2, below=None), "'psi' is measured per feature"),
        (_alert(metric="psi", column="label", above=0.2, below=None), "set 'column'"),
        (_alert(column="amount"), "'roc_auc' is not per feature; remove 'column'"),
        (_alert(above=0.9), "set exactly one of 'above' and 'below'"),
        (_alert(metric="rmse"), "unknown metric 'rmse'"),  # a regression metric
        (_alert(metric="rejected_rows", above=5, below=None), "unknown metric 'rejected_rows'"),
        ({"monitor": {"webhook": "ftp://x"}}, "monitor.webhook"),
        ({"monitor": {"alerts": [_alert()["monitor"]["alerts"][0]] * 2}}, "names must be unique"),
        ({"monitor": {"drift_exclude": ["label"]}}, "drift_exclude: 'label' is not one of"),
        ({"monitor": {"drift_exclude": ["nope"]}}, "drift_exclude: 'nope' is not one of"),
    ],
)
def test_alerts_are_checked_against_the_task_and_the_features(
    alert: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SpecError, match=expected):
        parse_spec(small_spec_dict() | alert)


def test_alerts_accept_every_monitored_metric_of_the_task() -> None:
    alerts = [
        {"name": "drift", "metric": "psi", "column": "amount", "above": 0.2, "windows": 2},
        {"name": "auc", "metric": "estimated_roc_auc", "below": 0.7},
        {"name": "recall", "metric": "recall", "below": 0.5, "min_rows": 500},
        {"name": "refused", "metric": "refused_rows", "above": 50},  # measured, never was
    ]
    spec = parse_spec(small_spec_dict() | {"monitor": {"window": "hour", "alerts": alerts}})
    assert [a.name for a in spec.monitor.alerts] == ["drift", "auc", "recall", "refused"]
    assert spec.monitor.alerts[0].windows == 2 and spec.monitor.window == "hour"
    assert "estimated_rmse" not in spec.monitor_metrics


@pytest.mark.parametrize("token", [" Unknown", "Unknown ", "  "])
def test_a_columns_null_values_are_trimmed_words(token: str) -> None:
    raw = small_spec_dict()
    raw["columns"]["amount"]["null_values"] = ["n/k", token]
    with pytest.raises(SpecError, match=r"columns\.amount.*null_values.*without spaces"):
        parse_spec(raw)
    raw["columns"]["amount"]["null_values"] = ["n/k", token.strip() or "-"]
    assert parse_spec(raw).columns["amount"].null_values == ["n/k", token.strip() or "-"]


def test_an_encoding_python_does_not_know_is_refused_with_examples() -> None:
    raw = small_spec_dict()
    raw["source"]["csv"] = {"encoding": "windows-1252"}
    assert parse_spec(raw).source.csv.encoding == "windows-1252"
    raw["source"]["csv"] = {"encoding": "klingon"}
    with pytest.raises(SpecError, match="'klingon' is no text encoding Python knows; use"):
        parse_spec(raw)
    raw["source"]["csv"] = {"encoding": "base64_codec"}  # a codec, of bytes
    with pytest.raises(SpecError, match="'base64_codec' is no text encoding"):
        parse_spec(raw)
