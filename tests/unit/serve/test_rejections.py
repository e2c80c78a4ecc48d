"""Refusal counts: what the request schema refuses, counted by bounded field and reason, into
Prometheus counters and per-minute buckets that the prediction log stores once each."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest

from tabops.serve.http import ApiError
from tabops.serve.journal import PredictionLog
from tabops.serve.metrics import ServeMetrics
from tabops.serve.rejections import OTHER, Rejections
from tabops.serve.schema import InvalidRecordsError, RequestSchema
from tabops.spec import parse_spec
from tabops.store.db import Store
from tabops.store.rejections import RejectedBucket, refused_counts, refused_span

SPEC = parse_spec({
    "name": "shop", "task": "classification", "target": "label", "positive_class": "yes",
    "source": {"path": "unused.csv"},
    "columns": {
        "id": {"type": "integer", "role": "id"},
        "x": {"type": "numeric", "nullable": False, "min": -100, "max": 100},
        "color": {"type": "categorical", "nullable": False, "categories": ["red", "blue"]},
        "flag": {"type": "boolean", "nullable": False},
        "label": {"type": "categorical", "role": "target"},
    },
})  # fmt: skip
SCHEMA = RequestSchema(SPEC)
GOOD = {"x": 1.0, "color": "red", "flag": True}
MINUTE = 1_780_000_020  # a minute's start, seconds since the epoch


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _served(version: str = "3") -> Any:
    """What the counts read of a served model: its name, version and request schema."""
    return SimpleNamespace(name="shop", version=SimpleNamespace(version=version), schema=SCHEMA)


def _refusal(records: list[Any], batch: bool = True) -> ApiError:
    """The 422 serving answers for ``records`` (as :func:`tabops.serve.scoring.score` does)."""
    with pytest.raises(InvalidRecordsError) as info:
        SCHEMA.model_rows(records, batch)
    return ApiError(422, "invalid_records", str(info.value), invalid=info.value)


def _scraped(metrics: ServeMetrics) -> dict[tuple[str, str], float]:
    from prometheus_client.parser import text_string_to_metric_families

    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == "tabops_rejected_fields_total":
                found[(sample.labels["field"], sample.labels["reason"])] = sample.value
            if sample.name == "tabops_rejected_requests_total":
                found[("(requests)", "")] = sample.value
    return found


def test_refused_records_are_counted_by_field_and_reason() -> None:
    metrics, clock = ServeMetrics(), Clock(MINUTE + 5)
    rejections = Rejections(metrics, clock)
    batch = [
        {"color": "red", "flag": True, "zzz": 1, "yyy": 2},  # x missing; two unknown names
        {**GOOD, "x": 500.0, "color": "mauve", "flag": "perhaps"},  # max, category, type
        "not an object",
        {**GOOD, "x": None, "id": [1]},  # x null (missing); the id is an array (type)
        GOOD,  # fine, but refused with its batch
    ]
    rejections.count(_refusal(batch), _served())
    rejections.count(_refusal([{**GOOD, "x": -101}], batch=False), _served())
    expected = {
        ("x", "missing"): 2, (OTHER, "unknown_field"): 1, ("x", "max"): 1, ("x", "min"): 1,
        ("color", "category"): 1, ("flag", "type"): 1, (OTHER, "malformed"): 1, ("id", "type"): 1,
    }  # fmt: skip
    assert _scraped(metrics) == {**expected, ("(requests)", ""): 2}

    assert rejections.drain() == []  # the minute is not over
    clock.now = MINUTE + 60
    [bucket] = rejections.drain()
    assert (bucket.model_name, bucket.model_version, bucket.minute) == ("shop", "3", MINUTE)
    assert (bucket.requests, bucket.records) == (2, 6)
    assert bucket.fields == expected
    assert rejections.drain(final=True) == []  # taken out once


def test_only_refusals_of_the_content_count() -> None:
    metrics = ServeMetrics()
    rejections = Rejections(metrics, Clock(MINUTE))
    for status, code in [(401, "unauthorized"), (503, "overloaded"), (413, "batch_too_large"),
                         (415, "unsupported_media_type"), (404, "not_found")]:  # fmt: skip
        rejections.count(ApiError(status, code, "no"), _served())
    rejections.count(_refusal([{**GOOD, "x": "one"}], batch=False), None)  # no model loaded yet
    assert _scraped(metrics) == {("(requests)", ""): 0}
    assert rejections.drain(final=True) == []

    rejections.count(ApiError(400, "invalid_json", "The body is not valid JSON."), _served())
    rejections.count(ApiError(422, "invalid_payload", "'inputs' is empty."), _served())
    assert _scraped(metrics) == {(OTHER, "malformed"): 2, ("(requests)", ""): 2}


def test_buckets_are_per_minute_and_version_and_final_drains_all() -> None:
    clock = Clock(MINUTE + 59)
    rejections = Rejections(ServeMetrics(), clock)
    bad = _refusal([{**GOOD, "flag": 3}], batch=False)
    rejections.count(bad, _served("3"))
    rejections.count(bad, _served("4"))
    clock.now = MINUTE + 61
    rejections.count(bad, _served("4"))
    done = rejections.drain()
    assert sorted((b.minute, b.model_version) for b in done) == [(MINUTE, "3"), (MINUTE, "4")]
    [last] = rejections.drain(final=True)
    assert (last.minute, last.model_version, last.fields) == (
        MINUTE + 60,
        "4",
        {("flag", "type"): 1},
    )
    assert len({b.id for b in [*done, last]}) == 3  # one id each: a replay is recognised


def _bucket(id: str, minute: int, version: str = "3", **fields: int) -> RejectedBucket:
    counts = {tuple(key.split("__")): n for key, n in fields.items()}
    return RejectedBucket(id, "shop", version, minute, requests=2, records=sum(fields.values()),
                          fields=counts)  # type: ignore[arg-type]  # fmt: skip


def test_the_prediction_log_stores_each_bucket_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    journal = PredictionLog(tmp_path / "journal", store, "shop", max_bytes=10**8)
    journal.start()
    first = _bucket("a-0", MINUTE, x__missing=3, flag__type=1)
    journal.append([first, _bucket("b-0", MINUTE + 60, x__missing=2)])
    journal.append([first])  # a replay of the same bucket: skipped
    journal.append([_bucket("a-1", MINUTE + 3600, "4", color__category=5)])
    deadline = time.monotonic() + 60
    while journal.backlog_rows:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    journal.close(5)
    assert journal.stats.duplicates == 1

    start = datetime.fromtimestamp(MINUTE, UTC)
    hour = refused_counts(store, "shop", "shop", start, datetime.fromtimestamp(MINUTE + 3600, UTC))
    assert hour.requests == {"3": (4, 6)}
    assert hour.fields == {"3": {"x": {"missing": 5}, "flag": {"type": 1}}}
    later = refused_counts(store, "shop", "shop", datetime.fromtimestamp(MINUTE + 3600, UTC),
                           datetime.fromtimestamp(MINUTE + 7200, UTC))  # fmt: skip
    assert later.fields == {"4": {"color": {"category": 5}}}
    assert refused_counts(store, "other", "other", start, start).requests == {}
    assert refused_span(store, "shop", "shop") == (
        start,
        datetime.fromtimestamp(MINUTE + 3600, UTC),
    )


def test_buckets_journaled_while_the_store_is_down_are_stored_by_the_next_start(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "journal"
    down = PredictionLog(folder, Store("postgresql://nobody@127.0.0.1:1/none"), "shop", 10**8)
    down.start()
    assert down.append([_bucket("a-0", MINUTE, x__missing=3)])
    deadline = time.monotonic() + 60
    while down.stats.store_up:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    down.close(0.5)
    assert list(folder.glob("*.jsonl"))  # kept on disk, as predictions are

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    up = PredictionLog(folder, store, "shop", 10**8)
    up.start()  # adopts the journal of the log that could not write
    up.close(60)  # stops once that journal is copied (60 s at most)
    minute = datetime.fromtimestamp(MINUTE, UTC)
    counts = refused_counts(store, "shop", "shop", minute, minute + timedelta(minutes=1))
    assert counts.requests == {"3": (2, 3)} and counts.fields == {"3": {"x": {"missing": 3}}}
    assert not list(folder.glob("*.jsonl"))


def test_records_wrapped_under_a_key_are_named_before_what_they_lack() -> None:
    with pytest.raises(InvalidRecordsError) as wrapped:
        SCHEMA.model_rows([{"rows": [GOOD]}], batch=False)
    message = str(wrapped.value)
    assert message.index("rows: is not an input of this model: send the record itself") < (
        message.index("x: is missing")
    )
    with pytest.raises(InvalidRecordsError) as misspelt:  # fewer names than inputs
        SCHEMA.model_rows([{"x": 1.0, "colour": "red", "flag": True}], batch=False)
    assert "colour: is not an input of this model; color: is missing" in str(misspelt.value)


def test_the_index_pandas_reads_from_a_blank_header_is_no_unknown_field() -> None:
    # pd.read_csv names a blank header 'Unnamed: 0'; to_dict('records') sends it along
    [row] = SCHEMA.model_rows([{"Unnamed: 0": 7, **GOOD}], batch=False)
    assert row["x"] == 1.0
    with pytest.raises(InvalidRecordsError, match="Unnamed: 0x: is not an input"):
        SCHEMA.model_rows([{"Unnamed: 0x": 7, **GOOD}], batch=False)
    schema = SCHEMA.json_schema()  # the OpenAPI request schema says the same
    jsonschema.validate({"Unnamed: 0": 7, **GOOD}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"Unnamed: 0x": 7, **GOOD}, schema)
