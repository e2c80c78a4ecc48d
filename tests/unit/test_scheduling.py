"""``--dist loadgroup`` as ``make test`` runs it (tests/scheduling.py): a group's tests run on one
worker, in one work unit, and the groups of LONGEST_FIRST are handed out first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.scheduling import LONGEST_FIRST

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("{group}")

@pytest.mark.parametrize("n", range(4))
def test_grouped(n):
    pass
"""


def test_a_group_runs_on_one_worker_and_the_longest_start_first(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", f"{ROOT / 'src'}:{ROOT}")
    pytester.makeconftest("from tests.conftest import *  # noqa: F403\n"
                          "from tests.conftest import pytest_collection_modifyitems, "
                          "pytest_xdist_make_scheduler  # noqa: F401\n")  # fmt: skip
    first = LONGEST_FIRST[-1]
    pytester.makepyfile(
        test_a="\n".join(f"def test_alone_{n}():\n    pass\n" for n in range(8)),
        test_b=GROUPED.format(group="together"),
        test_c=GROUPED.format(group="together"),
        test_d=GROUPED.format(group="other"),  # as many tests as the first: xdist's order
        test_z=GROUPED.format(group=first),
    )
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-v",
                                           "-p", "no:cacheprovider")  # fmt: skip
    result.assert_outcomes(passed=8 + 4 * 4)
    ran = re.findall(r"\[(gw\d)\] \[ *\d+%\] PASSED (\S+)", result.stdout.str())
    workers = {test: worker for worker, test in ran}
    together = {w for t, w in workers.items() if t.endswith("@together")}
    assert len(together) == 1 and sum(t.endswith("@together") for t in workers) == 8, ran
    # The LONGEST_FIRST group, collected last, is the first unit its worker was given (xdist
    # alone queues it after "together" and "other").
    worker = workers[next(t for t in workers if t.endswith(f"@{first}"))]
    assert next(t for w, t in ran if w == worker).endswith(f"@{first}"), ran
