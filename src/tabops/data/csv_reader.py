"""Read a CSV file into an all-string Arrow table, rejecting structurally broken records.

Structural problems (wrong field count, bad quoting, bad encoding) are kept raw, with their
line number, and every good record keeps the line it started on, so that rows in =
rows out + rejected holds exactly and every reject can be found in the file.

Two paths give the same result:

* fast: the file decodes as UTF-8 and holds no quote character, so one physical line is one
  record; PyArrow's multi-threaded parser does the work.
* exact: anything else; Python's C ``csv`` module, one record at a time, strict about quotes.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from tabops.errors import DataError
from tabops.spec import CsvOptions

#: A quoted value may span at most this many lines in multiline mode before it counts as broken.
_MAX_RECORD_LINES = 1000
#: Give up on decoding (wrong encoding setting) once this many lines fail, instead of
#: rejecting the whole file line by line.
_MAX_BAD_ENCODING_LINES = 1000
_UNCLOSED = "bad quoting: a quoted value is never closed"


@dataclass(frozen=True)
class StructuralReject:
    """A record that could not be split into the header's columns."""

    line: int
    raw: str
    reason: str


@dataclass
class CsvRead:
    """The outcome of reading one CSV file."""

    table: pa.Table
    lines: np.ndarray  # the line each row of ``table`` starts on (1-based)
    rejects: list[StructuralReject] = field(default_factory=list)


def read_csv(data: bytes, options: CsvOptions, name: str) -> CsvRead:
    """Split CSV bytes into an all-string table and structural rejects.

    Args:
        data: The file's bytes.
        options: Delimiter, encoding and quoting settings from the spec.
        name: The file's name, for error messages.

    Raises:
        DataError: the file is empty, has no usable header, or is not in the configured encoding.
    """
    quote = b'"'
    fast = options.encoding.lower().replace("_", "-") in ("utf-8", "utf8") and quote not in data
    if fast:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            fast = False
    result = _read_fast(data, options, name) if fast else _read_exact(data, options, name)
    if result.table.num_columns == 0:
        raise DataError(f"{name} has no header line; the first line must name the columns.")
    return result


def _header(first_line: str, options: CsvOptions, name: str) -> list[str]:
    try:
        columns = next(csv.reader([first_line], delimiter=options.delimiter, strict=True))
    except (csv.Error, StopIteration) as exc:
        raise DataError(f"{name}: the header line cannot be parsed ({exc}).") from exc
    columns = [c.strip() for c in columns]
    duplicated = sorted(c for c, n in Counter(columns).items() if n > 1)
    if duplicated:
        raise DataError(f"{name}: the header names these columns more than once: {duplicated}.")
    if any(not c for c in columns):
        raise DataError(f"{name}: the header has an empty column name; name every column.")
    return columns


def _line_bounds(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of every physical line (end excludes the newline)."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    if starts[-1] == len(data):  # file ends with a newline: no trailing line
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def _read_fast(data: bytes, options: CsvOptions, name: str) -> CsvRead:
    starts, ends = _line_bounds(data)
    if len(starts) == 0:
        raise DataError(f"{name} is empty; it needs a header line and at least one row.")
    header_text = data[starts[0] : ends[0]].decode("utf-8").rstrip("\r")
    columns = _header(header_text, options, name)

    bad_texts: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad_texts.append(row.text)
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=columns, skip_rows=1),
        parse_options=pacsv.ParseOptions(
            delimiter=options.delimiter, quote_char=False, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        ),
    )
    # PyArrow skips empty lines; a line holding only '\r' is empty too.
    lengths = ends - starts
    last_byte = np.frombuffer(data, dtype=np.uint8)[np.maximum(ends - 1, 0)]
    blank = (lengths == 0) | ((lengths == 1) & (last_byte == 13))
    record_lines = np.flatnonzero(~blank[1:]) + 2  # 1-based, after the header
    rejected_lines = _locate_lines(data, starts, ends, bad_texts)
    good_lines = np.setdiff1d(record_lines, rejected_lines, assume_unique=True)
    if len(good_lines) != table.num_rows:  # never expected; the exact path is the reference
        return _read_exact(data, options, name)
    rejects = [
        StructuralReject(
            line=int(line),
            raw=text,
            reason=f"expected {len(columns)} fields, found {text.count(options.delimiter) + 1}",
        )
        for line, text in zip(
            rejected_lines.tolist(), _texts_at(data, starts, ends, rejected_lines), strict=True
        )
    ]
    return CsvRead(table=table, lines=good_lines, rejects=rejects)


