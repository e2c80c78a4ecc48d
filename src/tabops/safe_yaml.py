"""The one YAML reader for user files (``tabops.yaml``, rules, synth configs).

PyYAML's ``safe_load`` lets a repeated key silently replace the earlier one, and its aliases
let a small file expand exponentially. Both are refused here, with the line of the problem.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses aliases (``*name``) and duplicate mapping keys."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            raise ComposerError(
                None,
                None,
                "aliases (*name) are not allowed; write the value out",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                if key in first_line:
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key '{key}' (first given at line {first_line[key]}); "
                        "keep only one",
                        key_node.start_mark,
                    )
                first_line[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key: SafeLoader reports it
                continue
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse YAML text with :class:`StrictLoader`.

    Raises:
        yaml.YAMLError: not YAML, an alias or a duplicate key; ``problem_mark`` has the line.
    """
    return yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass


def yaml_error_location(exc: yaml.YAMLError) -> str:
    """`` at line L, column C`` for an error that knows where it is, else ``""``."""
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
