"""Read a CSV file into an all-string Arrow table, rejecting structurally broken records.

Structural problems (wrong field count, bad quoting, bad encoding) are kept raw, with their
line number, and every good record keeps the line it started on, so that rows in =
rows out + rejected holds exactly and every reject can be found in the file.

Two paths give the same result:

* fast: PyArrow's streaming, multi-threaded parser, taken block by block (a few megabytes of
  whole lines) while the block decodes as UTF-8 (or, in a single-byte encoding such as
  latin-1, is converted to it) and its quotes show that one physical line is one record (see
  :func:`_as_utf8` and :func:`_fast_path_possible`);
* exact: anything else, from the first block the fast path cannot take to the end of the file;
  Python's C ``csv`` module, one record at a time, strict about quotes.

:func:`stream_csv` reads a file a block at a time, so a large file's memory is bounded by the
block size while the fast path holds.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import sys
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tabops.errors import DataError
from tabops.spec import CsvOptions
from tabops.values import header_names, unique_names

#: A quoted value may span at most this many lines in multiline mode before it counts as broken.
_MAX_RECORD_LINES = 1000
#: Give up on decoding (wrong encoding setting) once this many lines fail, instead of
#: rejecting the whole file line by line.
_MAX_BAD_ENCODING_LINES = 1000
#: Starts the reason of a reject whose quotes break the line (source.csv.quoting may help).
QUOTING_REJECT = "bad quoting: "
_UNCLOSED = QUOTING_REJECT + "a quoted value is never closed"
#: Starts the reason of a reject whose line does not decode in the file's encoding.
UNDECODABLE = "not valid "
#: Ends the reason of a reject that may be a value spanning lines (multiline_values is off).
MULTILINE_HINT = " (set source.csv.multiline_values: true if values span lines)"
_BLOCK_SIZE = 4 << 20  # bytes PyArrow parses per batch: small enough to start COPY early
#: Bytes of whole lines checked and parsed at a time: what a streamed CSV holds in memory.
_READ_SIZE = 32 << 20
_BATCH_ROWS = 131_072  # rows per batch from the exact path


@dataclass(frozen=True)
class StructuralReject:
    """A record that could not be split into the header's columns."""

    line: int
    raw: str
    reason: str


@dataclass
class CsvRead:
    """A whole CSV file read into memory."""

    table: pa.Table
    lines: np.ndarray  # the line each row of ``table`` starts on (1-based)
    rejects: list[StructuralReject] = field(default_factory=list)


class CsvStream:
    """A CSV file as a stream of all-string record batches.

    ``rejects`` and ``lines`` are complete once :meth:`batches` is exhausted.
    """

    def __init__(self, columns: list[str], expected_rows: int | None) -> None:
        self.columns = columns
        self.expected_rows = expected_rows  # data lines (None: not counted): a progress total
        self.rejects: list[StructuralReject] = []
        self.lines: np.ndarray = np.array([], dtype=np.int64)

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(c, pa.string()) for c in self.columns])

    def batches(self) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError


def open_csv(data: bytes, options: CsvOptions, name: str) -> CsvStream:
    """Start reading CSV bytes as a stream of all-string batches.

    Args:
        data: The file's bytes.
        options: Delimiter, encoding and quoting settings from the spec.
        name: The file's name, for error messages.

    Raises:
        DataError: the file is empty, has no usable header, or is not in the configured encoding.
    """
    data = strip_bom(data)
    if not data or data.isspace():  # (strip() would copy the whole file)
        raise _empty(name)
    if skip := options.skip_rows:
        body = data[_after_lines(data, skip, name) :]
        return _after_preamble(open_csv(body, _no_skip(options), name), skip)
    header = data.split(b"\n", 1)[0]
    utf8_header = _as_utf8(header, options)
    if utf8_header is None:
        return _without_blank_columns(_ExactStream(_read_exact(data, options, name)), options, name)
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)

    def blocks() -> Iterator[bytes]:
        body = io.BytesIO(data)  # shares the bytes of ``data``
        body.seek(len(header) + 1)
        return _line_blocks(body.read)

    stream = _FastStream(header, utf8_header, blocks, options, name, max(lines - 1, 0))
    return _without_blank_columns(stream, options, name)


