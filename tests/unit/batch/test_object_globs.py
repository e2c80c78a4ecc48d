"""An object storage glob matches the objects a local recursive glob matches on the same tree."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabops.batch.sources import _matches

NAMES = st.sampled_from(["a", "b", ".h", "x.csv", "y.parquet", ".p.csv"])
SEGMENTS = st.sampled_from(["*", "**", "*.csv", "a", ".h", ".*", "?", "[ab]", "x.csv", "*.*"])


@given(
    tree=st.lists(st.lists(NAMES, min_size=1, max_size=4), min_size=1, max_size=8),
    pattern=st.lists(SEGMENTS, min_size=1, max_size=4),
)
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_object_globs_match_what_a_local_recursive_glob_matches(
    tmp_path_factory: pytest.TempPathFactory, tree: list[list[str]], pattern: list[str]
) -> None:
    root = Path(glob.escape(str(tmp_path_factory.mktemp("tree"))))
    files = set()
    for parts in tree:
        # A name that is a folder in one path cannot be a file in another.
        if any(Path(root, *parts[:i]).is_file() for i in range(1, len(parts) + 1)):
            continue
        if Path(root, *parts).is_dir():
            continue
        Path(root, *parts[:-1]).mkdir(parents=True, exist_ok=True)
        Path(root, *parts).write_text("x")
        files.add("/".join(parts))
    # os.path.isfile, not Path: glob answers 'f/' for 'f/**' on a file f, and Path drops the '/'.
    local = {
        Path(m).relative_to(root).as_posix()
        for m in glob.glob(str(Path(root, *pattern)), recursive=True)  # noqa: PTH207
        if os.path.isfile(m)  # noqa: PTH113
    }
    objects = {f for f in files if _matches(f.split("/"), pattern)}
    assert objects == local, f"{sorted(files)} {pattern}: {sorted(local)}"
