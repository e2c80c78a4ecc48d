"""``tabops ingest --dvc`` with the real DVC package: tracked in git, pushed to a folder remote."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tabops.context import Context
from tabops.data.ingest import run_ingest
from tabops.devtools.s3 import S3Server
from tabops.errors import DataError
from tabops.settings import Settings
from tests.conftest import SMALL_HEADER, small_spec_dict, write_project

pytestmark = pytest.mark.slow

ROWS = "\n".join(f"{i},{i}.5,{i},red,true,no" for i in range(1, 51))


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_ingest_tracks_the_snapshot_and_pushes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _git_repo(tmp_path / "repo")
    remote = tmp_path / "remote"
    spec = write_project(
        repo / "project",
        f"{SMALL_HEADER}\n{ROWS}\n",
        small_spec_dict(ingest={"dvc_remote": str(remote)}),
    )
    ctx = Context(settings=Settings(home=repo / "project" / ".tabops"))

    result = run_ingest(spec, ctx, dvc=True)

    assert capsys.readouterr().out == ""  # stdout stays clean for --json
    assert result.dvc_tracked
    snapshot = Path(result.snapshot_path or "")
    dvc_file = snapshot.with_name(snapshot.name + ".dvc")
    assert (repo / ".dvc").is_dir()  # DVC initialised at the git root
    assert _md5(snapshot) in dvc_file.read_text()
    pushed = [p for p in remote.rglob("*") if p.is_file()]
    assert len(pushed) == 1
    assert pushed[0].read_bytes() == snapshot.read_bytes()
    # DVC asks git to ignore the data file so that only the .dvc pointer is committed.
    ignored = subprocess.run(
        ["git", "-C", str(repo), "check-ignore", str(snapshot)], capture_output=True, check=False
    )
    assert ignored.returncode == 0


def test_dvc_needs_the_snapshot_inside_the_repository(tmp_path: Path) -> None:
    from tabops.errors import DataError

    repo = _git_repo(tmp_path / "repo")
    spec = write_project(repo, f"{SMALL_HEADER}\n{ROWS}\n")
    ctx = Context(settings=Settings(home=tmp_path / "elsewhere"))
    with pytest.raises(DataError, match="inside the repository"):
        run_ingest(spec, ctx, dvc=True)


@pytest.mark.parametrize(
    ("remote", "extra"),
    [("gs://bucket", "gs"), ("azure://container/x", "azure"),
     ("ssh://host/srv/dvc", "ssh"), ("webdav://host/x", "webdav"), ("oss://bucket", "oss")],
)  # fmt: skip
def test_a_remote_without_its_dvc_extra_names_the_extra_before_any_work(
    tmp_path: Path, remote: str, extra: str
) -> None:
    repo = _git_repo(tmp_path / "repo")
    project = small_spec_dict(ingest={"dvc_remote": remote})
    spec = write_project(repo / "project", f"{SMALL_HEADER}\n{ROWS}\n", project)
    ctx = Context(settings=Settings(home=repo / ".tabops"))
    with pytest.raises(DataError, match=rf"ingest\.dvc_remote.*pip install 'dvc\[{extra}\]'"):
        run_ingest(spec, ctx, dvc=True)
    assert not (repo / ".dvc").exists() and not (repo / ".tabops" / "snapshots").exists()


@pytest.fixture
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    return s3


def test_the_documented_s3_remote_receives_the_snapshot(tmp_path: Path, s3_env: S3Server) -> None:
    """docs/ingest.md's ``dvc_remote: s3://my-bucket/tabops``, against S3 over HTTP."""
    s3_env.create_bucket("my-bucket")
    repo = _git_repo(tmp_path / "repo")
    project = small_spec_dict(ingest={"dvc": True, "dvc_remote": "s3://my-bucket/tabops"})
    spec = write_project(repo / "project", f"{SMALL_HEADER}\n{ROWS}\n", project)
    ctx = Context(settings=Settings(home=repo / "project" / ".tabops"))

    result = run_ingest(spec, ctx)

    assert result.dvc_tracked
    snapshot = Path(result.snapshot_path or "")
    digest = _md5(snapshot)
    assert s3_env.keys("my-bucket") == [f"tabops/files/md5/{digest[:2]}/{digest[2:]}"]


def test_with_object_storage_the_snapshot_is_uploaded_and_dvc_pushes_beside_it(
    tmp_path: Path, s3_env: S3Server
) -> None:
    bucket = s3_env.create_bucket("storage-dvc")
    repo = _git_repo(tmp_path / "repo")
    spec = write_project(
        repo / "project", f"{SMALL_HEADER}\n{ROWS}\n", small_spec_dict(ingest={"dvc": True})
    )
    home = repo / "project" / ".tabops"
    ctx = Context(settings=Settings(home=home, storage_url=f"{bucket}/prefix"))

    result = run_ingest(spec, ctx)

    name = f"{result.snapshot_hash}.parquet"
    assert result.snapshot_path == f"{bucket}/prefix/snapshots/small/{name}"
    local = home / "snapshots" / "small" / name  # kept: DVC tracks it in the repository
    assert result.dvc_tracked and local.with_name(name + ".dvc").exists()
    digest = _md5(local)
    assert s3_env.keys("storage-dvc") == sorted(
        [f"prefix/snapshots/small/{name}", f"prefix/dvc/files/md5/{digest[:2]}/{digest[2:]}"]
    )