def stream_csv(
    open_binary: Callable[[], BinaryIO],
    options: CsvOptions,
    name: str,
    expected_rows: int | None,
    read_error: Callable[[Exception], Exception],
) -> CsvStream:
    """Read a CSV file as :func:`open_csv` does, holding one block of lines at a time instead
    of the whole file. ``open_binary`` opens the file (or the text inside a compressed one) at
    its start, once per pass over it; ``expected_rows``: see :func:`count_rows`; an error
    reading the file while its batches stream (OSError, ArrowInvalid) is raised as
    ``read_error(exc)``. A file the fast path cannot take from its first line (a multi-byte
    encoding other than UTF-8, values spanning lines) is read whole."""
    skip = options.skip_rows
    with open_binary() as file:
        opening = _first_lines(file, skip + 1)  # the lines before the header, and the header
        if not strip_bom(opening).strip():
            start = opening + file.read(1 << 16)
            if len(start) < len(opening) + (1 << 16) and not strip_bom(start).strip():
                raise _empty(name)  # blank to its end: an export that failed
    header = strip_bom(opening[_after_lines(opening, skip, name) :]).removesuffix(b"\n")
    utf8_header = _as_utf8(header, options)
    if utf8_header is None:
        with open_binary() as file:
            return open_csv(file.read(), options, name)

    def blocks() -> Iterator[bytes]:
        try:
            with open_binary() as file:
                file.read(len(opening))
                yield from _line_blocks(file.read)
        except (OSError, pa.ArrowInvalid) as exc:
            raise read_error(exc) from exc

    rows = None if expected_rows is None else max(expected_rows - skip, 0)
    stream = _FastStream(header, utf8_header, blocks, _no_skip(options), name, rows)
    return _after_preamble(_without_blank_columns(stream, options, name), skip)


def _first_lines(file: BinaryIO, count: int) -> bytes:
    """The file's first ``count`` lines with their newlines (the whole file when it has fewer)."""
    read, end = b"", 0
    while count:
        found = read.find(b"\n", end)
        if found == -1:
            more = file.read(1 << 16)
            if not more:
                return read
            read += more
            continue
        end, count = found + 1, count - 1
    return read[:end]


def _after_lines(data: bytes, count: int, name: str) -> int:
    """Where the line after the first ``count`` lines of ``data`` starts."""
    end = 0
    for line in range(count):
        found = data.find(b"\n", end)
        if found == -1:
            raise DataError(
                f"{name} has {line + bool(data[end:])} line(s), not the {count} that "
                f"source.csv.skip_rows skips before the header; lower it (0: the header is the "
                "first line)."
            )
        end = found + 1
    return end


def _no_skip(options: CsvOptions) -> CsvOptions:
    return options.model_copy(update={"skip_rows": 0}) if options.skip_rows else options


def _after_preamble(stream: CsvStream, skipped: int) -> CsvStream:
    return _Renumbered(stream, skipped) if skipped else stream


class _Renumbered(CsvStream):
    """The stream of a file's lines after its first ``skipped`` (a title, notes), whose rows
    and rejects keep their line numbers in the whole file."""

    def __init__(self, inner: CsvStream, skipped: int) -> None:
        super().__init__(inner.columns, inner.expected_rows)
        self._inner, self._skipped = inner, skipped

    def batches(self) -> Iterator[pa.RecordBatch]:
        yield from self._inner.batches()
        self.lines = self._inner.lines + self._skipped
        self.rejects = [replace(r, line=r.line + self._skipped) for r in self._inner.rejects]


#: The reason of a reject with a value in a column the header does not name.
_VALUE_UNNAMED = "a value after the header's last name"


def _without_blank_columns(stream: CsvStream, options: CsvOptions, name: str) -> CsvStream:
    blank = [c for c in stream.columns if c.startswith(_UNNAMED)]
    return _BlankColumnsDropped(stream, blank, options.delimiter, name) if blank else stream