def _locate_lines(
    data: bytes, starts: np.ndarray, ends: np.ndarray, texts: list[str]
) -> np.ndarray:
    """Line numbers of the physical lines whose text is one of ``texts`` (each occurrence)."""
    found: list[int] = []
    for text in set(texts):
        needle = text.encode("utf-8")
        position = data.find(needle)
        while position != -1:
            line = int(np.searchsorted(starts, position, side="right")) - 1
            line_text = data[starts[line] : ends[line]].rstrip(b"\r")
            if starts[line] == position and line_text == needle and line > 0:
                found.append(line + 1)
            position = data.find(needle, position + 1)
    return np.array(sorted(found), dtype=np.int64)


def _texts_at(data: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray) -> list[str]:
    return [data[starts[n - 1] : ends[n - 1]].decode("utf-8").rstrip("\r") for n in lines.tolist()]


def _decode_lines(data: bytes, options: CsvOptions, name: str) -> tuple[list[str], list[int]]:
    """The decoded lines (undecodable ones with escapes) and the numbers of the bad lines."""
    try:
        return data.decode(options.encoding).split("\n"), []
    except LookupError as exc:
        raise DataError(
            f"source.csv.encoding '{options.encoding}' is not a known encoding "
            "(try utf-8, latin-1 or cp1252)."
        ) from exc
    except UnicodeDecodeError:
        pass
    lines: list[str] = []
    bad: list[int] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode(options.encoding))
        except UnicodeDecodeError:
            bad.append(number)
            lines.append(raw.decode(options.encoding, errors="backslashreplace"))
            if len(bad) > _MAX_BAD_ENCODING_LINES:
                raise DataError(
                    f"{name} is not {options.encoding}: more than {_MAX_BAD_ENCODING_LINES} "
                    "lines fail to decode. Set source.csv.encoding to the file's encoding "
                    "(for example latin-1 or cp1252)."
                ) from None
    return lines, bad


def _read_exact(data: bytes, options: CsvOptions, name: str) -> CsvRead:
    lines, bad_encoding = _decode_lines(data, options, name)
    bad_lines = set(bad_encoding)
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if not lines or not lines[0]:
        raise DataError(f"{name} is empty; it needs a header line and at least one row.")
    if 1 in bad_lines:
        raise DataError(f"{name}: the header line is not valid {options.encoding}.")
    columns = _header(lines[0], options, name)
    width = len(columns)
    delimiter = options.delimiter

    rows: list[list[str]] = []
    row_lines: list[int] = []
    rejects: list[StructuralReject] = []
    index = 1
    while index < len(lines):
        line_no = index + 1
        text = lines[index]
        index += 1
        if not text:
            continue
        if line_no in bad_lines:
            rejects.append(StructuralReject(line_no, text, f"not valid {options.encoding}"))
            continue
        if '"' not in text:
            fields = text.split(delimiter)
        else:
            parsed = _parse_quoted(lines, index - 1, options, bad_lines)
            if isinstance(parsed, str):
                rejects.append(StructuralReject(line_no, text, parsed))
                continue
            fields, used = parsed
            if used > 1 and len(fields) != width:
                # An unclosed quote swallowed the following lines: reject only this line.
                rejects.append(StructuralReject(line_no, text, _UNCLOSED))
                continue
            index += used - 1
        if len(fields) != width:
            rejects.append(
                StructuralReject(line_no, text, f"expected {width} fields, found {len(fields)}")
            )
            continue
        rows.append(fields)
        row_lines.append(line_no)

    table = pa.table(
        {
            col: pa.array(values, type=pa.string())
            for col, values in zip(columns, _transpose(rows, width), strict=True)
        }
    )
    return CsvRead(table=table, lines=np.array(row_lines, dtype=np.int64), rejects=rejects)


def _transpose(rows: list[list[str]], width: int) -> list[list[str]]:
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def _parse_quoted(
    lines: list[str], start: int, options: CsvOptions, bad_lines: set[int]
) -> tuple[list[str], int] | str:
    """Parse the record starting at ``lines[start]``: its fields and how many lines it used,
    or the reason it is broken."""
    limit = _MAX_RECORD_LINES if options.multiline_values else 1
    text = lines[start]
    for used in range(1, limit + 1):
        try:
            fields = next(csv.reader([text], delimiter=options.delimiter, strict=True))
            return fields, used
        except csv.Error as exc:
            reason = str(exc)
            next_index = start + used
            unterminated = reason == "unexpected end of data"
            if not unterminated or next_index >= len(lines) or next_index + 1 in bad_lines:
                break
            text = text + "\n" + lines[next_index]
    if reason == "unexpected end of data" or used > 1:
        if options.multiline_values:
            return _UNCLOSED
        return _UNCLOSED + " (set source.csv.multiline_values: true if values span lines)"
    return f"bad quoting: {reason}"
