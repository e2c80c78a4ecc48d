"""Delivering alert transitions: to the log always, and to the spec's webhook when set.

Each transition is recorded in the store first and delivered after, so a webhook that is down
loses nothing (the next run delivers it) and one that is up hears each transition once.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tabops.monitor.alerts import Transition
from tabops.store.alerts import (
    mark_delivered,
    mark_failed,
    record_transitions,
    undelivered,
)
from tabops.store.db import Store
from tabops.store.monitoring import LOG_SOURCE

log = logging.getLogger(__name__)

#: Seconds a webhook has to answer; a slower one is retried at the next run.
WEBHOOK_TIMEOUT = 10.0


@dataclass(frozen=True)
class Delivery:
    """What a notification round did: new transitions recorded, delivered, left to retry."""

    recorded: int
    delivered: int
    failed: int


def notify(
    store: Store,
    project: str,
    model_name: str,
    found: Sequence[Transition],
    webhook: str | None,
    source: str = LOG_SOURCE,
    corrections: Sequence[Transition] = (),
) -> Delivery:
    """Record ``found``, judged on ``source``'s series (already recorded ones are skipped),
    and ``corrections`` of alerts' states (recorded, or made the latest again), and deliver
    every undelivered one of that source."""
    rows = [_row(t) for t in found]
    recorded = record_transitions(store, project, model_name, rows, source)
    corrected = [_row(t) for t in corrections]
    recorded += record_transitions(store, project, model_name, corrected, source, correct=True)
    delivered = failed = 0
    for event in undelivered(store, project, model_name, source):
        message = _message(project, model_name, event)
        level = logging.WARNING if event["state"] == "firing" else logging.INFO
        log.log(level, message["text"])
        error = _post(webhook, message) if webhook else None
        if error is None:
            mark_delivered(store, event["id"])
            delivered += 1
        else:
            log.warning("alert webhook %s failed (%s); the next run retries it", webhook, error)
            mark_failed(store, event["id"], error)
            failed += 1
    return Delivery(recorded, delivered, failed)


def _row(transition: Transition) -> dict[str, Any]:
    return {
        "alert": transition.alert, "window_end": transition.window_end,
        "state": transition.state, "severity": transition.severity,
        "metric": transition.metric, "column_name": transition.column,
        "value": transition.value, "threshold": transition.threshold,
    }  # fmt: skip


def _message(project: str, model_name: str, event: dict[str, Any]) -> dict[str, Any]:
    """The webhook's JSON body; ``text`` makes it readable in Slack-style chat hooks as is."""
    about = event["metric"] + (f"[{event['column_name']}]" if event["column_name"] else "")
    window_end = event["window_end"].isoformat()
    verb = "FIRING" if event["state"] == "firing" else "resolved"
    where = project if event["source"] == LOG_SOURCE else f"{project}, data {event['source']}"
    text = (
        f"[{where}] alert '{event['alert']}' {verb} ({event['severity']}): {about} = "
        f"{event['value']:.4g}, threshold {event['threshold']:g}, window ending {window_end}"
    )
    return {
        "project": project, "model": model_name, "alert": event["alert"],
        "state": event["state"], "severity": event["severity"], "metric": event["metric"],
        "column": event["column_name"], "value": event["value"],
        "threshold": event["threshold"], "window_end": window_end, "source": event["source"],
        "text": text,
    }  # fmt: skip


def _post(url: str, message: dict[str, Any]) -> str | None:
    """POST ``message`` as JSON; None on a 2xx answer, else what went wrong. (The spec
    allows only http(s) URLs, so urlopen opens no file or other scheme.)"""
    request = urllib.request.Request(
        url,
        data=json.dumps(message).encode(),
        headers={"content-type": "application/json", "user-agent": "tabops-monitor"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))
    return None
