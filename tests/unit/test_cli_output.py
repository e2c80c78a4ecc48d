"""Output paths given on the command line are checked before any work, naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabops.cli.app import check_output
from tabops.errors import TabopsError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("x")
    return tmp_path


@pytest.mark.parametrize(
    ("relative", "folder", "expected"),
    [
        ("file.txt/x.csv", False, "file.txt is a file, not a folder"),
        ("file.txt/a/b", True, "file.txt is a file, not a folder"),
        ("missing/x.csv", False, "the folder {root}/missing does not exist"),
        ("missing/deeper/x.csv", False, "the folder {root}/missing/deeper does not exist"),
        ("folder", False, "is a folder; pass a file name"),
        ("file.txt", True, "is a file; pass a folder"),
    ],
)
def test_unwritable_outputs_are_refused_naming_option_and_path(
    tree: Path, relative: str, folder: bool, expected: str
) -> None:
    path = tree / relative
    with pytest.raises(TabopsError) as error:
        check_output(path, "--output", folder=folder)
    message = str(error.value)
    assert message.startswith(f"--output {path}")
    assert expected.format(root=tree) in message


@pytest.mark.parametrize(
    ("relative", "folder"),
    [("folder/x.csv", False), ("file.txt", False), ("folder", True), ("new/a/b", True)],
)
def test_writable_outputs_pass_and_nothing_is_created(
    tree: Path, relative: str, folder: bool
) -> None:
    before = sorted(tree.rglob("*"))
    check_output(tree / relative, "--output", folder=folder)
    assert sorted(tree.rglob("*")) == before
