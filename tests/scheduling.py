"""How ``pytest -n 2 --dist loadgroup`` (``make test``) shares the suite between its workers.

Two repairs, wired in tests/conftest.py:

- **Groups that group again.** xdist tells its controller a test's ``xdist_group`` by adding
  ``@group`` to the test's node id on the worker; since pytest 9.2 node ids are structured and
  that assignment is lost (pytest-xdist issue #1386, open with xdist 3.8.0), so every test was
  scheduled alone: a module's trained fixture was built on both workers. :func:`add_group_suffix`
  sets the suffix where xdist could not (nothing to do on a pytest where xdist's still works).
- **Longest groups first.** xdist queues work units by their number of tests, so a group of one
  test that runs for minutes (Airflow's ``dag.test()``, the fraud month) would start late and
  run alone while the other worker idles. :class:`LongestGroupsFirst` queues the groups of
  :data:`LONGEST_FIRST` first; the short tests then fill the tail on both workers.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadGroupScheduling

#: Group names, longest first (each takes minutes: CI's ``--durations``).
LONGEST_FIRST = (
    "serve",
    "airflow-dag-test",
    "mlflow",
    "mlflow-cli",
    "postgres",
    "daily-loop",
    "fraud-month",
    "monitor-data",
    "ground-truth",
)


def add_group_suffix(items: list[pytest.Item]) -> None:
    """Give each grouped test the ``@group`` node id suffix xdist's scheduler reads."""
    for item in items:
        names = {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
        if not names or "@" in item.nodeid.rpartition("]")[2]:
            continue  # ungrouped, or xdist's own suffix took effect
        structured = item._id  # pytest >= 9.2: the node id is a NodeId, parsed from a string
        item._id = type(structured).parse(f"{item.nodeid}@{'_'.join(sorted(names))}")


class LongestGroupsFirst(LoadGroupScheduling):
    """``--dist loadgroup`` with the groups of :data:`LONGEST_FIRST` queued first."""

    _ordered = False

    def _assign_work_unit(self, node: Any) -> None:
        # schedule() fills the whole queue before it hands out the first unit.
        if not self._ordered:
            self._ordered = True
            for group in reversed(LONGEST_FIRST):
                if group in self.workqueue:
                    self.workqueue.move_to_end(group, last=False)
        super()._assign_work_unit(node)
