"""Every command's --help reads well at 80 and 120 columns: paragraphs reflow (no line ends
mid-sentence before a short fragment, as hard-wrapped docstrings did), flags show no value
placeholder, and each command says what it does with an example."""

from __future__ import annotations

import itertools

import pytest
from typer.testing import CliRunner

from tabops.cli import app
from tests.e2e.test_cli_bad_arguments import COMMANDS


def _help(words: str, columns: int) -> str:
    result = CliRunner().invoke(app, [*words.split(), "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def _prose(text: str) -> list[str]:
    """The description lines above the option panels, stripped."""
    lines = []
    for line in text.splitlines():
        if line.lstrip().startswith(("╭", "│", "╰")):
            break
        lines.append(line.strip())
    return lines


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("words", sorted(COMMANDS))
def test_help_reflows_and_shows_no_flag_placeholders(words: str, columns: int) -> None:
    text = _help(words, columns)
    lines = _prose(text)
    for line, following in itertools.pairwise(lines):
        broken = (
            line and following and len(line) < columns - 30
            and not line.endswith((".", ":", ";", ")", "!", "?"))
            and following[0].islower()
        )  # fmt: skip
        assert not broken, f"'{words} --help' breaks a sentence at {columns} columns: {line!r}"
    for row in text.splitlines():
        assert "<bool>" not in row, f"'{words} --help' shows a flag placeholder: {row.strip()}"
        if row.lstrip("│ *").startswith("-"):  # options (arguments name their value)
            assert " range>" not in row, f"'{words} --help' shows a range placeholder: {row}"
    assert "Example" in text or words in {"quarantine", "data", "examples"}, words


@pytest.mark.parametrize("words", ["", "quarantine", "data", "examples", "rules", "synth", "dags"])
def test_group_help_shows_no_flag_placeholders(words: str) -> None:
    # Groups carry Typer's own flags (--help, and the completion options at the top).
    text = _help(words, 100)
    assert "--help" in text
    assert "<bool>" not in text, text
