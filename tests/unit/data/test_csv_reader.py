from __future__ import annotations

import codecs
import encodings
import pkgutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.data.csv_reader import _FastStream, _read_exact, open_csv, read_csv
from tabops.errors import DataError
from tabops.spec import CsvOptions

OPTIONS = CsvOptions()


def _both(
    data: bytes, options: CsvOptions = OPTIONS
) -> tuple[list[dict[str, str]], list[int], list[tuple[int, str]]]:
    """Read with the chosen path and the exact path; they must agree."""
    read = read_csv(data, options, "t.csv")
    exact = _read_exact(data, options, "t.csv")
    assert read.table.equals(exact.table)
    assert read.lines.tolist() == exact.lines.tolist()
    assert read.rejects == exact.rejects
    return read.table.to_pylist(), read.lines.tolist(), [(r.line, r.reason) for r in read.rejects]


def test_wrong_field_counts_are_rejected_with_line_numbers() -> None:
    data = b"a,b,c\n1,2,3\n4,5\n\n6,7,8,9\n10,11,12\n"
    assert isinstance(open_csv(data, OPTIONS, "t.csv"), _FastStream)
    rows, lines, rejects = _both(data)
    assert rows == [{"a": "1", "b": "2", "c": "3"}, {"a": "10", "b": "11", "c": "12"}]
    assert lines == [2, 6]  # the blank line 4 is skipped but counted
    assert rejects == [(3, "expected 3 fields, found 2"), (5, "expected 3 fields, found 4")]


def test_repeated_bad_lines_are_each_located() -> None:
    _, lines, rejects = _both(b"a,b\n1,2\n9\n3,4\n9\n")
    assert lines == [2, 4]
    assert [line for line, _ in rejects] == [3, 5]


def test_quoted_fields_with_delimiters_and_escaped_quotes() -> None:
    data = b'"a","b"\n"x,y","say ""hi"""\r\n"1",2\n'
    assert isinstance(open_csv(data, OPTIONS, "t.csv"), _FastStream)
    rows, lines, _ = _both(data)
    assert rows == [{"a": "x,y", "b": 'say "hi"'}, {"a": "1", "b": "2"}]
    assert lines == [2, 3]


def test_unclosed_quote_damages_only_its_line() -> None:
    rows, lines, rejects = _both(b'a,b,c\n1,2,3\n"abc,1,2\n4,5,6\n')
    assert rows == [{"a": "1", "b": "2", "c": "3"}, {"a": "4", "b": "5", "c": "6"}]
    assert lines == [2, 4]
    assert rejects[0][0] == 3 and rejects[0][1].startswith("bad quoting: a quoted value is never")


def test_text_after_closing_quote_is_bad_quoting() -> None:
    _, lines, rejects = _both(b'a,b\n"ab"c,1\n2,3\n')
    assert lines == [3]
    assert rejects == [(2, "bad quoting: ',' expected after '\"'")]


def test_invalid_utf8_line_is_rejected_raw() -> None:
    read = read_csv(b"a,b\n1,2\n\xff\xfe,3\n4,5\n", OPTIONS, "t.csv")
    assert read.lines.tolist() == [2, 4]
    assert len(read.rejects) == 1
    reject = read.rejects[0]
    assert reject.line == 3 and reject.reason == "not valid utf-8"
    assert reject.raw == "\\xff\\xfe,3"  # kept, with the bad bytes visible


def test_multiline_values_when_enabled() -> None:
    data = b'a,b\n"line one\nline two",1\n2,3\n'
    options = CsvOptions(multiline_values=True)
    rows, lines, rejects = _both(data, options)
    assert rows == [{"a": "line one\nline two", "b": "1"}, {"a": "2", "b": "3"}]
    assert lines == [2, 4] and rejects == []
    # Off by default: the broken first line is rejected, the rest survives.
    rows, _, rejects = _both(data)
    assert [r[0] for r in rejects] == [2]
    assert rows[-1] == {"a": "2", "b": "3"}


def test_other_encodings_and_delimiters() -> None:
    data = "name;city\nJosé;Málaga\n".encode("latin-1")
    rows, _, _ = _both(data, CsvOptions(delimiter=";", encoding="latin-1"))
    assert rows == [{"name": "José", "city": "Málaga"}]


