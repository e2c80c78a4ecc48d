"""Where files live: a local folder or object storage, behind one small layer (``pyarrow.fs``).

A *location* is a string any host can resolve: an absolute local path (the embedded default),
or a URL such as ``s3://bucket/prefix/file.parquet``. The store records locations, never paths
that only make sense on one host, so a snapshot written on one machine is read on another.

S3 is S3-generic: the endpoint comes from ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``
(MinIO, moto, Ceph …; unset for AWS itself), credentials and region from the AWS SDK's usual
chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance role).
Other ``pyarrow.fs`` URLs (``gs://``, ``abfs://``, ``hdfs://``) resolve through
``FileSystem.from_uri``.
"""

from __future__ import annotations

import functools
import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyarrow.fs loads Arrow's S3 and GCS clients: only when a file is touched
    import pyarrow as pa
    import pyarrow.fs as pafs


#: URL schemes of files rather than databases: local, web, and the object stores and file
#: systems ``pyarrow.fs`` reaches.
FILE_SCHEMES = (
    "file",
    "http",
    "https",
    "s3",
    "s3a",
    "gs",
    "gcs",
    "hdfs",
    "viewfs",
    "abfs",
    "abfss",
)


def is_remote(location: str) -> bool:
    """Whether ``location`` is a URL of object storage rather than a local path."""
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme.lower() != "file" and "/" not in scheme


def is_web(location: str) -> bool:
    """Whether ``location`` is an http(s) URL: a file to download, not to list or stream."""
    return location.partition("://")[0].lower() in ("http", "https") and "://" in location


def is_file_url(location: str) -> bool:
    """Whether ``location`` names a file (a path or a URL of :data:`FILE_SCHEMES`), not a
    database URL."""
    scheme, sep, _ = location.partition("://")
    return not sep or "/" in scheme or scheme.lower() in FILE_SCHEMES


def join(base: str, *parts: str) -> str:
    """``base`` with ``parts`` appended: ``/``-joined for URLs, ``os.path``-joined locally."""
    if is_remote(base):
        return posixpath.join(base.rstrip("/"), *parts)
    return str(Path(base).joinpath(*parts))


def resolve(location: str) -> tuple[pafs.FileSystem, str]:
    """The file system holding ``location`` and the path of it there."""
    import pyarrow.fs as pafs

    if not is_remote(location):
        path = location.removeprefix("file://")
        return pafs.LocalFileSystem(), str(Path(path).expanduser().absolute())
    scheme, _, rest = location.partition("://")
    if scheme.lower() in ("s3", "s3a"):
        return _s3(_endpoint()), rest.rstrip("/")
    filesystem, path = pafs.FileSystem.from_uri(location)
    return filesystem, path


def _endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


@functools.cache
def _s3(endpoint: str | None) -> pafs.S3FileSystem:
    """One S3 client per endpoint (a client holds a connection pool)."""
    import pyarrow.fs as pafs

    # Arrow does not read the endpoint variables itself (the AWS SDK's other settings it does).
    return pafs.S3FileSystem(endpoint_override=endpoint)


def exists(location: str) -> bool:
    """Whether a file (or object) is at ``location``."""
    import pyarrow.fs as pafs

    filesystem, path = resolve(location)
    return bool(filesystem.get_file_info(path).type == pafs.FileType.File)


def list_files(location: str) -> list[str]:
    """The locations of the objects under the folder (prefix) ``location``, at any depth,
    sorted; none when it is not a folder."""
    import pyarrow.fs as pafs

    filesystem, path = resolve(location)
    scheme = location.partition("://")[0]
    if filesystem.get_file_info(path).type != pafs.FileType.Directory:
        return []
    found = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
    return sorted(f"{scheme}://{f.path}" for f in found if f.type == pafs.FileType.File)


def read_parquet(location: str) -> pa.Table:
    """The Parquet file at ``location``."""
    import pyarrow.parquet as pq

    filesystem, path = resolve(location)
    return pq.read_table(path, filesystem=filesystem)


def write_bytes(location: str, data: bytes) -> None:
    """Write ``data`` to ``location``; an object appears whole or not at all (one PUT)."""
    if not is_remote(location):
        Path(location).write_bytes(data)
        return
    filesystem, path = resolve(location)
    with filesystem.open_output_stream(path, compression=None) as stream:  # bytes as given
        stream.write(data)


def make_parent(location: str) -> None:
    """Make the local folder a file at ``location`` goes in (object storage has no folders)."""
    if not is_remote(location):
        Path(location).parent.mkdir(parents=True, exist_ok=True)


def upload(local: Path, location: str) -> None:
    """Copy the local file ``local`` to ``location``."""
    import pyarrow.fs as pafs

    filesystem, path = resolve(location)
    pafs.copy_files(str(local), path, destination_filesystem=filesystem)


def upload_folder(local: Path, location: str) -> list[str]:
    """Copy the files of the local folder ``local`` (not its subfolders) into the folder
    ``location``; returns their locations."""
    copied = []
    for path in sorted(p for p in local.iterdir() if p.is_file()):
        target = join(location, path.name)
        if is_remote(target) or Path(target).resolve() != path.resolve():  # may be the workspace
            make_parent(target)
            upload(path, target)
        copied.append(target)
    return copied
