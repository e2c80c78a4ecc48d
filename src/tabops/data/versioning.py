"""Data versioning with DVC: track snapshots in the user's repository, push to a remote.

DVC is imported only when asked for: it is heavy, and most runs do not need it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from pathlib import Path

from tabops import storage
from tabops.errors import DataError
from tabops.settings import Settings

log = logging.getLogger(__name__)
_REMOTE_NAME = "tabops"


def _repo_root(start: Path) -> tuple[Path, bool]:
    """The enclosing git repository (DVC lives beside git), or ``start`` without git."""
    for folder in (start, *start.parents):
        if (folder / ".dvc").is_dir():
            return folder, (folder / ".git").exists()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder, True
    return start, False


def remote(configured: str | None, settings: Settings) -> str | None:
    """The DVC remote: ``ingest.dvc_remote``, else ``dvc/`` in object storage when files live
    there (``TABOPS_STORAGE_URL``), else none (DVC tracks without pushing)."""
    if configured is not None or not settings.remote_storage:
        return configured
    return storage.join(settings.storage, "dvc")


def check_remote(remote: str | None) -> None:
    """Refuse a remote whose storage DVC cannot reach without an extra (s3://, gs://, ...),
    before any work, saying which extra to install."""
    if remote is None or "://" not in remote:
        return
    from dvc_objects.fs import get_fs_cls

    try:
        get_fs_cls({"url": remote})  # type: ignore[no-untyped-call]
    except ImportError as exc:  # "s3 is supported, but requires 'dvc-s3' to be installed"
        package = re.search(r"'dvc-([\w-]+)'", str(exc))
        extra = package[1] if package else remote.split("://", 1)[0]
        raise DataError(
            f"ingest.dvc_remote '{remote}' needs DVC's {extra} support, which is not installed: "
            f"pip install 'dvc[{extra}]' (or use a local folder as the remote)."
        ) from exc
    if remote.startswith("s3://") and not _has_aws_credentials():
        raise DataError(
            f"ingest.dvc_remote '{remote}' is on S3, but no AWS credentials were found: set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and AWS_ENDPOINT_URL "
            "for an S3-compatible server such as MinIO."
        )


def _has_aws_credentials() -> bool:
    """Whether botocore's usual chain (environment, profile, instance role) finds any; checked
    before ingest does any work, rather than failing in the push after the snapshot."""
    import botocore.session

    return botocore.session.get_session().get_credentials() is not None


def track(snapshot: Path, project_root: Path, remote: str | None) -> Path:
    """``dvc add`` the snapshot (initialising DVC if needed) and push it to ``remote``.

    Returns:
        The ``.dvc`` file to commit.
    """
    from dvc.exceptions import DvcException

    check_remote(remote)
    root, has_git = _repo_root(project_root.resolve())
    snapshot = snapshot.resolve()
    if not snapshot.is_relative_to(root):
        raise DataError(
            f"DVC can only track files inside the repository at {root}, but the snapshot is at "
            f"{snapshot}. Set TABOPS_HOME to a folder inside the repository."
        )
    # DVC logs INFO to a handler on stdout and prints with its UI; stdout is reserved for
    # results (--json), so quieten one and send the other to stderr.
    logging.getLogger("dvc").setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            _add_and_push(root, has_git, snapshot, remote, project_root)
    except DvcException as exc:
        raise DataError(
            f"DVC could not track {snapshot.name}: {exc}. Check ingest.dvc_remote and that "
            "the remote is reachable."
        ) from exc
    return snapshot.with_name(snapshot.name + ".dvc")


def _add_and_push(
    root: Path, has_git: bool, snapshot: Path, remote: str | None, project_root: Path
) -> None:
    from dvc.repo import Repo

    if not (root / ".dvc").is_dir():
        Repo.init(str(root), no_scm=not has_git)
        log.info("initialised DVC in %s", root)
    with Repo(str(root)) as repo:
        repo.add(str(snapshot))
        if remote is not None:
            _configure_remote(repo, remote, project_root)
            repo.push(targets=[str(snapshot)], remote=_REMOTE_NAME)


def _configure_remote(repo: object, remote: str, project_root: Path) -> None:
    url = remote
    if "://" not in remote:
        url = str((project_root / remote).resolve()) if not Path(remote).is_absolute() else remote
    with repo.config.edit() as config:  # type: ignore[attr-defined]
        config["remote"][_REMOTE_NAME] = {"url": url}
