"""The ground-truth benchmark's CBPE verdict: 0.02 is judged only on windows whose realized
ROC AUC is precise enough for it, and every window stays listed, precise or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from benchmarks.monitor_truth import Truth, report

DAY = datetime(2026, 3, 2, tzinfo=UTC)
PRECISE_TARGET = "estimated ROC AUC within 0.02 of realized on every window whose realized value"


def _window(day: int, realized: float, estimated: float, half_width: float) -> dict[str, Any]:
    return {"window": DAY + timedelta(days=day), "rows": 5000, "realized": realized,
            "low": realized - half_width, "high": realized + half_width,
            "estimated": estimated, "feature_drift": [], "reference": False}  # fmt: skip


def _truth(cbpe: list[dict[str, Any]]) -> Truth:
    windows = [row["window"] for row in cbpe]
    return Truth(windows, dict.fromkeys(windows, 5000), pd.DataFrame(), [], {}, cbpe=cbpe)


def _verdict(met: dict[str, bool | None]) -> bool | None:
    (key,) = [k for k in met if k.startswith(PRECISE_TARGET)]
    return met[key]


def test_noisy_windows_are_listed_but_not_judged() -> None:
    body, met = report(_truth([_window(0, 0.85, 0.92, 0.06), _window(1, 0.90, 0.89, 0.05)]), [])
    assert _verdict(met) is None
    assert "not judged: no window precise enough" in body
    assert "| 0.850 (0.790-0.910) | 0.920 | +0.070 | **no** | no (±0.060) |" in body


def test_a_precise_window_off_by_more_than_the_tolerance_fails() -> None:
    body, met = report(_truth([_window(0, 0.90, 0.905, 0.015), _window(1, 0.93, 0.88, 0.017),
                               _window(2, 0.85, 0.80, 0.06)]), [])  # fmt: skip
    assert _verdict(met) is False
    assert "within 0.02 on 1 of them; not on 03-03 (-0.050)" in body


def test_precise_windows_within_the_tolerance_pass() -> None:
    _, met = report(_truth([_window(0, 0.90, 0.91, 0.015), _window(1, 0.85, 0.80, 0.06)]), [])
    assert _verdict(met) is True
