"""Prometheus metrics of the prediction service.

Request counts and latencies are observed per request; the state of the prediction log and
the served model are gauges refreshed once a second and at every scrape. With several workers
(``PROMETHEUS_MULTIPROC_DIR`` set by ``tabops serve --workers N``) every worker writes its
values to that folder and ``/metrics`` sums the live workers.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from tabops.serve.journal import PredictionLog
    from tabops.serve.model import ServedModel

__all__ = ["CONTENT_TYPE_LATEST", "ServeMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))


class ServeMetrics:
    """The service's metrics, in their own registry (one per app)."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry(auto_describe=True)
        registry = None if self.multiprocess else self.registry
        self.requests = Histogram(
            "tabops_request_duration_seconds",
            "Request latency by route and status.",
            ["route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.scores = Histogram(
            "tabops_prediction_score",
            "Served scores: P(positive class), the top probability, or the prediction.",
            buckets=_SCORE_BUCKETS,
            registry=registry,
        )
        self.predictions = Counter(
            "tabops_predictions", "Rows predicted.", ["model", "version"], registry=registry
        )
        self.overload = Counter(
            "tabops_overload_rejections",
            "Requests refused with 503: too many in flight or past their deadline.",
            ["reason"],
            registry=registry,
        )
        self.body_timeouts = Counter(
            "tabops_body_timeouts",
            "Requests answered 408: their body did not arrive within serve.body_timeout.",
            registry=registry,
        )
        self.rejected_requests = Counter(
            "tabops_rejected_requests",
            "Prediction requests refused for their content: 422, or a body that is not JSON.",
            registry=registry,
        )
        self.rejected_fields = Counter(
            "tabops_rejected_fields",
            "Records refused, by field (a column of the spec, or '(other)') and reason (missing, "
            "type, min, max, category, unknown_field, malformed).",
            ["field", "reason"],
            registry=registry,
        )
        self.reloads = Counter(
            "tabops_model_reloads",
            "Hot reload attempts by result (loaded, refused, failed).",
            ["result"],
            registry=registry,
        )

        # Label children, looked up once: labels() costs microseconds on the hot path.
        self._request_children: dict[tuple[str, int], Any] = {}
        self._prediction_children: dict[tuple[str, str], Any] = {}

        def gauge(
            name: str,
            text: str,
            labels: tuple[str, ...] = (),
            mode: Literal["livesum", "liveall"] = "livesum",
        ) -> Gauge:
            return Gauge(name, text, list(labels), registry=registry, multiprocess_mode=mode)

        self.model_info = gauge(
            "tabops_model_info",
            "The served model version (value 1).",
            ("model", "version", "predictor"),
            mode="liveall",
        )
        self.queue = gauge(
            "tabops_prediction_log_queue_rows", "Logged predictions not yet copied into the store."
        )
        self.spilled = gauge(
            "tabops_prediction_log_spilled_rows",
            "Predictions journaled while the store was down (cumulative).",
        )
        self.dropped = gauge(
            "tabops_prediction_log_dropped_rows",
            "Predictions not logged: journal past its disk cap (cumulative).",
        )
        self.duplicates = gauge(
            "tabops_prediction_log_duplicate_rows",
            "Predictions not logged because their request_id was logged already: client "
            "retries, or ids reused for different requests (cumulative).",
        )
        self.written = gauge(
            "tabops_prediction_log_written_rows", "Predictions copied into the store (cumulative)."
        )
        self.store_up = gauge(
            "tabops_prediction_log_store_up",
            "1 when the last write to the store succeeded.",
            mode="liveall",
        )
        self._shown: tuple[str, str, str] | None = None

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        child = self._request_children.get((route, status))
        if child is None:
            child = self._request_children[route, status] = self.requests.labels(route, str(status))
        child.observe(seconds)

    def count_predictions(self, model: str, version: str, rows: int) -> None:
        child = self._prediction_children.get((model, version))
        if child is None:
            child = self._prediction_children[model, version] = self.predictions.labels(
                model, version
            )
        child.inc(rows)

    def refresh(self, served: ServedModel | None, journal: PredictionLog | None) -> None:
        """Copy the current state into the gauges."""
        if served is not None:
            labels = (served.name, served.version.version, served.predictor.kind)
            if labels != self._shown:
                if self._shown is not None:
                    self.model_info.remove(*self._shown)
                self.model_info.labels(*labels).set(1)
                self._shown = labels
        if journal is not None:
            stats = journal.stats
            self.queue.set(journal.backlog_rows)
            self.spilled.set(stats.spilled)
            self.dropped.set(stats.dropped)
            self.duplicates.set(stats.duplicates)
            self.written.set(stats.written)
            self.store_up.set(1 if stats.store_up else 0)

    def exposition(self) -> bytes:
        """The text format for ``/metrics``."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))
