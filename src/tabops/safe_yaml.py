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
        first: dict[Any, Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                earlier = first.setdefault(key, key_node)
            except TypeError:  # an unhashable key: SafeLoader reports it
                continue
            if earlier is not key_node:
                # 'no' and 'off' differ as text but are both the key False.
                text = earlier.value
                same = "it" if text == key_node.value else f"'{text}', the same key"
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key_node.value}' (line {earlier.start_mark.line + 1} "
                    f"already gives {same}); keep only one",
                    key_node.start_mark,
                )
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
