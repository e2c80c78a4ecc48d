"""Readable pydantic errors for user files: one line per problem, its key path and the fix.

The spec (``tabops.yaml``) and the synth config share this; each adds its own wording for the
errors only it can raise through ``describe``.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

#: A file's own wording for an error (given the error and its key path), or None for the default.
Describe = Callable[[ErrorDetails, list[str]], str | None]


def format_errors(
    exc: ValidationError,
    source: str,
    *,
    root: type[BaseModel],
    footer: str,
    noun: str = "key",
    tags: Mapping[str, type[BaseModel]] | None = None,
    describe: Describe | None = None,
) -> str:
    """``source is invalid``, then ``key.path: what is wrong, what is allowed`` per problem.

    Args:
        root: The model the file validates against (where unknown keys are looked up).
        footer: The last line: how to fix the file.
        noun: What the file calls its entries ("key", "setting").
        tags: Discriminated-union tags, which pydantic puts into the key path: dropped from the
            printed path and used to find the tagged model's keys.
        describe: The file's own wording for some errors.
    """
    tags = tags or {}
    lines = [f"{source} is invalid ({exc.error_count()} problem(s)):"]
    for error in exc.errors():
        loc = [str(part) for part in error["loc"] if part not in tags]
        message = (describe and describe(error, loc)) or _message(error, root, tags, noun)
        lines.append(f"  - {'.'.join(loc) or '(top level)'}: {message}")
    lines.append(footer)
    return "\n".join(lines)


def _message(
    error: ErrorDetails, root: type[BaseModel], tags: Mapping[str, type[BaseModel]], noun: str
) -> str:
    if error["type"] == "extra_forbidden":
        allowed = allowed_keys(root, error["loc"], tags)
        return f"unknown {noun}" + (f"; use one of: {', '.join(allowed)}" if allowed else "")
    if error["type"] == "missing":
        return f"required {noun} is missing"
    return str(error["msg"]).removeprefix("Value error, ")


def allowed_keys(
    root: type[BaseModel],
    loc: tuple[int | str, ...],
    tags: Mapping[str, type[BaseModel]] | None = None,
) -> list[str]:
    """The keys the model holding ``loc``'s last part accepts, in declaration order."""
    model, keyed = root, False  # keyed: the next part is a dict key or a list index
    for part in loc[:-1]:
        if tags and isinstance(part, str) and part in tags:
            model, keyed = tags[part], False
        elif keyed or isinstance(part, int):
            keyed = False
        else:
            field = model.model_fields.get(part)
            inner = _model_in(field.annotation) if field is not None else None
            if inner is None:
                return []
            model, keyed = inner
    return list(model.model_fields)


def _model_in(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The model a field leads to, and whether it sits in a container (dict or list)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    container = typing.get_origin(annotation) in (dict, list, Mapping)
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found[0], container or found[1]
    return None
