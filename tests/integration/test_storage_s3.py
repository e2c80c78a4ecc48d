"""Files in object storage, for real over HTTP: snapshots, batch outputs and exports written
to and read from an S3 server (moto) through :mod:`tabops.storage`."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tabops import storage
from tabops.batch.sinks import parse_destination, write_file
from tabops.cli import app
from tabops.data.quarantine import QuarantineEntry, export_entries
from tabops.data.snapshots import read_snapshot, write_snapshot
from tabops.data.sources import open_source, read_file
from tabops.devtools.s3 import S3Server
from tabops.errors import DataError, NotFoundError
from tabops.spec import SourceSpec
from tests.conftest import SMALL_HEADER, write_project


@pytest.fixture
def bucket(s3: S3Server, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh bucket, with the environment pointing the storage layer at the server."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    return s3.create_bucket(request.node.name.replace("_", "-")[:60].lower())


def test_a_snapshot_is_uploaded_by_its_hash_once_and_read_back(
    bucket: str, s3: S3Server, tmp_path: Path
) -> None:
    table = pa.table({"id": [1, 2, 3], "x": ["a", "b", None]})
    staging = tmp_path / "staging"
    digest, location = write_snapshot(table, f"{bucket}/snapshots/p", staging)
    assert location == f"{bucket}/snapshots/p/{digest}.parquet"
    assert list(staging.iterdir()) == []  # nothing left on this host's disk
    assert read_snapshot(location).equals(table)

    again_digest, again = write_snapshot(table, f"{bucket}/snapshots/p", staging)
    assert (again_digest, again) == (digest, location)
    assert s3.keys(bucket.removeprefix("s3://")) == [f"snapshots/p/{digest}.parquet"]

    local_digest, _ = write_snapshot(table, tmp_path / "local")
    assert local_digest == digest  # the same bytes whichever the storage


def test_a_missing_snapshot_names_its_url(bucket: str) -> None:
    with pytest.raises(NotFoundError, match=f"{bucket}/nothing.parquet is missing"):
        read_snapshot(f"{bucket}/nothing.parquet")


def test_batch_outputs_go_to_objects_and_partitions(
    bucket: str, s3: S3Server, tmp_path: Path
) -> None:
    schema = pa.schema([("id", pa.int64()), ("score", pa.float64())])
    rows = pa.table({"id": [1, 2], "score": [0.25, 0.75]}, schema=schema)
    spill = tmp_path / "scored.parquet"
    for text in (f"{bucket}/out/scores.csv", f"{bucket}/out/scores.parquet", f"{bucket}/parts"):
        pq.write_table(rows, spill)  # the run's spill, as tabops predict writes it
        write_file(parse_destination(text, "--output"), spill, date(2026, 12, 1), "b1")
    name = bucket.removeprefix("s3://")
    assert s3.keys(name) == [
        "out/scores.csv", "out/scores.parquet", "parts/run_date=2026-12-01/part-00000.parquet",
    ]  # fmt: skip
    assert storage.read_parquet(f"{bucket}/out/scores.parquet").equals(rows)
    assert parse_destination(f"{bucket}/out/scores.csv", "--output").sibling(".rejects").url == (
        f"{bucket}/out/scores.rejects.csv"
    )
    assert parse_destination(f"{bucket}/parts", "--output").sibling(".rejects").url == (
        f"{bucket}/parts.rejects"
    )


def test_a_quarantine_export_is_written_to_an_object(bucket: str, tmp_path: Path) -> None:
    spec = write_project(tmp_path / "project", f"{SMALL_HEADER}\n1,2.5,3,red,true,no\n")
    entry = QuarantineEntry(
        id=7, batch_id="b", kind="contract", line=2, row_number=1, status="open",
        raw=json.dumps({"id": "1", "x": "oops"}), replayed_batch_id=None, created_at="now",
        reasons=[{"column": "x", "check": "type", "message": "not a number"}],
    )  # fmt: skip
    local = tmp_path / "fixes.csv"
    assert export_entries([entry], spec, local) == 1
    assert export_entries([entry], spec, f"{bucket}/fixes.csv") == 1
    filesystem, path = storage.resolve(f"{bucket}/fixes.csv")
    with filesystem.open_input_stream(path) as stream:
        assert stream.read() == local.read_bytes()


def test_with_the_storage_in_s3_a_relative_export_lands_in_the_bucket(
    bucket: str, s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path, f"{SMALL_HEADER}\n1,2.5,3,red,true,no\n2,oops,3,red,true,no\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TABOPS_HOME", str(tmp_path / ".tabops"))
    monkeypatch.setenv("TABOPS_STORAGE_URL", f"{bucket}/root")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest"]).exit_code == 0
    for args, key in ((["--json"], "quarantine.csv"), (["-o", "fix/1.csv", "--json"], "fix/1.csv")):
        done = runner.invoke(app, ["quarantine", "export", *args])
        assert done.exit_code == 0, done.output
        location = f"{bucket}/root/exports/small/{key}"
        assert json.loads(done.stdout) == {"output": location, "rows": 1}
        assert storage.exists(location)
    # Compared without whitespace: the console may wrap a long URL anywhere, even mid-word.
    remote = _unwrapped(runner.invoke(app, ["quarantine", "export"]).stdout)
    assert (
        _unwrapped(f"to {bucket}/root/exports/small/quarantine.csv. Download it to fixes.csv")
        in remote
    )
    local = runner.invoke(app, ["quarantine", "export", "-o", str(tmp_path / "here.csv")])
    assert _unwrapped(str(tmp_path / "here.csv")) in _unwrapped(local.stdout)  # absolute: as given
    assert (tmp_path / "here.csv").read_bytes().count(b"\n") == 2  # header and the row
    name = bucket.removeprefix("s3://")
    assert [k for k in s3.keys(name) if "/exports/" in k] == [
        "root/exports/small/fix/1.csv", "root/exports/small/quarantine.csv",
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["data.csv", "here.csv"]


def _unwrapped(text: str) -> str:
    return "".join(text.split())


def test_a_source_path_in_object_storage_is_read_as_a_local_file(
    bucket: str, tmp_path: Path
) -> None:
    text = f"{SMALL_HEADER}\n1,2.5,3,red,true,no\n2,x,4,blue,false,yes\n"
    storage.write_bytes(f"{bucket}/in/data.csv.gz", gzip.compress(text.encode()))
    (tmp_path / "data.csv").write_text(text)
    remote = read_file(f"{bucket}/in/data.csv.gz")
    local = read_file(tmp_path / "data.csv")
    assert remote.table.equals(local.table) and remote.content_hash == local.content_hash
    assert open_source(SourceSpec(path=f"{bucket}/in/data.csv.gz"), tmp_path).description == (
        f"{bucket}/in/data.csv.gz"
    )
    with pytest.raises(DataError, match=f"{bucket}/in/missing.csv does not exist"):
        read_file(f"{bucket}/in/missing.csv")