class _BlankColumnsDropped(CsvStream):
    """The stream without the columns after the header's last name (``a,b,c,,``: empty
    columns a spreadsheet exported). A row with a value in one is a structural reject, as a
    row with too many fields is; when every row of the first batch has one, the header is
    short of names or is not the file's first line (a title above it), and reading stops."""

    def __init__(self, inner: CsvStream, blank: list[str], delimiter: str, name: str) -> None:
        named = [c for c in inner.columns if c not in blank]
        super().__init__(named, inner.expected_rows)
        self._inner, self._blank, self._delimiter, self._name = inner, blank, delimiter, name

    def batches(self) -> Iterator[pa.RecordBatch]:
        offset, refused = 0, []  # the refused rows' positions in the stream, and their text
        for batch in self._inner.batches():
            filled = np.zeros(batch.num_rows, dtype=bool)
            for column in self._blank:
                values = pc.utf8_trim_whitespace(batch.column(column))
                filled |= pc.not_equal(values, "").to_numpy(zero_copy_only=False)
            if filled.any():
                if offset == 0 and filled.all():
                    raise self._unnamed(batch)
                positions = np.flatnonzero(filled)
                texts = batch.take(positions).to_pylist()
                refused += [(offset + int(p), self._delimiter.join(row.values()))
                            for p, row in zip(positions, texts, strict=True)]  # fmt: skip
                batch = batch.filter(pa.array(~filled))
            offset += len(filled)
            yield batch.select(self.columns)
        lines = self._inner.lines
        self.lines = np.delete(lines, [position for position, _ in refused])
        found = [StructuralReject(int(lines[p]), text, _VALUE_UNNAMED) for p, text in refused]
        self.rejects = sorted([*self._inner.rejects, *found], key=lambda r: r.line)

    def _unnamed(self, batch: pa.RecordBatch) -> DataError:
        values = {c: [v for v in batch.column(c).to_pylist() if v.strip()] for c in self._blank}
        column, found = next((c, v) for c, v in values.items() if v)
        value = found[0]
        return DataError(
            f"{self._name}: the header names no column {column.removeprefix(_UNNAMED)}, yet "
            f"its rows hold values there (such as {value!r}). Name every column in the header. "
            "If the file opens with lines before its header (a title, notes), skip them: "
            "`tabops init --skip-rows N`, or source.csv.skip_rows in tabops.yaml."
        )


def count_rows(
    open_binary: Callable[[], BinaryIO], feed: Callable[[bytes], object] | None = None
) -> int:
    """The lines after the header, as :func:`open_csv` counts them (a progress total), in one
    pass over the file that also hands its bytes to ``feed`` (a hash's ``update``)."""
    lines, last = 0, b"\n"
    with open_binary() as file:
        while chunk := file.read(_READ_SIZE):
            lines, last = lines + chunk.count(b"\n"), chunk[-1:]
            if feed is not None:
                feed(chunk)
    return max(lines + (0 if last == b"\n" else 1) - 1, 0)


