"""Compressed CSV files are read as the CSV inside them: same rows, lines, rejects and hash."""

from __future__ import annotations

import bz2
import functools
import hashlib
import http.server
import io
import lzma
import threading
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabops.data.csv_reader import read_csv
from tabops.data.sources import header_hint, open_file, read_every_record, read_file
from tabops.errors import DataError
from tabops.spec import CsvOptions

LINES = st.one_of(
    st.from_regex(r"[a-z0-9 ]{0,4},[a-z0-9 ]{0,4}", fullmatch=True),  # a good record
    st.sampled_from(["1,2,3", "x", '"open,1', "", "é,ü"]),  # wrong width, bad quote, blank
)


def _compress(data: bytes, codec: str) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, codec) as stream:
        stream.write(data)
    return bytes(sink.getvalue())


@given(
    lines=st.lists(LINES, max_size=12),
    codec=st.sampled_from(["gzip", "bz2", "zstd", "lz4"]),
    suffix=st.sampled_from([".csv.gz", ".csv", ".gz", ".tsv.zst"]),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_compressed_csv_reads_as_the_plain_file(
    tmp_path: Path, lines: list[str], codec: str, suffix: str
) -> None:
    data = ("a,b\n" + "\n".join(lines) + "\n").encode()
    (tmp_path / "plain.csv").write_bytes(data)
    (tmp_path / f"packed{suffix}").write_bytes(_compress(data, codec))
    plain = read_file(tmp_path / "plain.csv")
    packed = read_file(tmp_path / f"packed{suffix}")
    assert packed.table.equals(plain.table)
    assert packed.lines.tolist() == plain.lines.tolist()  # type: ignore[union-attr]
    assert packed.rejects == plain.rejects  # with the lines of the plain file
    assert packed.content_hash == plain.content_hash  # one content, loaded once
    # The hash of the file's bytes, as when the file was read whole: ledgers stay valid.
    assert plain.content_hash == hashlib.sha256(data).hexdigest()


def test_python_compressors_are_read_too(tmp_path: Path) -> None:
    data = b"a,b\n1,2\n"
    (tmp_path / "t.csv.bz2").write_bytes(bz2.compress(data))
    assert read_file(tmp_path / "t.csv.bz2").table.to_pylist() == [{"a": "1", "b": "2"}]


def test_a_header_starting_like_bzip2_is_plain_text(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes(b"BZh9,b\n1,2\n")
    assert read_file(tmp_path / "t.csv").table.column_names == ["BZh9", "b"]


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("t.csv", data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lzma.compress(b"a,b\n1,2\n"), "is a compressed file (xz), which tabops cannot read"),
        (_zip(b"a,b\n1,2\n"), "is a compressed file (zip), which tabops cannot read"),
        (_compress(b"a,b\n" * 5000, "gzip")[:-40], "is a compressed file (gzip) that cannot be"),
    ],
)
def test_unreadable_compressed_files_say_so(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "t.csv.x").write_bytes(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_file(tmp_path / "t.csv.x")


@pytest.mark.parametrize(
    ("text", "multiline", "rows"),
    [
        ('a,b\n1,"two\nlines"\n3,4\n"x\ny",5\n', True, 3),  # values spanning lines
        ('a,b\n1,2\n3,"oops\n5,6\n7,8\n9,x"\n11,12\n', False, 5),  # a stray quote, not one
        ("a,b\n1,2\n", False, 1),
    ],
)
def test_init_reads_quoted_values_spanning_lines_only_when_the_file_has_them(
    tmp_path: Path, text: str, multiline: bool, rows: int
) -> None:
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    batch, options = read_every_record(tmp_path / "t.csv", CsvOptions())
    assert (options.multiline_values, batch.table.num_rows) == (multiline, rows)


@pytest.mark.parametrize(
    ("text", "detect", "delimiter", "columns"),
    [
        ("a;b;c\n1;2,5;x\n", True, ";", ["a", "b", "c"]),
        ("a\tb|c\tq\n1\t2\t3\n", True, "\t", ["a", "b|c", "q"]),
        ("a|b\n1|2\n", True, "|", ["a", "b"]),
        ("a;b,c\n1;2,3\n", True, ",", ["a;b", "c"]),  # splits at ',': kept
        ("only\n1\n", True, ",", ["only"]),  # one column, no other delimiter in its name
        ("a;b\n1;2\n", False, ",", ["a;b"]),  # --delimiter given: never second-guessed
    ],
)
def test_init_finds_the_delimiter_when_the_header_reads_as_one_column(
    tmp_path: Path, text: str, detect: bool, delimiter: str, columns: list[str]
) -> None:
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    batch, options = read_every_record(tmp_path / "t.csv", CsvOptions(), detect_delimiter=detect)
    assert (options.delimiter, batch.table.column_names) == (delimiter, columns)


@pytest.mark.parametrize(
    ("lines", "encoding"),
    [
        (["Málaga;1", "Zürich;2", "Cádiz;3"], "cp1252"),  # written on Windows
        (["Málaga;1", "Zürich;\x8f2", "Cádiz;3"], "latin-1"),  # a byte cp1252 lacks
    ],
)
def test_init_reads_a_file_that_is_not_utf8_in_a_single_byte_encoding(
    tmp_path: Path, lines: list[str], encoding: str
) -> None:
    text = "city;n\n" + "\n".join(lines * 20) + "\n"
    (tmp_path / "t.csv").write_bytes(text.encode("latin-1"))
    batch, options = read_every_record(
        tmp_path / "t.csv", CsvOptions(delimiter=";"), detect_encoding=True
    )
    assert options.encoding == encoding and not batch.rejects
    assert batch.table.column("city").to_pylist()[:3] == ["Málaga", "Zürich", "Cádiz"]
    kept, same = read_every_record(tmp_path / "t.csv", CsvOptions(delimiter=";"))
    assert same.encoding == "utf-8" and len(kept.rejects) == 60  # not asked to detect


def test_a_utf8_file_with_a_few_damaged_lines_stays_utf8(tmp_path: Path) -> None:
    good = "".join(f"Málaga {i};{i}\n" for i in range(30)).encode("utf-8")
    (tmp_path / "t.csv").write_bytes(b"city;n\n" + good + "Cádiz;3\n".encode("latin-1"))
    batch, options = read_every_record(
        tmp_path / "t.csv", CsvOptions(delimiter=";"), detect_encoding=True
    )
    assert options.encoding == "utf-8"
    assert [r.reason for r in batch.rejects] == ["not valid utf-8"]
    assert batch.table.column("city").to_pylist()[0] == "Málaga 0"


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_a_file_rewritten_between_its_hash_and_its_rows_is_refused(
    tmp_path: Path, suffix: str
) -> None:
    def write(text: str) -> None:
        data = text.encode()
        path.write_bytes(_compress(data, "gzip") if suffix.endswith(".gz") else data)

    path = tmp_path / f"data{suffix}"
    write("a,b\n1,2\n3,4\n")
    unchanged = open_file(path)
    assert sum(b.num_rows for b in unchanged.batches()) == 2
    assert unchanged.content_hash == hashlib.sha256(b"a,b\n1,2\n3,4\n").hexdigest()

    stream = open_file(path)  # hashed and counted
    write("a,b\n1,2\n3,5\n")  # then rewritten before its rows are read
    with pytest.raises(DataError, match="changed while it was being read"):
        list(stream.batches())


PREAMBLE = st.lists(
    st.sampled_from(['"Data Source","World Development Indicators",', "", "Sales report",
                     "Last updated: 2024-01-01", "#  notes"]),
    min_size=1, max_size=5,
)  # fmt: skip


@given(
    preamble=PREAMBLE,
    lines=st.lists(LINES, max_size=12),
    codec=st.sampled_from([None, "gzip"]),
    encoding=st.sampled_from(["utf-8", "latin-1"]),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_lines_before_the_header_are_skipped_and_every_line_keeps_its_number(
    tmp_path: Path, preamble: list[str], lines: list[str], codec: str | None, encoding: str
) -> None:
    body = "\n".join(["name,value", *lines]) + "\n"
    whole = "\n".join([*preamble, body])
    path = tmp_path / "t.csv"
    plain = read_csv(body.encode(encoding), CsvOptions(encoding=encoding), "t.csv")
    written = whole.encode(encoding)
    path.write_bytes(written if codec is None else _compress(written, codec))
    options = CsvOptions(encoding=encoding, skip_rows=len(preamble))
    for read in (read_file(path, options), read_csv(written, options, "t.csv")):
        assert read.table.equals(plain.table)
        assert read.lines.tolist() == [line + len(preamble) for line in plain.lines.tolist()]
        assert [(r.line - len(preamble), r.raw, r.reason) for r in read.rejects] == [
            (r.line, r.raw, r.reason) for r in plain.rejects
        ]


@pytest.mark.parametrize(
    ("text", "skip", "delimiter"),
    [
        ("Sales report\nregion,x,y,label\nA,1,2,yes\nB,2,3,no\n", 1, ","),
        ('"Data Source","WDI",\n\n"Updated","2024",\n\nc,code,1960,1961,1962\n'
         "Aruba,ABW,1,2,3\nChad,TCD,4,5,6\n", 4, ","),  # the World Bank's downloads
        ("Report\n\nregion;x;y;label\nA;1;2;yes\nB;2;3;no\n", 2, ";"),
        ("\nregion,x,y,label\nA,1,2,yes\n", 1, ","),  # a blank first line
        ("\n \nx;label\n1;yes\n2;no\n", 2, ";"),  # blank lines before two columns
        ("\n\nlabel\nyes\nno\n", 2, ","),  # or one
        ("\nTitle\n\nregion,x,y,label\nA,1,2,yes\nB,2,3,no\n", 3, ","),  # and a title
        ("a,b,c\n1,5.1,3.5,x\n2,4.9,3.0,y\n", 0, ","),  # R's row names: a header one short
        (",a,b,c\n1,5.1,3.5,x\n2,4.9,3.0,y\n", 0, ","),  # a blank first name: row names
        ("a,b,c,d\n1,5.1,3.5,x\n2,4.9,3.0,y\n", 0, ","),  # an ordinary file
        ("Datum;Temp;Regen;Klasse\n01.01.2020;17,3;2,5;warm\n02.01.2020;14,0;4,1;kalt\n", 0,
         ";"),  # decimal commas: the rows split at ',' too, the header only at ';'
        ('"acidity";"sugar";"pH"\n7;0,27;3,1\n6,3;0,3;3,3\n', 0, ";"),  # a quoted header
        ('id,note,label\n' + '1,"a,b,c,d,e\nf,g,h,i,j\nk,l,m,n,o\np,q,r,s,t",x\n' * 2, 0,
         ","),  # values spanning lines, full of commas: wider lines than the header
    ],
)  # fmt: skip
def test_init_finds_the_lines_before_the_header(
    tmp_path: Path, text: str, skip: int, delimiter: str
) -> None:
    (tmp_path / "t.csv").write_text(text, encoding="utf-8")
    batch, options = read_every_record(
        tmp_path / "t.csv", CsvOptions(), detect_delimiter=True, detect_preamble=True
    )
    assert (options.skip_rows, options.delimiter) == (skip, delimiter)
    if skip:
        header = text.split("\n")[skip]
        assert batch.table.column_names == header.split(delimiter)
        assert batch.lines[0] == skip + 2 and batch.rejects == []


def test_skipping_more_lines_than_the_file_has_says_so(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("title\na,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"t\.csv has 3 line\(s\), not the 5 .*skip_rows"):
        read_file(tmp_path / "t.csv", CsvOptions(skip_rows=5))


def test_init_reads_the_first_lines_of_a_download_for_its_dialect(tmp_path: Path) -> None:
    text = '"Data Source","WDI",\n\n"Updated","2024",\n\nc;code;1960;1961\nAruba;ABW;1;2\n'
    (tmp_path / "wb.csv").write_text(text, encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/wb.csv"
        batch, options = read_every_record(
            url, CsvOptions(), detect_delimiter=True, detect_preamble=True
        )
    finally:
        server.shutdown()
    assert (options.skip_rows, options.delimiter) == (4, ";")
    assert batch.table.column_names == ["c", "code", "1960", "1961"]


def test_init_names_the_columns_the_header_repeats(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("Report\nid,score,age,score\n1,2,30,4\n", encoding="utf-8")
    batch, options = read_every_record(tmp_path / "t.csv", CsvOptions(), detect_preamble=True)
    assert options.skip_rows == 1  # the header below a title
    assert batch.table.column_names == ["id", "score", "age", "score.1"]
    assert batch.renamed == [("score", "score.1")]


def test_init_reads_quotes_as_text_when_they_break_lines_that_read_whole_without_them(
    tmp_path: Path,
) -> None:
    lines = ["label\ttext", *(f"ham\tmessage {i}" for i in range(40))]
    lines[7] = 'spam\t"FREE" entry, text "WIN to 8007'
    lines[20] = 'ham\the said "ok'
    (tmp_path / "t.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    batch, options = read_every_record(tmp_path / "t.tsv", CsvOptions(), detect_delimiter=True)
    assert (options.delimiter, options.quoting) == ("\t", False)
    assert batch.table.num_rows == 40 and batch.rejects == []
    assert batch.table.column("text")[6].as_py() == '"FREE" entry, text "WIN to 8007'
    quoted = tmp_path / "q.tsv"  # quotes that hold tabs do their job: they stay quotes
    quoted.write_text('a\tb\n1\t"x\ty"\n2\t"z ""w"""\n3\t"unclosed\n', encoding="utf-8")
    batch, options = read_every_record(quoted, CsvOptions(delimiter="\t"))
    assert options.quoting and batch.table.column("b").to_pylist() == ["x\ty", 'z "w"']


def test_a_header_read_in_the_wrong_encoding_or_delimiter_is_explained() -> None:
    wanted = ["Gare de départ", "Durée"]
    garbled = [n.encode("utf-8").decode("cp1252") for n in wanted]  # a UTF-8 file read as cp1252
    hint = header_hint(garbled, wanted, "cp1252")
    assert "reads 'Gare de dÃ©part' where the spec has 'Gare de départ'" in hint
    assert "--set source.csv.encoding=utf-8" in hint
    assert header_hint(["Gare de départ"], ["Durée"], "cp1252") == ""  # just a missing column
    assert header_hint(garbled, wanted, "utf-8") == ""
    assert "separated by ';'" in header_hint(["Gare;Durée"], wanted, "cp1252")
