"""Where the score task writes: ``orchestration.output`` placed like ``tabops predict
--output`` (:meth:`Settings.placed`), relative to the spec's folder without a storage URL."""

from __future__ import annotations

from pathlib import Path

from tabops.context import Context
from tabops.orchestrate.score import _resolved
from tabops.settings import Settings
from tests.conftest import SMALL_HEADER, write_project


def test_without_a_storage_url_a_relative_output_is_beside_the_spec(
    ctx: Context, tmp_path: Path
) -> None:
    spec = write_project(tmp_path / "p", f"{SMALL_HEADER}\n")
    assert _resolved(spec, ctx, "data/scores") == str(spec.root / "data" / "scores")
    for given in ("/srv/scores", "table:scores", "s3://bucket/scores"):  # used as given
        assert _resolved(spec, ctx, given) == given


def test_with_a_storage_url_a_relative_output_goes_to_its_batch_folder(tmp_path: Path) -> None:
    spec = write_project(tmp_path / "p", f"{SMALL_HEADER}\n")
    remote = Context(settings=Settings(home=tmp_path / "h", storage_url="s3://b/root"))
    assert _resolved(spec, remote, "data/scores") == "s3://b/root/batch/small/data/scores"
    local = Context(settings=Settings(home=tmp_path / "h", storage_url=str(tmp_path / "files")))
    placed = _resolved(spec, local, "day-1.csv")
    assert placed == str(tmp_path / "files" / "batch" / "small" / "day-1.csv")
    assert Path(placed).parent.is_dir()  # a file needs its folder: the layout's is made
