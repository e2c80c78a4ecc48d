"""The task graph of the three flows (ingest, daily, retrain), as plain data.

Stdlib only: the Airflow DAG factory imports this module inside Airflow's own environment,
where tabops' dependencies are not installed, and DAG parsing must stay fast. Both the
in-process runner and the DAG factory build their graphs from :func:`flows`, so the two
cannot disagree about tasks, order, retries or timeouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FLOW_NAMES = ("ingest", "daily", "retrain")
DEFAULT_RETRIES = 1
DEFAULT_TIMEOUT_S = 3600
DEFAULT_SCHEDULE = "@daily"


@dataclass(frozen=True)
class TaskDef:
    """One task: its name, the tasks it waits for, and how it is retried.

    A ``branch`` task returns ``{"retrain": bool, ...}``; its downstream tasks run only when
    that is true.
    """

    name: str
    upstream: tuple[str, ...] = ()
    branch: bool = False
    retries: int = DEFAULT_RETRIES
    timeout_s: int = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class FlowDef:
    """One flow: its tasks in topological order and its schedule (None: run on demand)."""

    name: str
    tasks: tuple[TaskDef, ...]
    schedule: str | None

    def task(self, name: str) -> TaskDef:
        """The task called ``name``; KeyError naming the flow's tasks when there is none."""
        for task in self.tasks:
            if task.name == name:
                return task
        names = ", ".join(t.name for t in self.tasks)
        raise KeyError(f"flow {self.name!r} has no task {name!r} (tasks: {names})")


# (name, upstream, branch) per flow, in topological order.
_SHAPES: dict[str, tuple[tuple[str, tuple[str, ...], bool], ...]] = {
    "ingest": (("ingest", (), False),),
    "daily": (
        ("ingest", (), False),
        ("score", ("ingest",), False),
        ("monitor", ("score",), False),
        ("decide", ("monitor",), True),
        ("retrain", ("decide",), False),
    ),
    "retrain": (
        ("dataset", (), False),
        ("train", ("dataset",), False),
        ("gate", ("train",), False),
    ),
}


def flows(settings: Mapping[str, Any] | None = None) -> dict[str, FlowDef]:
    """The three flows, with retries, timeouts and the daily schedule from ``settings``.

    Args:
        settings: The spec's ``orchestration:`` section as a plain dict (``model_dump()``),
            or None for the defaults. Read keys: ``schedule``, ``retries``, ``timeout_s`` and
            ``tasks: {NAME: {retries, timeout_s}}`` (per-task values win; None means unset).
    """
    settings = settings or {}
    per_task: Mapping[str, Mapping[str, Any]] = settings.get("tasks") or {}
    retries = _int(settings, "retries", DEFAULT_RETRIES)
    timeout_s = _int(settings, "timeout_s", DEFAULT_TIMEOUT_S)
    schedule = settings.get("schedule", DEFAULT_SCHEDULE)

    def task(name: str, upstream: tuple[str, ...], branch: bool) -> TaskDef:
        own = per_task.get(name) or {}
        return TaskDef(
            name=name,
            upstream=upstream,
            branch=branch,
            retries=_int(own, "retries", retries),
            timeout_s=_int(own, "timeout_s", timeout_s),
        )

    return {
        name: FlowDef(
            name=name,
            tasks=tuple(task(*shape) for shape in shapes),
            schedule=schedule if name == "daily" else None,
        )
        for name, shapes in _SHAPES.items()
    }


def task_names() -> tuple[str, ...]:
    """Every task name of every flow, each once (what ``orchestration.tasks`` may set)."""
    return tuple(dict.fromkeys(name for shape in _SHAPES.values() for name, _, _ in shape))


def _int(values: Mapping[str, Any], key: str, default: int) -> int:
    """``values[key]`` as an int; ``default`` when missing or None (unset in the spec)."""
    value = values.get(key)
    return default if value is None else int(value)
