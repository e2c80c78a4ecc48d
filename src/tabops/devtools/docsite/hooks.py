"""mkdocs hooks (``hooks:`` in mkdocs.yml): add the generated reference pages to the build, and
rewrite the docs' links to repository files outside docs/ (right on GitHub): to the page that
includes the file (``../BENCHMARKS.md``), else to the file's path as code."""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from tabops.devtools.docsite import cli_reference, http_reference, spec_reference

#: Repository files (from the repository's root) shown by a page of the site.
INCLUDED = {"BENCHMARKS.md": "benchmarks.md"}
_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)#\s:]+)(?P<anchor>#[^)\s]*)?\)")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """The generated pages, rendered from the code of this build."""
    document = http_reference.openapi_document()
    generated = {
        "reference/cli.md": cli_reference.render(),
        "reference/spec.md": spec_reference.render(),
        "reference/http.md": http_reference.render(document),
        f"reference/{http_reference.OPENAPI_FILE}": json.dumps(document, indent=2),
    }
    for uri, content in generated.items():
        files.append(File.generated(config, uri, content=content))
    return files


def on_page_markdown(markdown: str, page: Page, **_: Any) -> str:
    """Links to repository files outside docs/, as links to the page that includes the file,
    or as the file's path (the site has no copy of it)."""
    folder = posixpath.dirname(page.file.src_uri)

    def relink(match: re.Match[str]) -> str:
        text, target = (
            match["text"],
            posixpath.normpath(posixpath.join("docs", folder, match["target"])),
        )
        if target.startswith("docs/"):
            return match[0]
        if target in INCLUDED:
            link = posixpath.relpath(INCLUDED[target], folder or ".")
            return f"[{text}]({link}{match['anchor'] or ''})"
        return f"`{target}`" if text.strip("`") == target else f"{text} (`{target}`)"

    return _LINK.sub(relink, markdown)
