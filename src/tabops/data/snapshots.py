"""Immutable, content-hashed Parquet snapshots of the good rows: the data versions.

A snapshot's name is the SHA-256 of its file, written to a temporary name and renamed into
place, so a killed run never leaves a partial snapshot and the same data gives the same name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tabops.errors import NotFoundError

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_snapshot(table: pa.Table, folder: Path) -> tuple[str, Path]:
    """Write ``table`` as ``<sha256>.parquet`` in ``folder``; returns (hash, path)."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".partial-", suffix=".parquet", dir=folder)
    os.close(handle)
    temp_path = Path(temporary)
    try:
        pq.write_table(table, temp_path, compression="zstd")
        digest = file_sha256(temp_path)
        final = folder / f"{digest}.parquet"
        if final.exists():
            temp_path.unlink()
        else:
            temp_path.replace(final)
        final.chmod(0o444)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return digest, final


def read_snapshot(path: Path) -> pa.Table:
    """Read a snapshot; a missing file says which and how to recover."""
    if not path.exists():
        raise NotFoundError(
            f"Snapshot file {path} is missing. Restore it ('dvc pull' if it is tracked with "
            "DVC) or ingest the data again."
        )
    return pq.read_table(path)
