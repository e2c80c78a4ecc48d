"""The docs site's link rewriting: links to repository files outside docs/ stay right on GitHub
and on the site."""

from __future__ import annotations

import pytest
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File
from mkdocs.structure.pages import Page

from tabops.devtools.docsite.hooks import on_page_markdown


def rewrite(markdown: str, src_uri: str = "serve.md") -> str:
    file = File(src_uri, src_dir="docs", dest_dir="site", use_directory_urls=True)
    page = Page(None, file, MkDocsConfig())
    return on_page_markdown(markdown, page)


@pytest.mark.parametrize(
    ("src_uri", "expected"),
    [
        ("serve.md", "See [numbers](benchmarks.md#serving)."),
        ("reference/cli.md", "See [numbers](../benchmarks.md#serving)."),
    ],
)
def test_an_included_file_links_to_its_page(src_uri: str, expected: str) -> None:
    up = "../" * (src_uri.count("/") + 1)
    assert rewrite(f"See [numbers]({up}BENCHMARKS.md#serving).", src_uri) == expected


def test_other_repository_files_become_their_path() -> None:
    text = (
        "[examples/fraud](../examples/fraud/README.md) and [deploy/README.md](../deploy/README.md)"
    )
    assert rewrite(text) == "examples/fraud (`examples/fraud/README.md`) and `deploy/README.md`"


def test_links_inside_the_docs_and_elsewhere_are_kept() -> None:
    text = "[spec](spec.md#top-level), [web](https://example.com/a.md), ![fig](images/a.svg)"
    assert rewrite(text) == text
