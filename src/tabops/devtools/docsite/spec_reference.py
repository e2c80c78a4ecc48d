"""The ``tabops.yaml`` reference, rendered from the pydantic models of :mod:`tabops.spec`: one
table per section (every key with its type, default, constraints and description)."""

from __future__ import annotations

import inspect
import json
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePath
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tabops.spec import ProjectSpec

LEAD = (
    "Generated from the pydantic models of `tabops.spec` when the site is built, so it lists "
    "exactly the keys tabops accepts (unknown keys are errors). [spec.md](../spec.md) explains "
    "them with a complete example, the checks across keys, `--set` overrides and the error "
    "messages."
)
#: Names for Python's types in YAML's words.
_SCALARS = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    Any: "any",
}
#: How pydantic's constraint attributes read in a table.
_CONSTRAINTS = {
    "gt": "> {}",
    "ge": "≥ {}",
    "lt": "< {}",
    "le": "≤ {}",
    "min_length": "length ≥ {}",
    "max_length": "length ≤ {}",
    "pattern": "matches `{}`",
}
#: The key path standing for any key of a mapping (``columns.<key>``).
_ANY_KEY = "<key>"


@dataclass(frozen=True)
class Section:
    """One model of the spec and where it sits: ``train.candidates[]``, ``columns.<key>``."""

    path: str
    model: type[BaseModel]

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.path.lower()).strip("-") or "top-level"

    @property
    def title(self) -> str:
        return f"`{self.path}`" if self.path else "Top level"


def sections() -> list[Section]:
    """Every model reachable from :class:`~tabops.spec.ProjectSpec`, each once, depth first."""
    found: dict[type[BaseModel], Section] = {}
    _collect(ProjectSpec, "", found)
    return list(found.values())


def _collect(model: type[BaseModel], path: str, found: dict[type[BaseModel], Section]) -> None:
    if model in found:
        return
    found[model] = Section(path, model)
    for name, field in model.model_fields.items():
        for child, suffix in _nested(field.annotation):
            _collect(child, f"{path}.{name}{suffix}".lstrip("."), found)


def _nested(annotation: Any, suffix: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    """The models inside a type, each with the key path suffix that reaches it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, suffix
        return
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list:
        yield from _nested(args[0], f"{suffix}[]")
    elif origin is dict:
        yield from _nested(args[1], f"{suffix}.{_ANY_KEY}")
    elif origin in (Union, types.UnionType):
        for arg in args:
            yield from _nested(arg, suffix)


def render() -> str:
    """The reference as one Markdown page."""
    found = sections()
    anchors = {section.model: section.anchor for section in found}
    parts = ["# tabops.yaml reference", LEAD]
    for section in found:
        parts.append(f"## {section.title} {{#{section.anchor}}}")
        if section.model.__doc__:  # its own docstring, not one inherited
            parts.append(_markdown(inspect.cleandoc(section.model.__doc__)))
        parts.append(_table(section.model, anchors))
    return "\n\n".join(parts) + "\n"


def _table(model: type[BaseModel], anchors: dict[type[BaseModel], str]) -> str:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        about = _about(field) or _summary(_nested(field.annotation))
        cells = [f"`{name}`", _type(field.annotation, anchors), _default(field), about or "—"]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def _type(annotation: Any, anchors: dict[type[BaseModel], str]) -> str:
    """A type in YAML's words, nested sections linked."""
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[object](#{anchors[annotation]})"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "path"
    if origin is Literal:
        return "one of " + ", ".join(f"`{arg}`" for arg in args)
    if origin is list:
        return f"list of {_type(args[0], anchors)}"
    if origin is dict:
        return f"map of {_type(args[0], anchors)} to {_type(args[1], anchors)}"
    if origin in (Union, types.UnionType):
        return " or ".join(_type(arg, anchors) for arg in args)
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.get_default(call_default_factory=True, validated_data={})
        if isinstance(value, BaseModel):
            return "its defaults"
        return f"`{_literal(value)}`"
    if field.default is PydanticUndefined:
        return "**required**"
    return f"`{_literal(field.default)}`"


def _literal(value: Any) -> str:
    """A value as it is written in YAML (JSON is YAML)."""
    if isinstance(value, Enum):
        value = value.value
    return json.dumps(value, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    """A default json cannot write: a model as the keys it sets, else its text."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    return str(value)


def _markdown(text: str) -> str:
    """reStructuredText's double-backtick literals as Markdown code."""
    return re.sub(r"``(.+?)``", r"`\1`", text)


def _about(field: FieldInfo) -> str:
    limits = [
        template.format(getattr(item, attribute))
        for item in field.metadata
        for attribute, template in _CONSTRAINTS.items()
        if getattr(item, attribute, None) is not None
    ]
    text = _markdown(" ".join((field.description or "").split()))
    if limits:
        text = f"{text} ({', '.join(limits)})".strip()
    return text


def _summary(models: Iterator[tuple[type[BaseModel], str]]) -> str:
    """A section's key without a description of its own: its model's first sentence."""
    for model, _ in models:
        if model.__doc__:
            return _markdown(model.__doc__.split(".")[0].strip() + ".")
    return ""
