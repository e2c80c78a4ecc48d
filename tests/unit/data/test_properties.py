"""Property-based tests of ingest: generated CSVs carrying known, injected defects.

The generators know what they injected, so every expected count, reason, line number and
snapshot id below comes from the generator, never from tabops. Function-scoped fixtures are not
reset between Hypothesis examples: each example ingests as a new project, from its own
temporary folder, into a module-wide store.
"""

from __future__ import annotations

import csv
import itertools
import json
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from unittest import mock

import pyarrow as pa
import pytest
import yaml
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from tabops.context import Context
from tabops.data import csv_reader
from tabops.data.contract import Reason, check_contract
from tabops.data.csv_reader import (
    CsvRead,
    _as_utf8,
    _fast_path_possible,
    _FastStream,
    _read_exact,
    open_csv,
    read_csv,
)
from tabops.data.ingest import IngestResult, run_ingest
from tabops.data.quarantine import QuarantineEntry, list_entries
from tabops.data.snapshots import read_snapshot
from tabops.settings import Settings
from tabops.spec import CsvOptions, ProjectSpec, load_spec, parse_spec
from tests.conftest import SMALL_HEADER, small_spec_dict

COLUMNS = (*SMALL_HEADER.split(","), "note")  # the small spec plus a nullable text column
WIDTH = len(COLUMNS)
UNCLOSED = "bad quoting: a quoted value is never closed"
OPTIONS = CsvOptions()
NULLS = ["", " ", "NA", "N/A", "null", "None", "?"]  # all in the default null_values

# --------------------------------------------------------------------------------------------
# Generated values: good ones, and defects with the (column, check) each must be reported as.
# --------------------------------------------------------------------------------------------

