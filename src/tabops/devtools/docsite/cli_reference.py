"""The CLI reference, rendered from the Typer app by Typer's own Markdown generator (the same
help, options and defaults that ``--help`` prints)."""

from __future__ import annotations

import typer
from typer.cli import get_docs_for_click
from typer.models import Context

from tabops.cli import app

LEAD = (
    "Generated from the `tabops` Typer app when the site is built: every command and "
    "subcommand with its help, arguments, options and defaults, as `tabops COMMAND --help` "
    "prints them. [cli.md](../cli.md) explains the commands with examples; exit codes: 0 done, "
    "2 a user mistake, 3 refused (a blocked batch, a gate refusal), 1 an internal error."
)


def render() -> str:
    """The reference as one Markdown page."""
    command = typer.main.get_command(app)
    context = Context(command, info_name="tabops")
    body = get_docs_for_click(obj=command, ctx=context, name="tabops", title="CLI reference")
    title, _, rest = body.partition("\n")
    return f"{title}\n\n{LEAD}\n{rest}"
