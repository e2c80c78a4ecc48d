import subprocess
import sys

import pytest

from tabops.orchestrate.graph import FLOW_NAMES, flows
from tabops.spec import ORCHESTRATION_TASKS


def test_the_three_flows_in_topological_order() -> None:
    graph = flows()
    assert tuple(graph) == FLOW_NAMES
    assert [t.name for t in graph["daily"].tasks] == [
        "ingest",
        "score",
        "monitor",
        "decide",
        "retrain",
    ]
    assert [t.name for t in graph["retrain"].tasks] == ["dataset", "train", "gate"]
    for flow in graph.values():
        seen: set[str] = set()
        for task in flow.tasks:
            assert set(task.upstream) <= seen, (flow.name, task.name)
            seen.add(task.name)
    assert [t.name for t in graph["daily"].tasks if t.branch] == ["decide"]
    assert graph["daily"].schedule == "@daily"
    assert graph["ingest"].schedule is None and graph["retrain"].schedule is None


def test_settings_set_retries_timeouts_and_schedule_per_task() -> None:
    graph = flows({
        "schedule": "0 3 * * *",
        "retries": 2,
        "timeout_s": 600,
        "tasks": {"score": {"retries": 5}, "train": {"timeout_s": 7200}},
    })  # fmt: skip
    daily = graph["daily"]
    assert daily.schedule == "0 3 * * *"
    assert daily.task("score").retries == 5 and daily.task("score").timeout_s == 600
    assert daily.task("ingest").retries == 2
    assert graph["retrain"].task("train").timeout_s == 7200


def test_an_unknown_task_names_the_flow_s_tasks() -> None:
    with pytest.raises(KeyError, match="tasks: ingest, score"):
        flows()["daily"].task("nope")


def test_graph_imports_only_the_stdlib() -> None:
    code = (
        "import sys; import tabops.orchestrate.graph; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'pandas', 'typer', 'sqlalchemy', 'yaml', 'numpy')]; print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_unset_values_fall_back_and_task_names_cover_every_flow() -> None:
    from tabops.orchestrate.graph import task_names

    graph = flows({"retries": None, "tasks": {"score": {"retries": None, "timeout_s": 60}}})
    assert graph["daily"].task("score").retries == 1
    assert graph["daily"].task("score").timeout_s == 60
    assert task_names() == ORCHESTRATION_TASKS  # the spec validates task names against it