GOOD_VALUES: dict[str, st.SearchStrategy[str]] = {
    "amount": st.one_of(  # numeric, 0 <= x <= 1000 (bounds inclusive)
        st.sampled_from(["0", "1000", "1000.0", "-0.0", "1e3", ".5", "+7", " 12.5 "]),
        st.integers(0, 1000).map(str),
        st.floats(0, 1000).map(repr),
    ),
    "count": st.one_of(  # integer, nullable
        st.sampled_from([*NULLS, "7.0", "-3", "+2", " 4 ", str(2**63 - 1), str(-(2**63))]),
        st.integers(-(10**6), 10**6).map(str),
    ),
    "color": st.sampled_from(["red", "blue", " red", "blue "]),
    "flag": st.sampled_from(["true", "false", "t", "f", "yes", "no", "y", "n", "1", "0", "TRUE"]),
    "label": st.sampled_from(["no", "yes"]),
}
# Not integers / not numbers, including what Arrow's cast alone would accept (hex, overflow).
NOT_INTEGER = st.one_of(
    st.sampled_from(["1.5", "12a", "1,5", "--1", "one", "1 2", "1e3", "0x1F", str(2**63)]),
    st.from_regex(r"x[a-z]{0,3}", fullmatch=True),
)
NOT_NUMBER = st.one_of(
    st.sampled_from(["12a", "1,5", "--1", "one", "1.2.3", "1e", ".", "5%", "1e999", "-1e999"]),
    st.sampled_from(["inf", "-Infinity", "NAN", "0x10"]),
    st.from_regex(r"x[a-z]{0,3}", fullmatch=True),
)
MISSING = st.sampled_from(NULLS)
DEFECTS: dict[str, list[tuple[str, st.SearchStrategy[str]]]] = {
    "id": [("missing", MISSING), ("type", NOT_INTEGER)],
    "amount": [
        ("missing", MISSING),
        ("type", NOT_NUMBER),
        ("min", st.floats(-1e6, -1e-3).map(repr) | st.sampled_from(["-1", "-0.5"])),
        ("max", st.floats(1000.001, 1e9).map(repr) | st.sampled_from(["1001", "1e4"])),
    ],
    "count": [("type", NOT_INTEGER)],
    "color": [
        ("missing", MISSING),
        ("category", st.sampled_from(["green", "Red", "BLUE", "purple", "red blue"])),
    ],
    "flag": [("missing", MISSING), ("type", st.sampled_from(["maybe", "2", "ja", "-1", "1.0"]))],
    # 'Yes' and 'NO' are the label's 'yes' and 'no': two categories written as a boolean read
    # any letter case, as a boolean column does.
    "label": [("missing", MISSING), ("category", st.sampled_from(["maybe", "y", "true", "nope"]))],
}
BAD_UTF8 = [b"\xff", b"caf\xe9", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf"]
# Kinds of generated records; "good" is listed more often so good rows dominate.
KINDS = ["good"] * 5 + ["contract", "contract", "duplicate", "fields", "unclosed", "utf8"]


def _id_text(ident: int) -> st.SearchStrategy[str]:
    """Spellings of one integer id (all the same typed value)."""
    return st.sampled_from([str(ident), f"+{ident}", f"00{ident}", f"{ident}.0", f" {ident} "])


def _note(multiline: bool) -> st.SearchStrategy[str]:
    return st.text(alphabet='ab ,"é日' + ("\n" if multiline else ""), max_size=6)


def _field(value: str, quote: bool) -> str:
    if quote or any(c in value for c in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _line(values: Sequence[str], quoted: Sequence[bool]) -> str:
    return ",".join(_field(v, q) for v, q in zip(values, quoted, strict=True))


def _quoting(draw: st.DrawFn, n: int) -> list[bool]:
    return draw(st.lists(st.sampled_from([False, False, False, True]), min_size=n, max_size=n))


@dataclass(frozen=True)
class Row:
    """One generated record and what ingest must make of it."""

    kind: Literal["good", "contract", "structural"]
    line: int  # 1-based physical line the record starts on
    values: tuple[str, ...] = ()  # the values as written (good and contract rows)
    id: int | None = None  # the typed id, when valid
    row_number: int | None = None  # 1-based position among the rows that split into columns
    reasons: tuple[tuple[str, str], ...] = ()  # (column, check) of a contract row
    raw: str = ""  # a structural reject's raw text (all its lines)
    reject: str = ""  # a structural reject's reason (its start)


@dataclass(frozen=True)
class Case:
    data: bytes
    multiline: bool
    rows: tuple[Row, ...]


@st.composite
def ingest_cases(draw: st.DrawFn) -> Case:
    """A CSV file mixing good rows, contract defects and structural defects, with blank lines,
    LF or CRLF, with or without a final newline, and (multiline mode) multi-line values."""
    mode = draw(st.sampled_from(["fast", "exact", "multiline"]))
    multiline = mode == "multiline"
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    # Unclosed quotes and bad UTF-8 send the file down the exact CSV path; "fast" leaves them out.
    allowed = [k for k in KINDS if mode != "fast" or k not in ("unclosed", "utf8")]
    kinds = draw(st.lists(st.sampled_from(allowed), min_size=1, max_size=25))
    if multiline:  # an unclosed quote would swallow the rest: only the last record gets one
        kinds = [k for k in kinds if k != "unclosed"] + ["unclosed"] * ("unclosed" in kinds)
    chunks: list[bytes] = [",".join(COLUMNS).encode()]
    rows: list[Row] = []
    seen_ids: list[int] = []  # valid ids of rows that split into columns (kept or not)
    line, parsed = 2, 0
    for number, kind in enumerate(kinds, start=1):
        blanks = draw(st.sampled_from([0, 0, 0, 0, 1, 2]))
        chunks += [b""] * blanks
        line += blanks
        values = {"id": draw(_id_text(number))}
        values |= {c: draw(s) for c, s in GOOD_VALUES.items()}
        parses = kind in ("good", "contract", "duplicate")
        values["note"] = draw(_note(multiline and kind not in ("unclosed", "utf8")))
        if parses:
            row_id: int | None = number
            reasons: list[tuple[str, str]] = []
            if kind == "duplicate" and seen_ids:
                row_id = draw(st.sampled_from(seen_ids))
                values["id"] = draw(_id_text(row_id))
                reasons.append(("id", "unique"))
            if kind != "good":
                others = [c for c in DEFECTS if not (reasons and c == "id")]
                low = 0 if reasons else 1
                columns = st.lists(st.sampled_from(others), min_size=low, max_size=3, unique=True)
                for column in draw(columns):
                    check, strategy = draw(st.sampled_from(DEFECTS[column]))
                    values[column] = draw(strategy)
                    reasons.append((column, check))
                    row_id = None if column == "id" else row_id
            ordered = tuple(values[c] for c in COLUMNS)
            text = _line(ordered, _quoting(draw, WIDTH))
            chunks.append(text.encode())
            parsed += 1
            if row_id is not None and ("id", "unique") not in reasons:
                seen_ids.append(row_id)
            rows.append(
                Row(
                    "contract" if reasons else "good",
                    line,
                    ordered,
                    row_id,
                    parsed,
                    tuple(reasons),
                )
            )
            line += 1 + text.count("\n")
            continue
        ordered = tuple(values[c] for c in COLUMNS)
        if kind == "fields":
            n = draw(st.sampled_from([1, 2, 3, 4, 5, 6, 8, 9, 10]))
            extra = draw(st.lists(st.from_regex(r"[a-z]{0,3}", fullmatch=True), min_size=3))
            fields = (ordered + tuple(extra))[:n]
            text = _line(fields, _quoting(draw, n))  # a multi-line record stays one reject
            raw, reject, encoded = text, f"expected {WIDTH} fields, found {n}", text.encode()
        elif kind == "unclosed":  # a quote opens a value and is never closed on the line
            at = draw(st.integers(0, WIDTH - 1))
            rest = (*ordered[at:-1], draw(st.from_regex(r"[a-z]{0,4}", fullmatch=True)))
            head = _line(ordered[:at], _quoting(draw, at))
            text = head + ("," if at else "") + '"' + ",".join(rest)
            raw, reject, encoded = text, UNCLOSED, text.encode()
        else:  # utf8: one value holds bytes that are not UTF-8
            at = draw(st.integers(0, WIDTH - 1))
            quoted = _quoting(draw, WIDTH)
            parts = [_field(v, q).encode() for v, q in zip(ordered, quoted, strict=True)]
            parts[at] = draw(st.sampled_from(BAD_UTF8))
            encoded = b",".join(parts)
            raw, reject = encoded.decode("utf-8", "backslashreplace"), "not valid utf-8"
        chunks.append(encoded)
        rows.append(Row("structural", line, raw=raw, reject=reject))
        line += 1 + encoded.count(b"\n")
    data = newline.encode().join(chunks) + (newline.encode() if draw(st.booleans()) else b"")
    return Case(data, multiline, tuple(rows))


def _spec_dict(name: str, multiline: bool) -> dict[str, Any]:
    # Rate and retype limits at 1.0: the batch is never blocked, every row is accounted for.
    raw = small_spec_dict(name=name, contract={"max_quarantine_rate": 1.0, "retype_fraction": 1.0})
    raw["columns"]["note"] = {"type": "text", "nullable": True}
    if multiline:
        raw["source"]["csv"] = {"multiline_values": True}
    return raw


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """One migrated store for the module (migrating costs ~0.1 s an example); every example
    ingests as a project of its own, so examples share nothing but the database file."""
    home = tmp_path_factory.mktemp("properties") / ".tabops"
    ctx = Context(settings=Settings(home=home, database_url=None))
    yield ctx
    ctx.store.engine.dispose()


_projects = itertools.count(1)


def _ingest(ctx: Context, case: Case) -> tuple[IngestResult, list[QuarantineEntry], list[Any]]:
    """Ingest ``case`` as a new project: the result, its quarantine and its snapshot's ids."""
    name = f"case{next(_projects)}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "data.csv").write_bytes(case.data)
        (folder / "tabops.yaml").write_text(yaml.safe_dump(_spec_dict(name, case.multiline)))
        result = run_ingest(load_spec(folder), ctx)
    entries = list_entries(ctx.store, name, status=None, limit=None)
    assert result.snapshot_path is not None, result.blocked_reasons
    ids = read_snapshot(Path(result.snapshot_path)).column("id").to_pylist()
    return result, entries, ids


def _structural_kind(reason: str) -> str:
    if reason.startswith("expected"):
        return "wrong field count"
    return "bad quoting" if reason.startswith("bad quoting") else reason


@settings(max_examples=50, deadline=None)
@given(case=ingest_cases())
def test_ingest_conserves_rows_and_reports_every_injected_defect(
    workspace: Context, case: Case
) -> None:
    options = CsvOptions(multiline_values=case.multiline)
    fast = (utf8 := _as_utf8(case.data, options)) is not None and _fast_path_possible(utf8, options)
    event("fast CSV path" if fast else "exact CSV path")
    result, entries, snapshot_ids = _ingest(workspace, case)
    good = [r for r in case.rows if r.kind == "good"]
    quarantined = [r for r in case.rows if r.kind == "contract"]
    rejected = [r for r in case.rows if r.kind == "structural"]

    # 1. Conservation, each count equal to what was injected.
    assert result.status == "loaded", result.blocked_reasons
    counts = (result.rows_in, result.rows_loaded, result.rows_quarantined, result.rows_rejected)
    assert counts == (len(case.rows), len(good), len(quarantined), len(rejected))
    assert result.rows_in == result.rows_loaded + result.rows_quarantined + result.rows_rejected
    failures: dict[str, dict[str, int]] = {}
    for row in quarantined:
        for column, check in row.reasons:
            failures.setdefault(column, {}).setdefault(check, 0)
            failures[column][check] += 1
    assert result.failures == failures
    assert result.structural == dict(Counter(_structural_kind(r.reject) for r in rejected))

    # 2. Every quarantined row at its line, with its raw values and exactly its reasons.
    assert len(entries) == len(quarantined) + len(rejected)
    by_line = {(e.kind, e.line): e for e in entries}
    assert len(by_line) == len(entries)
    for row in rejected:
        entry = by_line[("structural", row.line)]
        assert entry.raw == row.raw
        (reason,) = entry.reasons
        assert (reason["column"], reason["check"]) == (None, "structure")
        assert reason["message"].startswith(row.reject)
    for row in quarantined:
        entry = by_line[("contract", row.line)]
        assert entry.row_number == row.row_number
        assert json.loads(entry.raw) == dict(zip(COLUMNS, row.values, strict=True))
        assert sorted((r["column"], r["check"]) for r in entry.reasons) == sorted(row.reasons)

    # 3. The snapshot holds exactly the good rows, in file order.
    assert result.snapshot_rows == len(good)
    assert snapshot_ids == [r.id for r in good]


# --------------------------------------------------------------------------------------------
# 4. The fast (PyArrow) and exact (csv module) paths of csv_reader read alike.
# --------------------------------------------------------------------------------------------


def _summary(read: CsvRead) -> tuple[list[dict[str, Any]], list[int], list[tuple[int, str, str]]]:
    rejects = [(r.line, r.raw, r.reason) for r in read.rejects]
    return read.table.to_pylist(), read.lines.tolist(), rejects


@st.composite
def well_formed_csvs(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[int, list[str], str]]]:
    """Correctly quoted single-line records of any width (so some have the wrong field count),
    blank lines, non-ASCII text, LF or CRLF: (bytes, header width, [(line, values, text)])."""
    width = draw(st.integers(1, 4))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    value = st.text(alphabet='ab ,"é日', max_size=5)
    records = draw(
        st.lists(
            st.none() | st.lists(value, min_size=1, max_size=width + 2), min_size=1, max_size=12
        )
    )
    lines = [",".join(f"c{i}" for i in range(width))]
    written: list[tuple[int, list[str], str]] = []
    for number, record in enumerate(records, start=2):
        if record is None:
            lines.append("")
            continue
        # A lone empty value is written "" (unquoted it would be a blank line, no record).
        quoted = [q or record == [""] for q in _quoting(draw, len(record))]
        lines.append(_line(record, quoted))
        written.append((number, record, lines[-1]))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    return text.encode(), width, written


@settings(max_examples=60, deadline=None)
@given(case=well_formed_csvs())
def test_fast_and_exact_paths_agree_on_well_formed_csv(
    case: tuple[bytes, int, list[tuple[int, list[str], str]]],
) -> None:
    data, width, written = case
    for _, values, text in written:  # the csv module is the oracle for the written lines
        assert next(csv.reader([text], strict=True)) == values
    columns = [f"c{i}" for i in range(width)]
    expected = (
        [dict(zip(columns, v, strict=True)) for _, v, _ in written if len(v) == width],
        [n for n, v, _ in written if len(v) == width],
        [
            (n, t, f"expected {width} fields, found {len(v)}")
            for n, v, t in written
            if len(v) != width
        ],
    )
    assert isinstance(open_csv(data, OPTIONS, "t.csv"), _FastStream)
    assert _summary(read_csv(data, OPTIONS, "t.csv")) == expected
    assert _summary(_read_exact(data, OPTIONS, "t.csv")) == expected


@st.composite
def stray_quote_csvs(draw: st.DrawFn) -> bytes:
    """Lines of letters, delimiters, spaces and quotes placed anywhere."""
    width = draw(st.integers(1, 3))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = draw(st.lists(st.text(alphabet='ab,"é ', max_size=6), min_size=1, max_size=6))
    header = ",".join(f"c{i}" for i in range(width))
    return (newline.join([header, *lines]) + newline).encode()


# Inputs that PyArrow and the csv module once read differently (fixed in 2281ed5).
@example(b'c0\n""a\n')  # fast: row 'a'; exact: reject (bad quoting)
@example(b'c0\nb","\nb\n')  # fast: RuntimeError; exact: reject line 2, row 'b' at line 3
@example(b'c0,c1\nb","\n,\n')  # fast: one row spanning lines 2-3; exact: reject + row
@settings(max_examples=60, deadline=None)
@given(data=stray_quote_csvs())
def test_fast_and_exact_paths_agree_on_stray_quotes(data: bytes) -> None:
    assert _summary(read_csv(data, OPTIONS, "t.csv")) == _summary(
        _read_exact(data, OPTIONS, "t.csv")
    )


@settings(max_examples=80, deadline=None)
@given(data=stray_quote_csvs() | well_formed_csvs().map(lambda case: case[0]),
       block=st.integers(1, 40))  # fmt: skip
def test_a_file_read_in_small_blocks_reads_as_the_exact_path_reads_it(
    data: bytes, block: int
) -> None:
    """Blocks of a few lines each: some taken by the fast path, then the rest of the file by
    the exact path from the first block the fast path cannot take."""
    with mock.patch.object(csv_reader, "_READ_SIZE", block):
        assert _summary(read_csv(data, OPTIONS, "t.csv")) == _summary(
            _read_exact(data, OPTIONS, "t.csv")
        )


@settings(max_examples=80, deadline=None)
@given(data=stray_quote_csvs() | well_formed_csvs().map(lambda case: case[0]),
       encoding=st.sampled_from(["latin-1", "cp1252", "koi8-r", "ascii"]),
       undefined=st.booleans(), block=st.integers(1, 60))  # fmt: skip
def test_a_single_byte_encoding_is_read_as_the_exact_path_reads_it(
    data: bytes, encoding: str, undefined: bool, block: int
) -> None:
    """Transcoded to UTF-8 block by block for the fast path; a byte the encoding does not
    define (0x81 in cp1252, any in ascii) sends the rest to the exact path."""
    written = data.decode("utf-8").encode(encoding, errors="replace")
    if undefined:
        written = written.replace(b"\n", b"\n\x81", 1)
    options = CsvOptions(encoding=encoding)
    with mock.patch.object(csv_reader, "_READ_SIZE", block):
        assert _summary(read_csv(written, options, "t.csv")) == _summary(
            _read_exact(written, options, "t.csv")
        )


def test_multiline_record_with_wrong_field_count_is_one_reject() -> None:
    # Once reported as 'never closed', with its continuation line 'y",2' loaded as a row.
    read = read_csv(b'a,b\n1,"x\ny",2\n3,4\n', CsvOptions(multiline_values=True), "t.csv")
    assert read.table.to_pylist() == [{"a": "3", "b": "4"}]
    assert read.lines.tolist() == [4]
    ((line, raw, reason),) = [(r.line, r.raw, r.reason) for r in read.rejects]
    assert (line, raw) == (2, '1,"x\ny",2')
    assert reason.startswith("expected 2 fields, found 3")


# --------------------------------------------------------------------------------------------
# A row's contract verdict (uniqueness aside) depends on its own values only.
# --------------------------------------------------------------------------------------------


def _typed_spec() -> ProjectSpec:
    """Numeric x, integer n, boolean b, all nullable and unbounded; target y."""
    return parse_spec(
        {
            "name": "verdicts",
            "task": "regression",
            "target": "y",
            "source": {"path": "data.csv"},
            "columns": {
                "x": {"type": "numeric"},
                "n": {"type": "integer"},
                "b": {"type": "boolean"},
                "y": {"type": "numeric", "role": "target"},
            },
        }
    )


def _typed_table(rows: Sequence[tuple[str, str, str]]) -> pa.Table:
    columns = {name: [r[i] for r in rows] for i, name in enumerate("xnb")}
    return pa.table(columns | {"y": ["1"] * len(rows)})


def test_integer_with_a_leading_plus_is_valid() -> None:
    # Once an ArrowInvalid that failed the whole ingest: the regex took '+1', the cast did not.
    result = check_contract(_typed_table([("1", "+1", "true"), ("2", "+2.0", "y")]), _typed_spec())
    assert result.good.column("n").to_pylist() == [1, 2]


NUMBER_LIKE = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=False).map(repr),
    st.text(alphabet="0123456789.eE+-xnaift ", max_size=8),
    st.sampled_from(["1e999", "-1e999", "1" + "0" * 18, "9" * 19, "0x1F", "+1", "inf", "NA"]),
)


# Values whose verdict once changed with a neighbour that fails to parse (fixed in 2281ed5).
@example(rows=[("1e999", "1", "true"), ("abc", "1", "true")])
@example(rows=[("1", "1" + "0" * 18, "true"), ("1", "abc", "true")])
@example(rows=[("1", "0x1F", "true"), ("1", "abc", "true")])
@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(NUMBER_LIKE, NUMBER_LIKE, NUMBER_LIKE), min_size=2, max_size=6))
def test_contract_verdict_of_a_row_does_not_depend_on_other_rows(
    rows: list[tuple[str, str, str]],
) -> None:
    spec = _typed_spec()
    table = _typed_table(rows)
    together = check_contract(table, spec)
    for position in range(len(rows)):
        alone = check_contract(table.slice(position, 1), spec)
        reasons: list[Reason] = together.reasons.get(position, [])
        assert reasons == alone.reasons.get(0, []), rows[position]
