"""What a running server holds: the served model, the prediction log, metrics and auth, and the
hot reload that swaps the model without dropping a request."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tabops.errors import RegistryError, TabopsError
from tabops.registry.models import CHALLENGER, CHAMPION, ModelVersion, Registry
from tabops.serve.http import Auth
from tabops.serve.journal import PredictionLog
from tabops.serve.metrics import ServeMetrics
from tabops.serve.model import ServedModel, check_replacement, load_served, load_version
from tabops.serve.monitor_gauges import MonitorGauges
from tabops.serve.rejections import Rejections
from tabops.settings import Settings
from tabops.spec import ProjectSpec
from tabops.store.predictions import Prediction, ShadowPrediction

if TYPE_CHECKING:
    from tabops.store.db import Store

log = logging.getLogger(__name__)
#: Failures to fetch a version (registry or network down), not verdicts on the version.
UNREACHABLE = (RegistryError, OSError)
#: A hung store fails fast: the journal keeps the rows meanwhile, /feedback answers 503.
#: The store's connect and statement timeouts, in seconds: fail fast, the journal holds rows.
STORE_TIMEOUTS = (3, 15)


@dataclass
class ServeState:
    """One worker's serving state; ``served`` is replaced whole (an atomic swap)."""

    spec: ProjectSpec
    settings: Settings
    alias: str = CHAMPION
    metrics: ServeMetrics = field(default_factory=ServeMetrics)
    served: ServedModel | None = None
    challenger: ServedModel | None = None  # scored in shadow, never answered
    store: Store | None = None  # one per worker, shared by the prediction log and /feedback
    journal: PredictionLog | None = None
    registry: Registry | None = None
    auth: Auth = field(default_factory=lambda: Auth([], None))
    ready: bool = False
    draining: bool = False
    refused: dict[str, str] = field(default_factory=dict)  # version -> why it was refused
    _reload_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    monitor_gauges: MonitorGauges = field(init=False)
    rejections: Rejections = field(init=False)

    def __post_init__(self) -> None:
        self.monitor_gauges = MonitorGauges(self.spec)
        self.rejections = Rejections(self.metrics)

    @property
    def limits(self) -> Any:
        return self.spec.serve

    def start(self) -> None:
        """Load and check the model (unless ``tabops serve`` did already), open the store
        (unless given; it is migrated at its first use, as it may be down now) and the
        prediction log (blocking: run in a thread)."""
        self.registry = Registry(self.settings.mlflow_uri, self.spec.name)
        if self.served is None:
            self.served = load_served(self.spec, self.registry, self.alias)
        if self.alias == CHAMPION:
            self.challenger = self._load_challenger(self.registry.by_alias(CHALLENGER))
        if self.store is None:
            from tabops.store.db import Timeouts, open_store  # SQLAlchemy: loaded on start

            connect, statement = STORE_TIMEOUTS
            timeouts = Timeouts(connect=connect, statement=statement)
            self.store = open_store(self.settings.store_url, False, timeouts)
        folder = self.settings.home / "journal" / self.spec.name
        self.journal = PredictionLog(
            folder,
            self.store,
            self.spec.name,
            self.limits.spill_max_mb * 1024 * 1024,
        )
        self.journal.start()
        self.metrics.refresh(self.served, self.journal)

    def _load_challenger(self, version: ModelVersion | None) -> ServedModel | None:
        """The challenger to shadow, or None (no alias, or a version that fails its checks;
        one that could not be fetched is tried again at the next check)."""
        if version is None or self.served is None or self.registry is None:
            return None
        try:
            challenger = load_version(self.spec, self.registry, version, CHALLENGER)
            check_replacement(self.served, challenger)
        except Exception as exc:
            reason = _reason(exc)
            if not isinstance(exc, UNREACHABLE):
                self.refused[f"challenger {version.version}"] = reason
            log.error("Not shadowing challenger version %s: %s", version.version, reason)
            return None
        log.warning("Shadowing challenger version %s", version.version)
        return challenger

    def shadow(self, request_id: str, records: list[Any], batch: bool) -> None:
        """Score ``records`` with the challenger and journal its answers (after the response)."""
        challenger = self.challenger
        if challenger is None or self.journal is None:
            return
        started = time.perf_counter()
        try:
            outputs, scores = challenger.predict(records, batch)
        except Exception:  # the challenger's failures never reach clients
            log.exception("Shadow prediction by version %s failed", challenger.version.version)
            return
        latency = (time.perf_counter() - started) * 1000
        now, single = time.time(), challenger.score_of(scores)
        self.journal.append([
            ShadowPrediction(f"{request_id}-{i}" if batch else request_id, challenger.name,
                             challenger.version.version, now, output, float(score),
                             output.get("label"), latency)
            for i, (output, score) in enumerate(zip(outputs, single, strict=True))
        ])  # fmt: skip

    async def _reload_challenger(self) -> None:
        assert self.registry is not None
        try:
            found = await asyncio.to_thread(self.registry.by_alias, CHALLENGER)
        except TabopsError:
            return  # keep shadowing what we have; the champion's reload reports the outage
        loaded = self.challenger.version.version if self.challenger else None
        wanted = found.version if found else None
        if wanted == loaded or f"challenger {wanted}" in self.refused:
            return
        self.challenger = await asyncio.to_thread(self._load_challenger, found)

    def stop(self) -> None:
        if self.journal is not None:
            self.journal_rejections(final=True)
            self.journal.close(self.limits.grace_period)
        if self.store is not None:
            self.store.engine.dispose()

    def journal_rejections(self, final: bool = False) -> None:
        """Journal the refusal counts of the minutes that are over (all of them when ``final``):
        the prediction log's writer stores them."""
        buckets = self.rejections.drain(final)
        if buckets and self.journal is not None:
            self.journal.append(buckets)

    def log_predictions(
        self,
        served: ServedModel,
        request_id: str,
        records: list[dict[str, Any]],
        outputs: list[dict[str, Any]],
        scores: np.ndarray,
        batch: bool,
        started: float,
    ) -> None:
        """Journal one row per record and count them (called before the response is sent)."""
        now = time.time()
        latency = (time.perf_counter() - started) * 1000
        single = served.score_of(scores)
        rows = [
            Prediction(
                request_id=f"{request_id}-{i}" if batch else request_id,
                model_name=served.name,
                model_version=served.version.version,
                created_at=now,
                entity_id=served.schema.entity_id(record),
                features=served.schema.logged(record),
                outputs=output,
                score=float(score),
                decision=output.get("decision", output.get("label")),
                latency_ms=latency,
                rules=output.get("rules"),
            )
            for i, (record, output, score) in enumerate(zip(records, outputs, single, strict=True))
        ]
        if self.journal is not None:
            self.journal.append(rows)
        self.metrics.count_predictions(served.name, served.version.version, len(rows))
        if served.classes is not None:
            for score in single:
                self.metrics.scores.observe(score)

    async def reload(self, force: bool = False) -> dict[str, Any]:
        """Load the version the alias points at, if new; check it beside the serving one and
        swap. A refused or unreachable version leaves the serving one in place."""
        async with self._reload_lock:
            current = self.served
            assert current is not None and self.registry is not None
            try:
                found = await asyncio.to_thread(self.registry.by_alias, self.alias)
            except TabopsError as exc:
                self.metrics.reloads.labels("failed").inc()
                log.warning(
                    "Hot reload: the registry is unavailable (%s); still serving v%s",
                    exc,
                    current.version.version,
                )
                return {
                    "result": "failed",
                    "version": current.version.version,
                    "reason": "the registry is unavailable",
                }
            if found is None or found.version == current.version.version:
                return {"result": "unchanged", "version": current.version.version}
            if found.version in self.refused and not force:
                return {
                    "result": "refused",
                    "version": current.version.version,
                    "candidate": found.version,
                    "reason": self.refused[found.version],
                }
            try:
                candidate = await asyncio.to_thread(
                    load_version, self.spec, self.registry, found, self.alias
                )
                check_replacement(current, candidate)
            except UNREACHABLE as exc:  # not the version's fault: try it again next time
                self.metrics.reloads.labels("failed").inc()
                log.warning(
                    "Hot reload: version %s could not be fetched (%s); still serving v%s",
                    found.version,
                    _reason(exc),
                    current.version.version,
                )
                return {
                    "result": "failed",
                    "version": current.version.version,
                    "candidate": found.version,
                    "reason": _reason(exc),
                }
            except Exception as exc:  # any other failure refuses the version, never the server
                reason = _reason(exc)
                self.refused[found.version] = reason
                self.metrics.reloads.labels("refused").inc()
                log.error(
                    "Hot reload refused version %s; still serving v%s: %s",
                    found.version,
                    current.version.version,
                    reason,
                )
                return {
                    "result": "refused",
                    "version": current.version.version,
                    "candidate": found.version,
                    "reason": reason,
                }
            self.served = candidate
            self.metrics.reloads.labels("loaded").inc()
            self.metrics.refresh(candidate, self.journal)
            log.warning(
                "Hot reload: now serving %s version %s (was %s)",
                candidate.name,
                candidate.version.version,
                current.version.version,
            )
            return {
                "result": "loaded",
                "version": candidate.version.version,
                "previous": current.version.version,
            }

    async def watch_challenger(self) -> None:
        """Follow the challenger alias (only when serving the champion)."""
        if self.alias == CHAMPION:
            await self._reload_challenger()

    async def watch(self) -> None:
        """Check the alias every ``serve.reload_interval`` seconds; refresh gauges each second."""
        next_check = time.monotonic() + self.limits.reload_interval
        while True:
            await asyncio.sleep(min(1.0, self.limits.reload_interval))
            self.metrics.refresh(self.served, self.journal)
            self.journal_rejections()
            if time.monotonic() >= next_check:
                try:
                    await self.reload()
                    await self.watch_challenger()
                except Exception:  # never let the watcher die: the old version keeps serving
                    self.metrics.reloads.labels("failed").inc()
                    log.exception("Checking the '%s' alias failed", self.alias)
                next_check = time.monotonic() + self.limits.reload_interval


def _reason(exc: Exception) -> str:
    """What to say about a failed load: tabops' own message, or the error's type (a message
    from a library may carry paths)."""
    return str(exc) if isinstance(exc, TabopsError) else type(exc).__name__
