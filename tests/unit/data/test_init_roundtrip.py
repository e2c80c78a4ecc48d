"""The contract ``init`` infers accepts the file it came from: generated files with mixed
types, missing values, quoted commas and newlines, a BOM, CRLF endings and a few cells that
are no number. Ingesting the file quarantines exactly the rows holding those cells (which init
reports), rejects nothing, and conserves rows exactly.

The generator knows which cells it spoiled; every expected count comes from it. Hypothesis
draws the shape of each file (sizes, rates, options, spoiled cells); the values come from a
seeded generator, which keeps files of a few hundred rows fast to draw.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.context import Context
from tabops.data.infer import infer_spec
from tabops.data.ingest import run_ingest
from tabops.data.sources import read_every_record
from tabops.settings import Settings
from tabops.spec import CsvOptions, SourceSpec

#: No placeholder among them: a '-' alone is a missing number.
NOT_NUMBERS = ["inf", "1e999", "-Infinity", "five", "12a", "1;5", "--1"]
CATEGORIES = ["a,b", 'say "hi"', "plain", " padded ", "é"]
SPANNING = ["two\nlines", "x,\ny"]  # categories spanning lines, when the file has them
WORDS = ["alpha", "beta", "gamma, delta", 'quote "q"', "line\nbreak", "ünï"]
MISSING = ["", "NA", "null", " "]


@dataclass(frozen=True)
class Shape:
    rows: int
    seed: int
    missing_rate: float
    spoiled: int  # cells of 'amount' that are no number
    spoiled_int: int  # cells of 'visits' that are no number
    multiline: bool
    bom: bool
    crlf: bool


SHAPES = st.builds(
    Shape,
    rows=st.integers(200, 400),
    seed=st.integers(0, 2**32 - 1),
    missing_rate=st.sampled_from([0.0, 0.05, 0.3]),
    spoiled=st.integers(0, 2),
    spoiled_int=st.integers(0, 1),
    multiline=st.booleans(),
    bom=st.booleans(),
    crlf=st.booleans(),
)


def _write(shape: Shape, path: Path) -> dict[str, set[int]]:
    """Write the file; by column, the record numbers (0-based) holding a spoiled cell."""
    rng = random.Random(shape.seed)
    n = shape.rows
    categories = CATEGORIES + (SPANNING if shape.multiline else [])
    words = WORDS if shape.multiline else [w for w in WORDS if "\n" not in w]

    def maybe(value: str) -> str:
        return rng.choice(MISSING) if rng.random() < shape.missing_rate else value

    columns = {
        "customer_id": [str(i) for i in rng.sample(range(10**6, 10**7), n)],
        "amount": [maybe(repr(round(rng.uniform(-50, 5000), 3))) for _ in range(n)],
        "visits": [maybe(str(rng.randint(0, 40))) for _ in range(n)],
        "segment": [rng.choice(categories) for _ in range(n)],
        "active": [rng.choice(["yes", "no"]) for _ in range(n)],
        "seen_at": [maybe(_moment(rng)) for _ in range(n)],
        "comment": [maybe(" ".join(rng.choices(words, k=8))) for _ in range(n)],
        "label": [rng.choice(["churn", "stay"]) for _ in range(n)],
    }
    columns["label"][:2] = ["churn", "stay"]  # both classes, always
    spoiled: dict[str, set[int]] = {"amount": set(), "visits": set()}
    for name, count in (("amount", shape.spoiled), ("visits", shape.spoiled_int)):
        present = [i for i, v in enumerate(columns[name]) if v.strip() not in MISSING]
        count = min(count, len(present) // 100)  # at most 1%: the column stays numeric
        for row in rng.sample(present, count):
            columns[name][row] = rng.choice(NOT_NUMBERS)
            spoiled[name].add(row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if shape.crlf else "\n")
    writer.writerow(list(columns))
    writer.writerows(zip(*columns.values(), strict=True))
    data = buffer.getvalue().encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if shape.bom else b"") + data)
    return spoiled


def _moment(rng: random.Random) -> str:
    stamp = dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rng.randint(0, 500_000))
    form = rng.choice(["naive", "offset", "Z", "date"])
    if form == "offset":
        zone = dt.timezone(dt.timedelta(hours=rng.choice([1, 2, -5])))
        return stamp.replace(tzinfo=zone).isoformat()
    return {"naive": stamp.isoformat(), "Z": f"{stamp.isoformat()}Z", "date": f"{stamp:%Y-%m-%d}"}[
        form
    ]


@pytest.fixture(scope="module")
def ctx() -> Context:
    home = Path(tempfile.mkdtemp(prefix="tabops-init-roundtrip-"))
    return Context(settings=Settings(home=home / ".tabops"))


_projects = itertools.count()


@given(shape=SHAPES)
@settings(max_examples=25, deadline=None)
def test_init_then_ingest_accepts_the_same_file(ctx: Context, shape: Shape) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tabops-init-"))
    spoiled = _write(shape, folder / "data.csv")
    batch, options = read_every_record(folder / "data.csv", CsvOptions())
    assert batch.rejects == [] and options.multiline_values == shape.multiline
    inference = infer_spec(
        batch.table,
        SourceSpec(path=str(folder / "data.csv"), csv=options),
        target="label",
        task=None,
        name=f"roundtrip-{next(_projects)}",
    )
    columns = inference.spec.columns
    assert columns["amount"].type.value == "numeric" and columns["amount"].role.value == "feature"
    assert columns["visits"].type.value == "integer" and columns["visits"].role.value == "feature"
    assert columns["segment"].type.value == "categorical"
    assert columns["seen_at"].type.value == "datetime"
    for name, rows in spoiled.items():
        if rows:
            assert f"; {len(rows)} of " in inference.reasons[name]
            assert "will be quarantined" in inference.reasons[name]
    bad_rows = len(spoiled["amount"] | spoiled["visits"])
    assert inference.quarantined == bad_rows

    result = run_ingest(inference.spec, ctx)
    assert result.status == "loaded", result.blocked_reasons
    assert result.rows_in == shape.rows and result.conserved
    assert result.rows_rejected == 0
    assert result.rows_quarantined == bad_rows
    assert result.rows_loaded == shape.rows - bad_rows
    assert set(result.failures) <= {"amount", "visits"}