def test_a_stream_reads_its_rows_again_on_a_second_pass() -> None:
    stream = open_csv(b"a,b\n1,2\n\n3,4,5\n6,7\n", OPTIONS, "t.csv")
    for _ in range(2):
        assert [r for b in stream.batches() for r in b.to_pylist()] == [
            {"a": "1", "b": "2"},
            {"a": "6", "b": "7"},
        ]
        assert stream.lines.tolist() == [2, 5] and [r.line for r in stream.rejects] == [4]


def test_a_single_byte_encoding_takes_the_fast_path_until_a_byte_it_does_not_define() -> None:
    options = CsvOptions(encoding="cp1252")
    good = 'a,b\n€1,"x, y"\nç,2\n'.encode("cp1252")
    stream = open_csv(good, options, "t.csv")
    rows = [r for b in stream.batches() for r in b.to_pylist()]
    assert rows == [{"a": "€1", "b": "x, y"}, {"a": "ç", "b": "2"}]
    assert isinstance(stream, _FastStream) and stream.exact_from is None
    undefined = good + b"\x81,3\n4,5\n"  # 0x81: no character in cp1252
    stream = open_csv(undefined, options, "t.csv")
    assert [r["a"] for b in stream.batches() for r in b.to_pylist()] == ["€1", "ç", "4"]
    assert isinstance(stream, _FastStream) and stream.exact_from == 2  # one block: all of it
    assert [(r.line, r.reason) for r in stream.rejects] == [(4, "not valid cp1252")]
    multi_byte = open_csv("a\n日本\n".encode("shift_jis"), CsvOptions(encoding="shift_jis"), "t")
    assert not isinstance(multi_byte, _FastStream)


def test_wrong_encoding_setting_fails_with_advice() -> None:
    data = b"a\n" + b"\xff\n" * 1200
    with pytest.raises(DataError, match=r"Set source\.csv\.encoding"):
        read_csv(data, OPTIONS, "t.csv")
    # A German header from a Windows spreadsheet: the message names the encoding that reads it.
    with pytest.raises(DataError, match=r"--encoding on 'tabops init'.*reads as cp1252"):
        read_csv("Trinkgeld;Größe\n1,5;2\n".encode("cp1252"), OPTIONS, "tips.csv")


def test_lines_ended_by_a_carriage_return_alone_are_named_with_the_fix() -> None:
    with pytest.raises(DataError, match=r"carriage return alone.*tr '\\r' '\\n' < fhv\.csv"):
        read_csv(b"a,b\r1,2\r3,4\r", OPTIONS, "fhv.csv")
    rows, _, rejects = _both(b"a,b\r\n1,2\r\n", OPTIONS)  # Windows' line ends read as ever
    assert rows == [{"a": "1", "b": "2"}] and not rejects


def _codec(name: str) -> bool:
    """A text codec: the spec refuses others (mbcs off Windows, base64_codec)."""
    try:
        return bool(getattr(codecs.lookup(name), "_is_text_encoding", True))
    except LookupError:
        return False


ENCODINGS = sorted(m.name for m in pkgutil.iter_modules(encodings.__path__) if _codec(m.name))