def _line_blocks(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """What ``read`` gives, in blocks of whole lines of about ``_READ_SIZE`` bytes: each ends
    with a newline, but for the file's last line."""
    carry = b""
    while chunk := read(_READ_SIZE):
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        carry = data[cut:]
    if carry:
        yield carry


def read_csv(data: bytes, options: CsvOptions, name: str) -> CsvRead:
    """Read CSV bytes whole: an all-string table, each row's line, and structural rejects."""
    stream = open_csv(data, options, name)
    table = pa.Table.from_batches(list(stream.batches()), schema=stream.schema)
    return CsvRead(table=table, lines=stream.lines, rejects=stream.rejects)


def strip_bom(data: bytes) -> bytes:
    """``data`` without a leading UTF-8 byte-order mark. Spreadsheet programs write one; left
    in, it becomes part of the first column's name ('\\ufeffStatus'), which then matches
    neither the spec nor a later file saved without it. No real text starts with these bytes."""
    return data.removeprefix(codecs.BOM_UTF8)


def _header(first_line: str, options: CsvOptions, name: str) -> list[str]:
    if "\r" in first_line.rstrip("\r"):
        raise DataError(
            f"{name} ends its lines with a carriage return alone (as classic Mac OS wrote "
            "files), so it reads as one line. Convert the line endings, e.g. "
            f"tr '\\r' '\\n' < {name} > fixed.csv, and use the converted file."
        )
    try:
        lines = [first_line]
        if options.quoting:
            fields = next(csv.reader(lines, delimiter=options.delimiter, strict=True))
        else:
            fields = next(csv.reader(lines, delimiter=options.delimiter, quoting=csv.QUOTE_NONE))
    except (csv.Error, StopIteration) as exc:
        raise DataError(
            f"{name}: the header line cannot be parsed at {options.delimiter!r} ({exc}). If "
            "its fields are separated by another character, pass it: `tabops init "
            "--delimiter ';'`, or source.csv.delimiter in tabops.yaml."
        ) from exc
    columns = header_names(fields)
    if "" in columns or not columns:
        unnamed = [str(i + 1) for i, c in enumerate(columns) if not c] or ["1"]
        where = f"column{'s' if len(unnamed) > 1 else ''} {', '.join(unnamed)}"
        raise DataError(
            f"{name}: the header has no name for {where}; name every column. If the file opens "
            "with lines before its header (a title, notes), skip them: `tabops init "
            "--skip-rows N`, or source.csv.skip_rows in tabops.yaml."
        )
    blank = [f"{_UNNAMED}{i + 1}" for i in range(len(columns), len(fields))]
    return unique_names(columns) + blank


#: What the reader calls the header's blank fields after its last name until it drops them
#: (see ``_BlankColumnsDropped``); no name read from a file holds a NUL.
_UNNAMED = "\0unnamed column "


def _empty(name: str) -> DataError:
    return DataError(f"{name} is empty; it needs a header line and at least one row.")


def _blank_header(name: str) -> DataError:
    return DataError(
        f"{name}: the header line is blank. Skip the blank lines before the header: "
        "`tabops init` finds them, or set source.csv.skip_rows in tabops.yaml."
    )


def _line_bounds(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of every physical line (end excludes the newline)."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    if starts[-1] == len(data):  # file ends with a newline: no trailing line
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def _as_utf8(data: bytes, options: CsvOptions) -> bytes | None:
    """``data`` as UTF-8 for the fast path: as it is (UTF-8), or decoded from a single-byte
    encoding (latin-1, cp1252, …) and encoded again, every line break where it was. None:
    the fast path cannot take it (values spanning lines, another encoding, bytes that do not
    decode)."""
    if options.multiline_values:
        return None
    encoding = options.encoding.lower().replace("_", "-")
    try:
        if encoding in ("utf-8", "utf8"):
            if not data.isascii():  # ASCII is valid UTF-8; otherwise decode to find out
                data.decode("utf-8")
            return data
        if _single_byte(encoding):
            return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError:
        pass
    return None


@functools.cache
def _single_byte(encoding: str) -> bool:
    """Whether ``encoding`` reads every byte as one character by a table, ASCII as ASCII
    (latin-1, cp1252, koi8-r, …; not a stateful or escaping codec): a block of lines then
    decodes on its own, its line breaks where they were."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        return False
    module = sys.modules.get(getattr(info.decode, "__module__", None) or "")
    if info.name not in ("iso8859-1", "ascii") and not hasattr(module, "decoding_table"):
        return False
    text = bytes(range(256)).decode(info.name, errors="replace")
    return len(text) == 256 and text[:128] == "".join(map(chr, range(128)))


def _fast_path_possible(data: bytes, options: CsvOptions) -> bool:
    """Whether PyArrow and ``csv`` read these bytes (valid UTF-8: what :func:`_as_utf8` gives)
    alike, one physical line per record: no lone carriage return, quotes only at field
    boundaries, an even number per line."""
    if options.multiline_values:
        return False
    raw = np.frombuffer(data, dtype=np.uint8)
    last = len(raw) - 1
    if b"\r" in data:
        returns = np.flatnonzero(raw == 13)
        if not (raw[np.minimum(returns + 1, last)] == 10).all() or returns[-1] == last:
            return False
    header_end = data.find(b"\n") + 1  # the header is parsed on its own, with csv
    if not options.quoting or header_end == 0 or data.find(b'"', header_end) == -1:
        return True
    quotes = np.flatnonzero(raw == ord('"'))
    # An odd count on a line means a quoted value runs on to the next line: every line end
    # (and the data's end) must have an even number of quotes before it.
    if len(quotes) % 2 or (np.searchsorted(quotes, np.flatnonzero(raw == 10)) % 2).any():
        return False
    # Walk the quotes as runs of consecutive '"'. An even number of quotes before a quote on
    # its line (so in the data: every line holds an even number) means it is outside a quoted
    # value. A run that starts outside opens a value and must follow a delimiter or the line
    # start; a run that ends outside closes one and must precede a delimiter or the line end.
    # Anything else ('""a', 'a"b', 'b","') is read differently by PyArrow and csv, so it goes
    # to the exact path.
    even = np.arange(len(quotes)) % 2 == 0
    gaps = np.diff(quotes) != 1
    run_start = np.concatenate(([True], gaps))
    run_end = np.concatenate((gaps, [True]))
    opening = quotes[run_start & even]
    closing = quotes[run_end & ~even]
    delimiter = ord(options.delimiter)
    before = np.where(opening > 0, raw[np.maximum(opening - 1, 0)], 10)
    after = np.where(closing < last, raw[np.minimum(closing + 1, last)], 10)
    return bool(
        np.isin(before, [delimiter, 10]).all() and np.isin(after, [delimiter, 10, 13]).all()
    )


#: A block's batches, then the line of each of its rows and its structural rejects, numbered
#: as if the block followed the header on line 2.
_BlockRead = Generator[pa.RecordBatch, None, tuple[np.ndarray, list[StructuralReject]]]


class _FastStream(CsvStream):
    """PyArrow's streaming, multi-threaded parser over blocks of whole lines, each block's
    lines mapped once it is parsed. From the first block whose lines PyArrow and ``csv`` would
    read differently (see :func:`_fast_path_possible`), the rest goes to the exact path."""

    def __init__(
        self,
        header: bytes,
        utf8_header: bytes,
        blocks: Callable[[], Iterator[bytes]],
        options: CsvOptions,
        name: str,
        expected_rows: int | None,
    ) -> None:
        """``utf8_header``: ``header`` as :func:`_as_utf8` gives it (a file whose header it
        cannot give is read by the exact path)."""
        text = utf8_header.decode("utf-8")
        if not text.strip():
            raise _blank_header(name)
        super().__init__(_header(text.rstrip("\r"), options, name), expected_rows)
        self._header, self._blocks, self._options, self._name = header, blocks, options, name
        self._utf8_header = utf8_header
        #: The line from which the exact path read the file (None: the fast path read it all).
        self.exact_from: int | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        lines: list[np.ndarray] = []
        rejects: list[StructuralReject] = []
        first = 2  # the line the block starts on
        blocks = self._blocks()
        for block in blocks:
            utf8 = _as_utf8(block, self._options)
            framed = b"" if utf8 is None else self._utf8_header + b"\n" + utf8  # a file of its own
            if utf8 is not None and _fast_path_possible(framed, self._options):
                read = self._fast(framed)
            else:  # the rest of the file, as it is written
                self.exact_from = first
                read = self._exact(b"".join([self._header, b"\n", block, *blocks]))
            found, refused = yield from read
            lines.append(found + (first - 2))
            rejects += [replace(r, line=r.line + first - 2) for r in refused]
            first += block.count(b"\n")
        self.lines = np.concatenate(lines) if lines else np.array([], dtype=np.int64)
        self.rejects = rejects

    def _fast(self, data: bytes) -> _BlockRead:
        found: dict[str, int] = {}  # text of a bad row -> how many fields it has

        def on_invalid(row: pacsv.InvalidRow) -> str:
            found[row.text] = row.actual_columns
            return "skip"

        reader = pacsv.open_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(
                column_names=self.columns, skip_rows=1, block_size=_BLOCK_SIZE
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=self._options.delimiter,
                quote_char='"' if self._options.quoting else False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(self.columns, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
        rows = 0
        for batch in reader:
            rows += batch.num_rows
            yield batch
        return _mapped_lines(data, rows, found, len(self.columns))

    def _exact(self, data: bytes) -> _BlockRead:
        read = _read_exact(data, self._options, self._name)
        yield from read.table.to_batches(max_chunksize=_BATCH_ROWS)
        return read.lines, read.rejects


def _mapped_lines(
    data: bytes, rows: int, found: dict[str, int], width: int
) -> tuple[np.ndarray, list[StructuralReject]]:
    """The line of each of PyArrow's ``rows`` rows of ``data`` (header on line 1) and the
    records it skipped (``found``: their text and field count), located by their text."""
    # PyArrow skips blank lines: with a row on every line after the header, row k is on line
    # k + 2 (the common case).
    if not found and rows == data.count(b"\n") - data.endswith(b"\n"):
        return np.arange(2, rows + 2, dtype=np.int64), []
    starts, ends = _line_bounds(data)
    # PyArrow skips empty lines; a line holding only '\r' is empty too.
    lengths = ends - starts
    last_byte = np.frombuffer(data, dtype=np.uint8)[np.maximum(ends - 1, 0)]
    blank = (lengths == 0) | ((lengths == 1) & (last_byte == 13))
    record_lines = np.flatnonzero(~blank[1:]) + 2  # 1-based, after the header
    rejected = _locate_lines(data, starts, list(found))
    lines = np.setdiff1d(record_lines, rejected, assume_unique=True)
    if len(lines) != rows:  # the fast-path checks rule this out
        raise RuntimeError(f"CSV line mapping failed: {len(lines)} lines, {rows} rows")
    texts = _texts_at(data, starts, ends, rejected)
    rejects = [
        StructuralReject(int(line), text, f"expected {width} fields, found {found[text]}")
        for line, text in zip(rejected.tolist(), texts, strict=True)
    ]
    return lines, rejects


class _ExactStream(CsvStream):
    """The exact reader's result, handed out in batches."""

    def __init__(self, read: CsvRead) -> None:
        super().__init__(read.table.column_names, read.table.num_rows + len(read.rejects))
        self._read = read
        self.rejects, self.lines = read.rejects, read.lines

    def batches(self) -> Iterator[pa.RecordBatch]:
        yield from self._read.table.to_batches(max_chunksize=_BATCH_ROWS)


def _locate_lines(data: bytes, starts: np.ndarray, texts: list[str]) -> np.ndarray:
    """Line numbers of the data lines whose whole text is one of ``texts`` (every occurrence)."""
    found: set[int] = set()
    for text in texts:
        for ending in (b"\n", b"\r\n"):
            needle = b"\n" + text.rstrip("\r").encode("utf-8") + ending
            for position in _occurrences(data + b"\n", needle):
                found.add(int(np.searchsorted(starts, position + 1)) + 1)
    return np.array(sorted(found), dtype=np.int64)


def _occurrences(data: bytes, needle: bytes) -> Iterator[int]:
    position = data.find(needle)
    while position != -1:
        yield position
        position = data.find(needle, position + 1)


def _texts_at(data: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray) -> list[str]:
    return [data[starts[n - 1] : ends[n - 1]].decode("utf-8").rstrip("\r") for n in lines.tolist()]


def _decode_lines(data: bytes, options: CsvOptions, name: str) -> tuple[list[str], list[int]]:
    """The decoded lines (undecodable ones with escapes) and the numbers of the bad lines."""
    try:  # the spec has checked that Python knows the codec
        return _decode(data, options, name)
    except UnicodeError as exc:  # not a decoding error: a codec unfit for text, e.g. punycode
        raise DataError(
            f"source.csv.encoding '{options.encoding}' cannot decode {name} ({exc}); set it to "
            "the file's text encoding, for example utf-8, latin-1 or cp1252."
        ) from exc


class EncodingError(DataError):
    """The file is not in the encoding it is read in (its header, or too many lines)."""


def _decode(data: bytes, options: CsvOptions, name: str) -> tuple[list[str], list[int]]:
    try:
        return data.decode(options.encoding).split("\n"), []
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
                raise EncodingError(
                    f"{name} is not {options.encoding}: more than {_MAX_BAD_ENCODING_LINES} "
                    "lines fail to decode. Set source.csv.encoding to the file's encoding "
                    "(for example latin-1 or cp1252)."
                ) from None
    return lines, bad


def _encoding_hint(line: bytes) -> str:
    """Which common encoding reads ``line`` as text, as a suggestion."""
    for encoding, where in (("utf-8", "UTF-8"), ("cp1252", "Windows, Western Europe")):
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            continue
        return f" (it reads as {encoding}: {where})"
    return " (latin-1 reads any byte, often rightly: most files from Western Europe)"


def _read_exact(data: bytes, options: CsvOptions, name: str) -> CsvRead:
    lines, bad_encoding = _decode_lines(data, options, name)
    bad_lines = set(bad_encoding)
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if not any(line.strip() for line in lines):
        raise _empty(name)
    if not lines[0].strip():
        raise _blank_header(name)
    if 1 in bad_lines:
        hint = _encoding_hint(data.split(b"\n", 1)[0])
        raise EncodingError(
            f"{name}: the header line is not valid {options.encoding}. Give the file's text "
            f"encoding: --encoding on 'tabops init', source.csv.encoding in tabops.yaml{hint}."
        )
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
            rejects.append(StructuralReject(line_no, text, UNDECODABLE + options.encoding))
            continue
        if '"' not in text or not options.quoting:
            fields = text.split(delimiter)
        else:
            parsed = _parse_quoted(lines, index - 1, options, bad_lines)
            if isinstance(parsed, str):
                rejects.append(StructuralReject(line_no, text, parsed))
                continue
            fields, used = parsed
            index += used - 1
            if used > 1 and len(fields) != width:
                # One record over several lines, kept whole: re-reading its continuation lines
                # as records would load fragments of it as rows.
                last = line_no + used - 1
                rejects.append(
                    StructuralReject(
                        line_no,
                        "\n".join(lines[line_no - 1 : last]),
                        f"expected {width} fields, found {len(fields)} in one record over lines "
                        f"{line_no}-{last} (is a quote left open?)",
                    )
                )
                continue
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
        return _UNCLOSED + MULTILINE_HINT
    return f"{QUOTING_REJECT}{reason}"
