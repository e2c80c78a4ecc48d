"""``tabops simulate``: stream generated transactions to a running server (or a table) at a
chosen pace, and release their labels later, when the simulated clock reaches them.

Transactions go out paced by the wall clock: with ``day_seconds`` one simulated day takes
that many seconds (transactions keep their relative timing), otherwise ``rate`` per second.
The simulated clock follows the transactions, not the wall clock: it is the time of the last
transaction answered (with every earlier one answered too), and after the last one it runs on
at the ``day_seconds`` pace while ``duration`` lasts. Labels (fraud confirmations after a
chargeback delay, legitimate ones after maturity) are released once the clock passes their
``label_time``: through ``POST /feedback`` by request id (``tx-<transaction_id>``), or into the
store's labels table. So which labels are released depends on what was sent, never on how fast
the machine sent it, and a label never reaches the server before its prediction was answered.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from tabops.errors import TabopsError
from tabops.model.frame import json_records
from tabops.rules.engine import RuleSet
from tabops.rules.policy import DECISIONS, rule_outcome
from tabops.synth.config import FraudConfig
from tabops.synth.fraud import GROUND_TRUTH_COLUMNS, FraudDataset

#: Request ids of simulated transactions (what labels are released against).
REQUEST_PREFIX = "tx-"
_LABEL_BATCH = 500


@dataclass
class SimulationStats:
    """What the simulation did (shown live and returned at the end)."""

    sent: int = 0
    answered: int = 0  # 2xx
    errors: int = 0  # anything else, or no answer
    decisions: dict[str, int] = field(default_factory=dict)  # approve/review/reject or label
    rules_fired: int = 0
    labels_released: int = 0
    labels_unknown: int = 0  # released, but the server had no prediction with that id
    labels_pending: int = 0
    simulated_until: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Pace:
    """How fast: ``day_seconds`` per simulated day, or ``rate`` transactions per second."""

    rate: float = 50.0
    day_seconds: float | None = None
    count: int | None = None
    duration: float | None = None

    def __post_init__(self) -> None:
        if self.rate <= 0 or (self.day_seconds is not None and self.day_seconds <= 0):
            raise TabopsError("--rate and --day-seconds must be positive numbers.")
        if (self.count is not None and self.count < 1) or (
            self.duration is not None and self.duration <= 0
        ):
            raise TabopsError("--count must be at least 1 and --duration positive.")


def with_warmup(
    config: FraudConfig, days: int, generate: Callable[[FraudConfig], FraudDataset]
) -> FraudDataset:
    """The dataset of ``config``, generated from ``days`` earlier so that its history features
    are warm on its first day; the earlier days' transactions (and their labels) are dropped.
    The drift calendar's days still count from ``config.start_date``."""
    if days == 0:
        return generate(config)
    shifted = [e.model_copy(update={"start_day": e.start_day + days, "end_day": e.end_day + days})
               for e in config.drift]  # fmt: skip
    early = config.model_copy(update={
        "start_date": config.start_date - timedelta(days=days), "days": config.days + days,
        "drift": shifted,
    })  # fmt: skip
    data = generate(early)
    first = pd.Timestamp(config.start_date)
    transactions = data.transactions[data.transactions["tx_datetime"] >= first]
    kept = data.labels["transaction_id"].isin(set(transactions["transaction_id"]))
    return replace(data, config=config, transactions=transactions.reset_index(drop=True),
                   labels=data.labels[kept].reset_index(drop=True))  # fmt: skip