@given(encoding=st.sampled_from(ENCODINGS), data=st.binary(max_size=40))
def test_any_encoding_setting_reads_or_fails_with_a_data_error(encoding: str, data: bytes) -> None:
    """Every codec Python has (punycode, undefined, rot_13, ...): rows or a DataError naming
    the setting, never another exception."""
    try:
        read_csv(b"a,b\n" + data, CsvOptions(encoding=encoding), "t.csv")
    except DataError as exc:
        assert "encoding" in str(exc) or "t.csv" in str(exc)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"a,,c\n1,2,3\n", "no name for column 2; name every column. If the file"),
        (b"a,,c,\n1,2,3,4\n", "no name for column 2; name every column. If the file"),
        (b",,\n1,2,3\n", "no name for column 1; name every column. If the file"),
        (b",a,\n0,1,2\n", "names no column 3, yet its rows hold values there \\(such as '2'\\)"),
        (b"Title,,\nx,y,z\n1,2,3\n", "names no column 2, .*'y'.*--skip-rows N"),
        (b"\n\na,b\n1,2\n", "the header line is blank. Skip the blank lines"),
        (b"\n \n\n", "is empty; it needs a header line"),
        (b",rownames\n0,1\n", "no name for column 1; name every column. If the file"),
        (b'"a";"b"\n1;2\n', "header line cannot be parsed at ','.*--delimiter ';'"),
    ],
)
def test_bad_headers(data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_csv(data, OPTIONS, "t.csv")


@pytest.mark.parametrize(
    ("header", "names"),
    [
        ("a,a", ["a", "a.1"]),
        ("a,b,a, a ,b", ["a", "b", "a.1", "a.2", "b.1"]),
        ("a,a,a.1", ["a", "a.2", "a.1"]),  # a number no column has
    ],
)
def test_a_name_repeated_in_the_header_is_numbered_as_pandas_numbers_it(
    header: str, names: list[str]
) -> None:
    data = f"{header}\n{','.join(map(str, range(len(names))))}\n".encode()
    rows, _, rejects = _both(data)
    assert list(rows[0]) == names and rejects == []


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le"])  # the fast path, the exact one
def test_empty_columns_after_the_last_name_are_dropped(encoding: str) -> None:
    # Spreadsheets export empty columns past the data as trailing delimiters.
    data = "a,b,,\n1,2,,\n3,4, ,\n5,6\n".encode(encoding)
    read = read_csv(data, CsvOptions(encoding=encoding), "t.csv")
    assert read.table.column_names == ["a", "b"]
    assert read.table.to_pylist() == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert [(r.line, r.reason) for r in read.rejects] == [(4, "expected 4 fields, found 2")]
    noted = read_csv(
        data + "7,8,,note\n9,10,,\n".encode(encoding), CsvOptions(encoding=encoding), "t"
    )
    assert noted.table.column("a").to_pylist() == ["1", "3", "9"]
    assert noted.lines.tolist() == [2, 3, 6]
    assert [(r.line, r.raw, r.reason) for r in noted.rejects] == [
        (4, "5,6", "expected 4 fields, found 2"),
        (5, "7,8,,note", "a value after the header's last name"),
    ]


def test_quotes_read_as_text_when_quoting_is_off() -> None:
    # A tab-separated file of messages, some holding a lone quote: every line reads whole.
    data = b'label\ttext\nham\tsay "hi\nspam\t"free" stuff "now\nham\t"a\tb"\n'
    _, _, rejects = _both(data, CsvOptions(delimiter="\t"))
    assert [line for line, _ in rejects] == [3]  # line 4's quotes hold a tab
    rows, lines, rejects = _both(data, CsvOptions(delimiter="\t", quoting=False))
    assert [r["text"] for r in rows] == ['say "hi', '"free" stuff "now']
    assert lines == [2, 3] and rejects == [(4, "expected 2 fields, found 3")]


def test_byte_order_marks_inside_the_header_are_no_part_of_a_name() -> None:
    # Files joined end to end carry the second one's mark inside a line.
    read = read_csv(b"id;\xef\xbb\xbfPeriod;value\n1;2020;5\n", CsvOptions(delimiter=";"), "t")
    assert read.table.column_names == ["id", "Period", "value"]


@pytest.mark.parametrize("data", [b",a,b\n0,1,2\n1,3,4\n", b'"","a","b"\n"x",1,2\n"y",3,4\n'])
def test_a_blank_first_header_names_the_row_names_written_by_r_and_pandas(data: bytes) -> None:
    read = read_csv(data, OPTIONS, "t.csv")
    assert read.table.column_names == ["rownames", "a", "b"]
    assert read.table.num_rows == 2


FIELDS = st.one_of(
    st.text(alphabet='ab1 ,"é', max_size=6).map(lambda v: '"' + v.replace('"', '""') + '"'),
    st.text(alphabet="ab1 é", max_size=6),
)


@given(
    rows=st.lists(st.lists(FIELDS, min_size=2, max_size=3), max_size=6),
    multiline=st.booleans(),
    encoding=st.sampled_from(["utf-8", "UTF8", "latin-1", "cp1252"]),
)
@settings(max_examples=150, deadline=None)
def test_a_utf8_byte_order_mark_is_not_part_of_the_header(
    rows: list[list[str]], multiline: bool, encoding: str
) -> None:
    # Rows of two or three fields under a two-column header: some are wrong on purpose.
    text = "Status,x\n" + "".join(",".join(row) + "\n" for row in rows)
    data = text.encode("utf-8" if encoding.lower().startswith("utf") else encoding)
    options = CsvOptions(multiline_values=multiline, encoding=encoding)
    plain = read_csv(data, options, "t.csv")
    with_bom = read_csv(b"\xef\xbb\xbf" + data, options, "t.csv")
    assert with_bom.table.column_names == ["Status", "x"]
    assert with_bom.table.equals(plain.table)
    assert with_bom.lines.tolist() == plain.lines.tolist()
    assert with_bom.rejects == plain.rejects
