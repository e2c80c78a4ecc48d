"""The storage layer: locations are local paths or URLs, joined and resolved the same way."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from tabops import storage


@pytest.mark.parametrize(
    ("location", "remote"),
    [("s3://bucket/x", True), ("gs://b", True), ("/srv/tabops", False), ("relative/x", False),
     ("file:///srv/x", False), ("C:/odd/path", False)],
)  # fmt: skip
def test_urls_are_remote_and_paths_are_local(location: str, remote: bool) -> None:
    assert storage.is_remote(location) is remote


@pytest.mark.parametrize(
    ("location", "file"),
    [("s3://bucket/x.csv", True), ("https://host/x.csv", True), ("data/x.csv", True),
     ("file:///srv/x.csv", True), ("HDFS://nn/x", True), ("postgresql://db/crm", False),
     ("sqlite:///t.db", False), ("mysql+pymysql://db/x", False)],
)  # fmt: skip
def test_file_urls_are_told_from_database_urls(location: str, file: bool) -> None:
    assert storage.is_file_url(location) is file
    assert storage.is_web(location) is location.startswith("https://")


def test_an_unknown_url_scheme_is_a_clear_data_error() -> None:
    from tabops.data.sources import read_file
    from tabops.errors import DataError

    with pytest.raises(DataError, match=r"Cannot read ftp://host/x\.csv: .*Use a local path"):
        read_file("ftp://host/x.csv")


def test_join_keeps_urls_as_urls_and_paths_as_paths() -> None:
    assert storage.join("s3://bucket/prefix/", "snapshots", "a.parquet") == (
        "s3://bucket/prefix/snapshots/a.parquet"
    )
    assert (
        storage.join("/srv/tabops", "snapshots", "a.parquet") == "/srv/tabops/snapshots/a.parquet"
    )


def test_an_s3_url_resolves_to_its_bucket_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    filesystem, path = storage.resolve("s3://bucket/prefix/a.parquet")
    assert isinstance(filesystem, pafs.S3FileSystem) and path == "bucket/prefix/a.parquet"


def test_local_files_round_trip(tmp_path: Path) -> None:
    location = str(tmp_path / "t.parquet")
    assert not storage.exists(location)
    storage.write_bytes(str(tmp_path / "b.txt"), b"abc")
    assert (tmp_path / "b.txt").read_bytes() == b"abc"
    pq.write_table(pa.table({"x": [1, 2]}), location)
    assert storage.exists(location) and storage.read_parquet(location).num_rows == 2


def test_a_folder_is_copied_file_by_file_and_never_onto_itself(tmp_path: Path) -> None:
    report = tmp_path / "report"
    (report / "sub").mkdir(parents=True)
    (report / "report.html").write_text("<html>")
    (report / "roc.png").write_bytes(b"png")
    (report / "sub" / "skipped.txt").write_text("x")
    copied = storage.upload_folder(report, str(tmp_path / "out" / "reports"))
    assert copied == [str(tmp_path / "out" / "reports" / n) for n in ("report.html", "roc.png")]
    assert (tmp_path / "out" / "reports" / "roc.png").read_bytes() == b"png"
    assert not (tmp_path / "out" / "reports" / "sub").exists()
    assert storage.upload_folder(report, str(report))[0] == str(report / "report.html")
    assert (report / "report.html").read_text() == "<html>"  # not truncated by a self-copy