def loopback_url(url: str) -> str:
    """``url`` without a trailing slash, if it points at this machine; else a clear error."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if parts.scheme not in ("http", "https") or not local:
        raise TabopsError(
            f"--to {url}: simulations only target a server on this machine (http://127.0.0.1:PORT "
            "or http://localhost:PORT)."
        )
    return url.rstrip("/")


class Schedule:
    """The transactions in time order, when each is due, and the labels in release order."""

    def __init__(self, dataset: FraudDataset, pace: Pace) -> None:
        frame = dataset.transactions.sort_values("tx_datetime", kind="stable")
        if pace.count is not None:
            frame = frame.head(pace.count)
        self.frame = frame.reset_index(drop=True)
        times = self.frame["tx_datetime"].to_numpy(dtype="datetime64[us]")
        self.times = times
        start = times[0] if len(times) else np.datetime64("1970-01-01")
        if pace.day_seconds is not None:
            elapsed = (times - start).astype("timedelta64[us]").astype(np.float64) / 1e6
            self.due = elapsed / 86_400 * pace.day_seconds
        else:
            self.due = np.arange(len(self.frame), dtype=np.float64) / pace.rate
        sent_ids = set(self.frame["transaction_id"].tolist())
        labels = dataset.labels[dataset.labels["transaction_id"].isin(sent_ids)]
        self.labels = labels.sort_values("label_time", kind="stable").reset_index(drop=True)
        self.label_times = self.labels["label_time"].to_numpy(dtype="datetime64[us]")
        self.start, self.pace = start, pace
        self.last_release = time.monotonic()

    def clock(self, done: int, after: float = 0.0) -> np.datetime64:
        """The simulated time once the first ``done`` transactions are out, plus ``after`` wall
        seconds past the last one (at the ``day_seconds`` pace)."""
        now = self.times[done - 1] if done else self.start
        if self.pace.day_seconds is not None and after > 0:
            micros = int(after / self.pace.day_seconds * 86_400 * 1e6)
            now = now + np.timedelta64(micros, "us")
        return now


def request_records(frame: pd.DataFrame, fields: list[str]) -> list[dict[str, Any]]:
    """JSON-ready request bodies with exactly ``fields`` (what the server's model takes)."""
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise TabopsError(
            f"The server's model takes {missing}, which the generated transactions do not "
            f"have (they have {list(frame.columns)}); serve a model trained on generated data."
        )
    return json_records(frame[fields])


async def simulate_http(
    dataset: FraudDataset, url: str, pace: Pace, api_key: str | None = None,
    concurrency: int = 8, on_progress: Callable[[SimulationStats], None] = lambda s: None,
) -> SimulationStats:  # fmt: skip
    """Send the schedule to ``url``'s /predict; release labels through /feedback."""
    import httpx

    base = loopback_url(url)
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
        fields = await _server_fields(client, base)
        schedule = Schedule(dataset, pace)
        ids = schedule.frame["transaction_id"].tolist()
        records = request_records(schedule.frame, fields)
        stats = SimulationStats(labels_pending=len(schedule.labels))
        limit = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        released = 0
        tasks: set[asyncio.Task[None]] = set()
        finished = Finished(len(ids))

        async def send(position: int) -> None:
            try:
                request_id = f"{REQUEST_PREFIX}{ids[position]}"
                try:
                    response = await client.post(
                        "/predict", json=records[position], headers={"x-request-id": request_id}
                    )
                except httpx.HTTPError:
                    stats.errors += 1
                    return
                if response.status_code // 100 != 2:
                    stats.errors += 1
                    return
                stats.answered += 1
                body = response.json()
                decision = str(body.get("decision") or body.get("label") or body.get("prediction"))
                stats.decisions[decision] = stats.decisions.get(decision, 0) + 1
                stats.rules_fired += len((body.get("rules") or {}).get("fired", []))
            finally:
                finished.add(position)
                limit.release()

        for position in range(len(ids)):
            elapsed = time.monotonic() - started
            if pace.duration is not None and elapsed >= pace.duration:
                break
            wait = schedule.due[position] - elapsed
            if wait > 0:
                await asyncio.sleep(wait)
            await limit.acquire()  # back-pressure: a slow server slows the sender, not memory
            task = asyncio.create_task(send(position))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            stats.sent += 1
            released = await _release(client, schedule, stats, released, finished.prefix)
            on_progress(stats)
        if tasks:
            await asyncio.gather(*tasks)
        # Everything is answered; within --duration the clock runs on and late labels keep
        # coming.
        ended, after = time.monotonic(), 0.0
        while pace.duration is not None and stats.labels_pending:
            if time.monotonic() - started >= pace.duration:
                break
            await asyncio.sleep(0.2)
            after = time.monotonic() - ended
            released = await _release(client, schedule, stats, released, stats.sent, after)
            on_progress(stats)
        released = await _release(client, schedule, stats, released, stats.sent, after, True)
        stats.seconds = time.monotonic() - started
        stats.simulated_until = str(schedule.clock(stats.sent, after))
        on_progress(stats)
        return stats


class Finished:
    """Which transactions have been answered, and how many from the first on all have."""

    def __init__(self, total: int) -> None:
        self.done = np.zeros(total, dtype=bool)
        self.prefix = 0

    def add(self, position: int) -> None:
        self.done[position] = True
        while self.prefix < len(self.done) and self.done[self.prefix]:
            self.prefix += 1


async def _server_fields(client: Any, base: str) -> list[str]:
    """The fields the served model takes (its OpenAPI record), after checking it answers."""
    import httpx

    try:
        ready = await client.get("/readyz")
        document = (await client.get("/openapi.json")).json()
    except httpx.HTTPError as exc:
        raise TabopsError(
            f"--to {base}: no server answers there ({type(exc).__name__}). Start one with "
            "'tabops serve' and pass its address."
        ) from exc
    if ready.status_code != 200:
        raise TabopsError(f"--to {base}: the server is not ready ({ready.status_code}).")
    record = document.get("components", {}).get("schemas", {}).get("Record", {})
    fields = list(record.get("properties", {}))
    if not fields:
        raise TabopsError(f"--to {base}: this is not a tabops server (no Record schema).")
    return fields


async def _release(
    client: Any, schedule: Schedule, stats: SimulationStats, released: int, done: int,
    after: float = 0.0, final: bool = False,
) -> int:  # fmt: skip
    """POST the labels whose time has come on the simulated clock (in batches); returns how
    many are out."""
    due = int(np.searchsorted(schedule.label_times, schedule.clock(done, after), side="right"))
    waited = time.monotonic() - schedule.last_release
    if due == released or (not final and due - released < _LABEL_BATCH and waited < 0.5):
        return released
    schedule.last_release = time.monotonic()
    batch = schedule.labels.iloc[released:due]
    pairs = zip(batch["transaction_id"], batch["label"], strict=True)
    labels = [{"request_id": f"{REQUEST_PREFIX}{tid}", "label": str(int(y))} for tid, y in pairs]
    for start in range(0, len(labels), 10_000):
        chunk = {"labels": labels[start : start + 10_000], "source": "simulate"}
        response = await client.post("/feedback", json=chunk)
        if response.status_code // 100 != 2:
            raise TabopsError(
                f"The server refused the labels ({response.status_code}): {response.text[:300]}"
            )
        stats.labels_unknown += len(response.json().get("unknown_request_ids", []))
    stats.labels_released += len(labels)
    stats.labels_pending = len(schedule.labels) - due
    return due


def simulate_table(
    dataset: FraudDataset, store: Any, table: str, project: str, pace: Pace,
    on_progress: Callable[[SimulationStats], None] = lambda s: None,
    rules: RuleSet | None = None,
) -> SimulationStats:  # fmt: skip
    """Append the schedule's transactions to ``table`` as they come due (the original
    monitor's banking_data flow); release labels into the store's labels table. With
    ``rules``, each row also carries the rules' decision, the rules that fired and the first
    one's explanation (what the monitor's decision panels chart)."""
    import pyarrow as pa

    from tabops.store.bulk import TableWrite
    from tabops.store.labels import upsert_labels
    from tabops.synth.output import table_names

    name = table_names(table)["transactions"]
    schedule = Schedule(dataset, pace)
    frame = schedule.frame.drop(columns=list(GROUND_TRUTH_COLUMNS))
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(str)
    stats = SimulationStats(labels_pending=len(schedule.labels))
    started, position, released = time.monotonic(), 0, 0
    while position < len(frame):
        elapsed = time.monotonic() - started
        if pace.duration is not None and elapsed >= pace.duration:
            break
        end = int(np.searchsorted(schedule.due, elapsed, side="right"))
        if end <= position:
            time.sleep(min(0.05, float(schedule.due[position] - elapsed)))
            continue
        batch = frame.iloc[position:end]
        if rules is not None:
            batch = with_decisions(batch, rules, stats)
        rows = pa.Table.from_pandas(batch, preserve_index=False)
        store.write_atomically([TableWrite(name, rows)])
        stats.sent += end - position
        stats.answered += end - position
        position = end
        due = int(np.searchsorted(schedule.label_times, schedule.clock(position), side="right"))
        if due > released:
            batch = schedule.labels.iloc[released:due]
            upsert_labels(store, _label_rows(batch, project))
            stats.labels_released += due - released
            released = due
        stats.labels_pending = len(schedule.labels) - released
        on_progress(stats)
    stats.seconds = time.monotonic() - started
    stats.simulated_until = str(schedule.clock(stats.sent))
    return stats


def with_decisions(batch: pd.DataFrame, rules: RuleSet, stats: SimulationStats) -> pd.DataFrame:
    """``batch`` with the rules' decision (approve when none fired), the ids of the rules that
    fired (comma-separated) and the first fired rule's explanation; counts into ``stats``."""
    verdict = rules.evaluate_frame(batch)
    fired = verdict.fired.to_numpy()
    ids = np.array([str(r.id) for r in rules.rules], dtype=object)
    texts = [r.explanation for r in rules.rules]
    first = np.where(fired.any(axis=1), fired.argmax(axis=1), -1)
    decided = batch.assign(
        decision=[DECISIONS[rule_outcome(d)] for d in verdict.decision],
        fired_rules=[",".join(ids[row]) for row in fired],
        explanation=pd.Series([texts[i] if i >= 0 else None for i in first], index=batch.index),
        rules_version=rules.version,
    )
    for decision, n in decided["decision"].value_counts().items():
        stats.decisions[str(decision)] = stats.decisions.get(str(decision), 0) + int(n)
    stats.rules_fired += int(fired.sum())
    return decided


def _label_rows(batch: pd.DataFrame, project: str) -> list[dict[str, Any]]:
    from datetime import datetime

    now = datetime.now(UTC)
    return [
        {"project": project, "request_id": f"{REQUEST_PREFIX}{tid}", "entity_id": str(tid),
         "event_time": None, "label": str(int(label)), "source": "simulate", "received_at": now}
        for tid, label in zip(batch["transaction_id"], batch["label"], strict=True)
    ]  # fmt: skip
