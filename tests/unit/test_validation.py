"""The shared pydantic error formatter: key paths and the keys allowed where one is unknown."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from tabops.validation import allowed_keys, format_errors


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    nullable: bool = True


class Uniform(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["uniform"]
    low: float


class Root(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    columns: dict[str, Column]
    steps: list[Column] = []


def _error(raw: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Root.model_validate(raw)
    return caught.value


def test_unknown_key_inside_a_dict_entry_named_like_a_field_lists_the_entry_model_keys() -> None:
    # The column is called "type", a field of Column: the path must still be read as a dict key.
    error = _error({"name": "x", "columns": {"type": {"type": "int", "colour": 1}}})
    text = format_errors(error, "f.yaml", root=Root, footer="Fix f.yaml.")
    assert text.splitlines() == [
        "f.yaml is invalid (1 problem(s)):",
        "  - columns.type.colour: unknown key; use one of: type, nullable",
        "Fix f.yaml.",
    ]


def test_list_items_missing_keys_and_top_level_problems() -> None:
    error = _error({"steps": [{"nullable": True}], "extra": 1})
    lines = format_errors(error, "f", root=Root, footer="", noun="setting").splitlines()
    assert "  - name: required setting is missing" in lines
    assert "  - steps.0.type: required setting is missing" in lines
    assert "  - extra: unknown setting; use one of: name, columns, steps" in lines


def test_tags_switch_to_the_tagged_model_and_leave_the_printed_path() -> None:
    assert allowed_keys(Root, ("steps", 0, "uniform", "x"), {"uniform": Uniform}) == ["kind", "low"]
    assert allowed_keys(Root, ("name", "x")) == []  # below a plain value: nothing to suggest


def test_describe_overrides_the_default_wording() -> None:
    error = _error({"name": "x", "columns": {}, "bad": 1})
    text = format_errors(
        error, "f", root=Root, footer="", describe=lambda e, loc: f"no {loc[-1]} here"
    )
    assert "  - bad: no bad here" in text.splitlines()
