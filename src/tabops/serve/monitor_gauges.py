"""What ``tabops monitor`` judged, exported on ``/metrics`` for Prometheus: whether each of the
spec's alerts fires, and the latest value of the metric it watches.

The monitor runs per window (hours or days) while Prometheus scrapes every few seconds, so the
store is read at most every :data:`REFRESH_SECONDS`; when it cannot be read, the last values
stay (a store outage must not break /metrics, which also reports it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tabops.spec import ProjectSpec

if TYPE_CHECKING:
    from tabops.store.db import Store

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0
ALERT_GAUGE = "tabops_monitor_alert_firing"
VALUE_GAUGE = "tabops_monitor_value"


class MonitorGauges:
    def __init__(self, spec: ProjectSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self._spec = spec
        self._clock = clock
        self._read_at: float | None = None
        self._text = b""

    def exposition(self, store: Store | None) -> bytes:
        """The gauges in Prometheus' text format (empty when the spec has no alerts)."""
        if not self._spec.monitor.alerts or store is None:
            return b""
        now = self._clock()
        if self._read_at is None or now - self._read_at >= REFRESH_SECONDS:
            try:
                self._text = self._read(store)
                self._read_at = now
            except Exception as exc:  # the store is down: keep the last values
                log.warning("monitor gauges not refreshed: %s", exc)
        return self._text

    def _read(self, store: Store) -> bytes:
        from tabops.store.alerts import firing
        from tabops.store.monitoring import latest_values

        name = self._spec.name
        alerts = self._spec.monitor.alerts
        fired = firing(store, name, name)
        values = latest_values(store, name, name, sorted({(a.metric, a.column) for a in alerts},
                                                         key=str))  # fmt: skip
        lines = [
            f"# HELP {ALERT_GAUGE} 1 while tabops monitor judges the alert firing.",
            f"# TYPE {ALERT_GAUGE} gauge",
        ]
        for alert in alerts:
            labels = _labels(project=name, alert=alert.name, severity=alert.severity)
            lines.append(f"{ALERT_GAUGE}{{{labels}}} {1.0 if alert.name in fired else 0.0}")
        lines += [
            f"# HELP {VALUE_GAUGE} The latest monitoring window's value of an alerted metric.",
            f"# TYPE {VALUE_GAUGE} gauge",
        ]
        for (metric, column), value in values.items():
            labels = _labels(project=name, metric=metric, column=column or "")
            lines.append(f"{VALUE_GAUGE}{{{labels}}} {value!r}")
        return ("\n".join(lines) + "\n").encode()


def _labels(**pairs: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return ",".join(f'{key}="{escape(value)}"' for key, value in pairs.items())
