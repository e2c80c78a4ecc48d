"""Reading raw data: CSV and Parquet files, SQL tables and queries.

Every source yields a :class:`SourceBatch`: an Arrow table, the structural rejects (CSV only),
where each row came from, and the content hash that makes loads idempotent.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from tabops import storage
from tabops.data.csv_reader import (
    MULTILINE_HINT,
    QUOTING_REJECT,
    UNDECODABLE,
    CsvStream,
    EncodingError,
    StructuralReject,
    count_rows,
    open_csv,
    stream_csv,
    strip_bom,
)
from tabops.errors import DataError
from tabops.spec import CsvOptions, SourceSpec
from tabops.store.db import redact, sqlalchemy_url, validate_identifier
from tabops.values import header_names, unique_names

_MAX_DOWNLOAD_BYTES = 2 * 1024**3
#: Compressed formats by their first bytes (the names are PyArrow's codecs).
_COMPRESSED = [
    (re.compile(rb"\x1f\x8b"), "gzip"),
    (re.compile(rb"BZh[1-9]1AY&SY"), "bz2"),  # 'BZh' alone may start a CSV header
    (re.compile(rb"\x28\xb5\x2f\xfd"), "zstd"),
    (re.compile(rb"\x04\x22\x4d\x18"), "lz4"),
    (re.compile(rb"\xfd7zXZ\x00"), "xz"),
    (re.compile(rb"PK\x03\x04"), "zip"),
]
_READABLE = ("gzip", "bz2", "zstd", "lz4")
BATCH_ROWS = 131_072  # rows per batch when streaming an in-memory table


class SourceStream:
    """Raw rows as a stream of record batches, and where they came from.

    ``rejects`` and ``lines`` are complete once :meth:`batches` is exhausted.
    """

    def __init__(
        self,
        description: str,
        content_hash: str,
        table: pa.Table | None = None,
        csv: CsvStream | None = None,
    ) -> None:
        self.description = description
        self.content_hash = content_hash
        self._table, self._csv = table, csv

    @property
    def schema(self) -> pa.Schema:
        return self._csv.schema if self._csv is not None else self._table.schema  # type: ignore[union-attr]

    @property
    def expected_rows(self) -> int | None:
        """Records expected (a progress total)."""
        return self._csv.expected_rows if self._csv is not None else self._table.num_rows  # type: ignore[union-attr]

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self._csv is not None:
            return self._csv.batches()
        assert self._table is not None
        return iter(self._table.to_batches(max_chunksize=BATCH_ROWS))

    @property
    def rejects(self) -> list[StructuralReject]:
        return self._csv.rejects if self._csv is not None else []

    @property
    def lines(self) -> np.ndarray | None:
        return self._csv.lines if self._csv is not None else None


@dataclass
class SourceBatch:
    """One batch of raw rows and where they came from."""

    table: pa.Table
    content_hash: str
    description: str
    lines: np.ndarray | None = None  # CSV: the line each row starts on
    rejects: list[StructuralReject] = field(default_factory=list)
    #: Names the header repeats, with the names their later copies read as (``x`` -> ``x.1``);
    #: filled by :func:`read_every_record`.
    renamed: list[tuple[str, str]] = field(default_factory=list)


def read_bytes(location: str | Path) -> tuple[bytes, str]:
    """The bytes of a local file, an object (``s3://bucket/key``) or an http(s) URL, and a
    description for messages."""
    text = str(location)
    if storage.is_web(text):
        try:
            with urllib.request.urlopen(text, timeout=60) as response:
                data = response.read(_MAX_DOWNLOAD_BYTES + 1)
        except (OSError, ValueError) as exc:
            raise DataError(f"Cannot download {text}: {exc}. Check the URL.") from exc
        if len(data) > _MAX_DOWNLOAD_BYTES:
            raise DataError(f"{text} is larger than 2 GiB; download it and pass the file.")
        return data, text
    description, open_raw = _opener(text)
    try:
        with open_raw() as file:
            return file.read(), description
    except OSError as exc:
        raise _unreadable(description, None, exc) from exc


def local_file(location: str) -> Path:
    """The existing local file ``location`` names (a path or a file:// URL)."""
    path = Path(location.removeprefix("file://")).expanduser()
    if not path.exists():
        raise DataError(
            f"Data file {path} does not exist (looked in {path.resolve().parent}). Check the "
            "path given by --data or source.path in the spec."
        )
    if path.is_dir():
        raise DataError(f"{path} is a folder; name a CSV or Parquet file instead.")
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_file(location: str | Path, csv_options: CsvOptions | None = None) -> SourceBatch:
    """Read a CSV or Parquet file (by suffix) whole, into a :class:`SourceBatch`."""
    stream = open_file(location, csv_options)
    table = pa.Table.from_batches(list(stream.batches()), schema=stream.schema)
    return SourceBatch(
        table=table,
        content_hash=stream.content_hash,
        description=stream.description,
        lines=stream.lines,
        rejects=stream.rejects,
    )


#: Delimiters ``init`` recognises in a header read as one column.
_OTHER_DELIMITERS = (";", "\t", "|")
#: Single-byte encodings tried, in turn, on a file that is not UTF-8.
_SINGLE_BYTE = ("cp1252", "latin-1")
#: Lines failing UTF-8 per row holding UTF-8's non-ASCII characters above which a file is
#: taken for a single-byte encoding (mojibake makes a few valid-looking sequences).
_UTF8_EVIDENCE = 10


def read_every_record(
    location: str | Path,
    csv_options: CsvOptions,
    detect_delimiter: bool = False,
    detect_encoding: bool = False,
    detect_preamble: bool = False,
) -> tuple[SourceBatch, CsvOptions]:
    """Read a file whole for inference, which must see every record: when records break at a
    quote left open, the file is read again with quoted values spanning lines, and that read
    (and its options) is kept if it yields more rows. (Fewer rejects is no sign: a stray quote
    can join good lines into one record.) With ``detect_delimiter``, a CSV read as one column
    whose name holds ``;``, a tab or ``|`` is read again split at the commonest of them; with
    ``detect_encoding``, a file that is not UTF-8 is read in a single-byte encoding
    (:func:`_in_its_encoding`); with ``detect_preamble``, lines before the header (a title,
    notes) are skipped. Both are first read off the file's opening lines (:func:`_dialect`)."""
    opening = b"" if is_parquet(location) else _opening(location)
    if detect_delimiter or detect_preamble:
        found = _dialect(opening, csv_options, detect_delimiter)
        if detect_preamble:
            csv_options = found
        elif not csv_options.skip_rows and not found.skip_rows:  # the header on line 1
            csv_options = csv_options.model_copy(update={"delimiter": found.delimiter})
    if detect_encoding:
        batch, csv_options = _in_its_encoding(location, csv_options)
    else:
        batch = read_file(location, csv_options)
    if detect_delimiter and (other := _delimiter_in_header(batch.table)) is not None:
        csv_options = csv_options.model_copy(update={"delimiter": other})
        batch = read_file(location, csv_options)
    if any(r.reason.endswith(MULTILINE_HINT) for r in batch.rejects):
        multiline = csv_options.model_copy(update={"multiline_values": True})
        spanning = read_file(location, multiline)
        if spanning.table.num_rows > batch.table.num_rows:
            batch, csv_options = spanning, multiline
    tabs = csv_options.delimiter == "\t"
    if tabs and any(r.reason.startswith(QUOTING_REJECT) for r in batch.rejects):
        # A tab-separated file's values may hold a lone '"' (most such files quote nothing):
        # as text, the lines read whole. A CSV's quotes are its writer's, so they stay quotes.
        as_text = csv_options.model_copy(update={"quoting": False, "multiline_values": False})
        unquoted = read_file(location, as_text)
        if unquoted.table.num_rows > batch.table.num_rows:
            batch, csv_options = unquoted, as_text
    batch.renamed = _renamed(opening, csv_options)
    return batch, csv_options


def _renamed(opening: bytes, options: CsvOptions) -> list[tuple[str, str]]:
    """The header's repeated names and what their copies read as (see ``unique_names``)."""
    lines = strip_bom(opening).decode(options.encoding, errors="replace").split("\n")
    if len(lines) <= options.skip_rows:
        return []
    records = _records([lines[options.skip_rows].rstrip("\r")], options.delimiter)
    names = header_names(records[0][1]) if records else []
    return [(a, b) for a, b in zip(names, unique_names(names), strict=True) if a != b]


#: Lines looked at for a file's preamble, and the most a preamble may have.
_PREAMBLE_SAMPLE, _MAX_PREAMBLE = 60, 30
_OPENING_BYTES = 1 << 18


def _opening(location: str | Path) -> bytes:
    """The file's first bytes (decompressed), or none when they cannot be read (the read that
    follows says why) or a download is compressed."""
    try:
        if storage.is_web(str(location)):
            with urllib.request.urlopen(str(location), timeout=60) as response:
                head = bytes(response.read(_OPENING_BYTES))  # not the whole download
            return b"" if _codec(head, str(location)) is not None else head
        description, open_raw = _opener(str(location))
        with open_raw() as file:
            codec = _codec(file.read(16), description)
        with open_raw() as raw:
            file = raw if codec is None else pa.CompressedInputStream(raw, codec)
            return bytes(file.read(_OPENING_BYTES))
    except (OSError, ValueError, pa.ArrowInvalid, DataError):
        return b""


def _dialect(opening: bytes, options: CsvOptions, detect_delimiter: bool) -> CsvOptions:
    """``options`` with the delimiter (when ``detect_delimiter``) and ``skip_rows`` the file's
    first lines show. A first line as wide as most lines below it (two fields or more) is the
    header, at the first delimiter that makes it so (the given one first). Else the file may
    open with lines before its header: a title or notes, narrower than the data below them,
    then a line as wide as most of the data with a name in every field. (A header one field
    short of the data is R's row names.) Blank lines before the header are skipped."""
    lines = strip_bom(opening).decode("utf-8", errors="replace").split("\n")
    if len(opening) == _OPENING_BYTES:
        lines.pop()  # cut short
    lines = [line.rstrip("\r") for line in lines[:_PREAMBLE_SAMPLE]]
    # Blank lines before the header, as some exports write them: skipped whatever follows.
    blank = next((i for i, line in enumerate(lines) if line.strip()), 0)
    lines = lines[blank:]
    options = options.model_copy(update={"skip_rows": blank})
    delimiters = [options.delimiter]
    if detect_delimiter:
        delimiters += [d for d in (",", *_OTHER_DELIMITERS) if d != options.delimiter]
    records = {d: _records(lines, d) for d in delimiters}
    for delimiter in delimiters:
        rows = [fields for _, fields in records[delimiter]]
        width = _data_width(rows)
        if width >= 2 and rows and len(rows[0]) == width:
            return options.model_copy(update={"delimiter": delimiter})
    for delimiter in delimiters:
        if skip := _header_line(records[delimiter]):
            return options.model_copy(update={"skip_rows": blank + skip, "delimiter": delimiter})
    return options


def _records(lines: list[str], delimiter: str) -> list[tuple[int, list[str]]]:
    """The records of ``lines`` (a quoted value may span lines), each with its first line's
    position; none when a quote is left open."""
    reader = csv.reader(lines, delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    start = 0
    try:
        for fields in reader:
            records.append((start, fields))
            start = reader.line_num
    except csv.Error:
        return []
    return records


def _data_width(rows: list[list[str]]) -> int:
    """The commonest field count of the records after the first (blank ones aside)."""
    widths = Counter(len(row) for row in rows[1:] if any(f.strip() for f in row))
    return widths.most_common(1)[0][0] if widths else 0


def _header_line(records: list[tuple[int, list[str]]]) -> int:
    """The line of the header among the first ``records`` (0 when it is the first line, or
    unclear)."""
    width = _data_width([fields for _, fields in records])
    if width < 3 or len(records[0][1]) >= width - 1:
        return 0
    for line, fields in records:
        if line > _MAX_PREAMBLE:
            break
        if len(fields) == width:
            return line if all(f.strip() for f in fields) else 0
        if len(fields) >= width - 1:
            return 0
    return 0


def is_parquet(location: str | Path) -> bool:
    """Whether ``location`` names a Parquet file (by its suffix); anything else is read as CSV."""
    return str(location).lower().endswith((".parquet", ".pq"))


def _in_its_encoding(location: str | Path, options: CsvOptions) -> tuple[SourceBatch, CsvOptions]:
    """The file read as ``options`` say (UTF-8), unless its lines fail to decode far more often
    than they hold UTF-8's own characters (accents, emoji): a file written in a single-byte
    encoding then, read in Windows' Western one (cp1252), else latin-1, which reads any byte.
    A UTF-8 file with a few damaged lines stays UTF-8, its damaged lines rejected."""
    try:
        batch: SourceBatch | None = read_file(location, options)
    except EncodingError as exc:  # the header, or too many lines, do not decode
        batch, failed = None, exc
    if batch is not None:
        failing = sum(r.reason.startswith(UNDECODABLE) for r in batch.rejects)
        if failing <= _UTF8_EVIDENCE * _non_ascii_rows(batch.table):
            return batch, options
    for encoding in _SINGLE_BYTE:
        other = options.model_copy(update={"encoding": encoding})
        try:
            again = read_file(location, other)
        except EncodingError:
            continue
        if not any(r.reason.startswith(UNDECODABLE) for r in again.rejects):
            return again, other
    if batch is None:
        raise failed
    return batch, options


def _non_ascii_rows(table: pa.Table) -> int:
    """Rows with a character beyond ASCII in a text column (read as UTF-8: UTF-8's evidence)."""
    beyond = np.zeros(table.num_rows, dtype=bool)
    for column in table.columns:
        if pa.types.is_string(column.type):
            ascii_only = pc.fill_null(pc.string_is_ascii(column), True)
            beyond |= ~ascii_only.to_numpy()
    return int(beyond.sum())


def _delimiter_in_header(table: pa.Table) -> str | None:
    return _delimiter_in_names(table.column_names)


def _delimiter_in_names(names: Sequence[str]) -> str | None:
    """The delimiter that a header read as one column holds (its commonest), if any."""
    if len(names) != 1:
        return None
    counts = {d: names[0].count(d) for d in _OTHER_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def header_hint(names: Sequence[str], missing: Sequence[str], encoding: str) -> str:
    """Advice for a file whose header ``names`` lack ``missing`` columns of the spec because
    it was read with the wrong delimiter or encoding, else ''."""
    return _delimiter_hint(names) or _encoding_hint(names, missing, encoding)


def _delimiter_hint(names: Sequence[str]) -> str:
    """Advice for a file whose header read as one column holding another delimiter (a ';'
    file given where the spec reads ','), else ''."""
    found = _delimiter_in_names(names)
    if found is None:
        return ""
    shown = "\\t" if found == "\t" else found
    value = f'"{shown}"' if found == "\t" else shown  # YAML reads "\t" as a tab
    return (
        f" Its header reads as one column ('{names[0][:60]}'): its fields look separated by "
        f"'{shown}', not by the spec's source.csv.delimiter; pass --set "
        f"'source.csv.delimiter={value}' (or save the file as the training file was)."
    )


def _encoding_hint(names: Sequence[str], missing: Sequence[str], encoding: str) -> str:
    """Advice for a UTF-8 file read in the spec's single-byte encoding (cp1252, latin-1): its
    names with accents come out garbled ('Gare de dÃ©part'), so the columns seem missing.
    Else ''."""
    if codecs.lookup(encoding).name == "utf-8":
        return ""
    for name in names:
        try:
            meant = name.encode(encoding).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if meant != name and meant in missing:
            return (
                f" Its header reads '{name}' where the spec has '{meant}': the file looks "
                f"UTF-8 while the spec reads {encoding}; pass --set source.csv.encoding=utf-8 "
                "(or save the file as the training file was)."
            )
    return ""


def open_file(location: str | Path, csv_options: CsvOptions | None = None) -> SourceStream:
    """Open a CSV or Parquet file (by suffix) as a :class:`SourceStream`; a compressed CSV
    (gzip, bzip2, zstd, lz4) is read as the CSV inside it, its hash that of the CSV. A local
    or object storage CSV is read a block at a time (after a first pass for its hash and row
    count); a Parquet file or a download is read whole."""
    text = str(location)
    if not storage.is_web(text) and not is_parquet(text):
        description, open_raw = _opener(text)
        csv, digest = _csv_source(description, open_raw, csv_options or CsvOptions(), True)
        assert digest is not None
        return SourceStream(description, digest, csv=csv)
    data, description = read_bytes(location)
    data = _decompressed(data, description)
    if not data:
        raise DataError(f"{description} is empty; it needs a header line and at least one row.")
    if is_parquet(text):
        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{description} is not a readable Parquet file: {exc}.") from exc
        return SourceStream(description, sha256(data), table=table)
    csv_stream = open_csv(data, csv_options or CsvOptions(), description)
    return SourceStream(description, sha256(data), csv=csv_stream)


def _decompressed(data: bytes, description: str) -> bytes:
    """``data`` decompressed when its first bytes say it is compressed (not its suffix: a
    '.csv' may be gzipped and a '.gz' may not), else as it is."""
    codec = _codec(data, description)
    if codec is None:
        return data
    try:
        with pa.CompressedInputStream(pa.BufferReader(data), codec) as stream:
            return bytes(stream.read())
    except (pa.ArrowInvalid, OSError) as exc:
        raise _undecompressable(description, codec, exc) from exc


def _codec(head: bytes, description: str) -> str | None:
    """The compression a file's first bytes show (None: not compressed)."""
    codec = next((c for magic, c in _COMPRESSED if magic.match(head)), None)
    if codec is not None and codec not in _READABLE:
        raise DataError(
            f"{description} is a compressed file ({codec}), which tabops cannot read. "
            "Decompress it and pass the CSV inside, or compress it with gzip or zstd."
        )
    return codec


def _undecompressable(description: str, codec: str, exc: Exception) -> DataError:
    return DataError(
        f"{description} is a compressed file ({codec}) that cannot be decompressed: {exc}. "
        "Is it complete? Download or copy it again."
    )


def read_sql(url: str, table: str | None = None, query: str | None = None) -> SourceStream:
    """Read an SQL table or query through SQLAlchemy; the hash covers the rows read."""
    engine = _engine(url)
    if table is not None:
        validate_identifier(table)
        statement: sa.Executable = sa.select(sa.text("*")).select_from(sa.table(table))
        description = f"{redact(url)} table {table}"
    else:
        statement = sa.text(query or "")
        description = f"{redact(url)} query"
    try:
        with engine.connect() as conn:
            result = conn.execute(statement)
            columns = list(result.keys())
            rows = result.fetchall()
    except SQLAlchemyError as exc:
        raise _sql_error(exc, description) from exc
    finally:
        engine.dispose()
    arrow = pa.table({name: _sql_column([r[i] for r in rows]) for i, name in enumerate(columns)})
    sink = io.BytesIO()
    pq.write_table(arrow, sink)
    return SourceStream(description, sha256(sink.getvalue()), table=arrow)


def _engine(url: str) -> sa.Engine:
    try:
        return sa.create_engine(sqlalchemy_url(url))
    except (ArgumentError, SQLAlchemyError) as exc:
        raise DataError(f"source.url '{redact(url)}' is not usable: {exc}.") from exc
    except ImportError as exc:  # a dialect whose driver is not installed
        raise DataError(
            f"source.url '{redact(url)}': its database driver is not installed ({exc}). "
            "Install the driver, or use sqlite:///path/to/file.db or postgresql://..."
        ) from exc


def _sql_error(exc: SQLAlchemyError, description: str) -> DataError:
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    return DataError(
        f"Cannot read {description}: {reason}. Check source.url and source.table/query, "
        "and that the database is running."
    )


def _sql_column(values: list[object]) -> pa.Array:
    """One column of an SQL result with the driver's types; a column whose values Arrow cannot
    give one type without loss (SQLite stores any type anywhere: 2^62 + 1 beside 1.5, text in
    an integer column, ints past 64 bits) is kept as text, which the contract then parses as it
    parses CSV values."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


class RowStream:
    """Rows of a file or table in batches of at most ``chunk_rows``, read a batch at a time:
    memory is bounded whatever their size (a CSV file: by its block of lines, unless it is
    read whole; see :func:`~tabops.data.csv_reader.stream_csv`).

    ``rejects`` (structurally broken CSV records) is complete once :meth:`batches` is
    exhausted."""

    def __init__(
        self,
        description: str,
        columns: list[str],
        expected_rows: int | None,
        batches: Callable[[], Iterator[pa.RecordBatch]],
        rejects: Callable[[], list[StructuralReject]] = list,
    ) -> None:
        self.description, self.columns, self.expected_rows = description, columns, expected_rows
        self._batches, self._rejects = batches, rejects

    def batches(self) -> Iterator[pa.RecordBatch]:
        return self._batches()

    @property
    def rejects(self) -> list[StructuralReject]:
        return self._rejects()


def stream_file(location: str | Path, csv_options: CsvOptions | None, chunk_rows: int) -> RowStream:
    """A CSV or Parquet file (by suffix; CSV may be compressed) as a :class:`RowStream`: a
    local path, an object storage URL (``s3://bucket/key``, see :mod:`tabops.storage`), or
    an http(s) URL (downloaded whole)."""
    text = str(location)
    if storage.is_web(text):
        return _rows(open_file(text, csv_options), chunk_rows)
    description, open_raw = _opener(text)
    if is_parquet(text):
        return _parquet_rows(description, open_raw, chunk_rows)
    csv, _ = _csv_source(description, open_raw, csv_options or CsvOptions(), digest=False)
    return _rows(SourceStream(description, "", csv=csv), chunk_rows)


def _rows(source: SourceStream, chunk_rows: int) -> RowStream:
    """The rows of a CSV source, in chunks."""
    return RowStream(source.description, source.schema.names, source.expected_rows,
                     lambda: _rechunked(source.batches(), chunk_rows),
                     lambda: source.rejects)  # fmt: skip


def _parquet_rows(description: str, open_raw: Callable[[], BinaryIO], chunk_rows: int) -> RowStream:
    try:
        # pre_buffer off: on, the reader keeps the row groups it read (RSS grows with the
        # file: 1.2 GB after 3M rows x 52 columns, against 0.4 GB off).
        parquet = pq.ParquetFile(open_raw(), pre_buffer=False)
    except FileNotFoundError as exc:
        raise _unreadable(description, None, exc) from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{description} is not a readable Parquet file: {exc}.") from exc

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from parquet.iter_batches(batch_size=chunk_rows)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{description} is not a readable Parquet file: {exc}.") from exc

    rows = parquet.metadata.num_rows
    return RowStream(description, parquet.schema_arrow.names, rows, batches)


def _opener(location: str) -> tuple[str, Callable[[], BinaryIO]]:
    """How to name a local file or an object in messages, and how to open it for reading (as
    an Arrow file: reads release the GIL)."""
    if not storage.is_remote(location):
        local = str(local_file(location))
        return local, lambda: pa.OSFile(local)
    try:
        filesystem, path = storage.resolve(location)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise DataError(
            f"Cannot read {location}: {exc}. Use a local path, an object storage URL "
            "(s3://, gs://, hdfs://), an http(s) URL, or an SQL source."
        ) from exc
    return location, lambda: filesystem.open_input_file(path)


def _csv_source(
    description: str, open_raw: Callable[[], BinaryIO], options: CsvOptions, digest: bool
) -> tuple[CsvStream, str | None]:
    """A CSV file read a block at a time (a compressed one through its decompressor), and with
    ``digest`` the SHA-256 of its (decompressed) bytes. Its rows are counted first, in the
    digest's pass; without one, a compressed file's are not (a decompression more)."""
    try:
        with open_raw() as file:
            codec = _codec(file.read(16), description)
    except OSError as exc:
        raise _unreadable(description, None, exc) from exc

    def opened() -> BinaryIO:
        if codec is None:
            return open_raw()
        decompressed: BinaryIO = pa.CompressedInputStream(open_raw(), codec)
        return decompressed

    def unreadable(exc: Exception) -> DataError:
        return _unreadable(description, codec, exc)

    def verified() -> BinaryIO:  # the parse pass, held to the hash of the first pass
        assert expected is not None
        return cast(BinaryIO, _Verified(opened(), expected, description))

    expected = None
    try:
        if digest:
            hashed = hashlib.sha256()
            rows: int | None = count_rows(opened, hashed.update)
            expected = hashed.hexdigest()
        else:
            rows = count_rows(opened) if codec is None else None
        stream = stream_csv(verified if digest else opened, options, description, rows, unreadable)
    except (pa.ArrowInvalid, OSError) as exc:
        raise unreadable(exc) from exc
    return stream, expected


class _Verified:
    """A file read again after its hash was taken, whose bytes must hash the same: else it was
    rewritten between the two passes, and its rows would be recorded under a content they are
    not."""

    def __init__(self, file: BinaryIO, expected: str, description: str) -> None:
        self._file, self._expected, self._description = file, expected, description
        self._hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._file.read() if size < 0 else self._file.read(size)
        self._hash.update(data)
        if (not data or size < 0) and self._hash.hexdigest() != self._expected:
            raise DataError(
                f"{self._description} changed while it was being read: its bytes no longer "
                "match the hash taken at the start. Ingest it again once it is completely "
                "written (write to a temporary name, then rename)."
            )
        return data

    def __enter__(self) -> _Verified:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._file.close()


def _unreadable(description: str, codec: str | None, exc: Exception) -> DataError:
    if isinstance(exc, FileNotFoundError):
        return DataError(f"{description} does not exist. Check the path or URL.")
    if codec is not None:
        return _undecompressable(description, codec, exc)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return DataError(f"Cannot read {description}: {reason}.")


def _rechunked(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for start in range(0, batch.num_rows, rows):
            yield batch.slice(start, rows)


def stream_sql_table(url: str, table: str, chunk_rows: int) -> RowStream:
    """An SQL table as a :class:`RowStream`, fetched ``chunk_rows`` at a time through a
    server-side cursor (PostgreSQL), each column typed as :func:`read_sql` types it."""
    validate_identifier(table)
    source = sa.select(sa.text("*")).select_from(sa.table(table)).subquery()
    return _stream_select(url, source, f"{redact(url)} table {table}", chunk_rows)


def stream_sql_query(url: str, query: str, chunk_rows: int) -> RowStream:
    """The rows of an SQL query (the spec's ``source.query``), as :func:`stream_sql_table`."""
    source = sa.text(query).columns().subquery()
    return _stream_select(url, source, f"{redact(url)} query", chunk_rows)


def _stream_select(url: str, source: sa.Subquery, description: str, chunk_rows: int) -> RowStream:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            names = list(conn.execute(sa.select(sa.text("*")).select_from(source).limit(0)).keys())
            total = conn.execute(sa.select(sa.func.count()).select_from(source)).scalar_one()
    except SQLAlchemyError as exc:
        engine.dispose()
        raise _sql_error(exc, description) from exc

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            with engine.connect() as conn:
                streaming = conn.execution_options(yield_per=chunk_rows)
                result = streaming.execute(sa.select(sa.text("*")).select_from(source))
                for rows in result.partitions(chunk_rows):
                    yield pa.RecordBatch.from_arrays(
                        [_sql_column([r[i] for r in rows]) for i in range(len(names))], names
                    )
        except SQLAlchemyError as exc:
            raise _sql_error(exc, description) from exc
        finally:
            engine.dispose()

    return RowStream(description, names, int(total), batches)


def open_source(source: SourceSpec, root: Path) -> SourceStream:
    """Open the spec's source; relative paths are relative to ``root`` (the spec's folder)."""
    if source.kind == "sql":
        assert source.url is not None
        return read_sql(source.url, table=source.table, query=source.query)
    assert source.path is not None
    location: str | Path = source.path
    if not storage.is_remote(source.path):  # a URL of the web or of object storage
        location = Path(source.path).expanduser()
        if not location.is_absolute():
            location = root / location
    return open_file(location, source.csv)
