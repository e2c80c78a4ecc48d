"""The docs site builds with ``mkdocs build --strict`` (broken links and anchors fail it), and its
generated references cover the live code: every CLI command and option of the Typer app, every
section of the spec's pydantic models, every route of the server's OpenAPI document."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest
import typer
from pydantic import BaseModel

from tabops.cli import app
from tabops.serve.app import create_app
from tabops.settings import Settings
from tabops.spec import ProjectSpec
from tests.conftest import small_spec_dict

ROOT = Path(__file__).resolve().parents[2]
_HEADING = re.compile(r"<h([1-6])[^>]*>(.*?)</h\1>", re.S)

# One build for the module: its tests share a worker (`--dist loadgroup`).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docs_site")]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml", "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return out


def sections(page: Path) -> dict[str, str]:
    """A built page's headings (their text) and the HTML under each, up to the next one."""
    text = page.read_text(encoding="utf-8")
    found = list(_HEADING.finditer(text))
    return {
        _text(match[2]): text[match.end() : following.start() if following else len(text)]
        for match, following in zip(found, [*found[1:], None], strict=True)
    }


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).replace("¶", "").strip()


def _commands(command: Any, path: str, context: Any) -> dict[str, Any]:
    """Every command of the click tree under ``command``, by its full name."""
    found = {path: command}
    for name in getattr(command, "commands", {}):
        child = command.get_command(context, name)
        if child is not None and not child.hidden:
            sub = child.context_class(child, info_name=name, parent=context)
            found |= _commands(child, f"{path} {name}", sub)
    return found


def test_cli_reference_has_every_command_and_option(site: Path) -> None:
    root = typer.main.get_command(app)
    commands = _commands(root, "tabops", root.context_class(root, info_name="tabops"))
    page = sections(site / "reference/cli/index.html")
    assert len(commands) > 20
    for name, command in commands.items():
        if name == "tabops":
            continue
        assert name in page, f"{name} has no section in the CLI reference"
        shown = _text(page[name])
        for param in command.params:
            if not param.hidden:
                assert all(opt in shown for opt in param.opts), f"{name}: {param.opts} missing"


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models in a type: ``X``, ``X | None``, ``list[X]``, ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models(arg)]


def test_spec_reference_has_every_section_and_key(site: Path) -> None:
    page = sections(site / "reference/spec/index.html")
    top = _text(page["Top level"])
    nested = 0
    for name, field in ProjectSpec.model_fields.items():
        assert name in top
        for model in _models(field.annotation):
            nested += 1
            heading = next((h for h in (name, f"{name}.<key>", f"{name}[]") if h in page), None)
            assert heading is not None, f"section {name} missing from the spec reference"
            section = _text(page[heading])
            assert all(f"{key}" in section for key in model.model_fields), name
    assert nested >= 9  # source, columns, contract, ingest, train, evaluate, gate, serve, ...


def test_http_reference_has_every_route(site: Path, tmp_path: Path) -> None:
    spec = ProjectSpec.model_validate(small_spec_dict())
    document = create_app(spec, Settings(home=tmp_path, env="embedded")).openapi()
    page = sections(site / "reference/http/index.html")
    routes = [f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops]
    assert "POST /predict" in routes
    for route in routes:
        assert route in page, f"{route} has no section in the HTTP reference"
    published = json.loads((site / "reference/openapi.json").read_text())
    assert published["paths"].keys() == document["paths"].keys()


def test_benchmarks_page_includes_benchmarks_md(site: Path) -> None:
    page = sections(site / "benchmarks/index.html")
    source = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    titles = [line[3:].replace("`", "") for line in source.splitlines() if line.startswith("## ")]
    assert titles
    assert all(title in page for title in titles)


def test_nothing_generated_is_committed() -> None:
    assert not (ROOT / "docs/reference").exists()
