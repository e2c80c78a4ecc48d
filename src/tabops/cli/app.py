"""The ``tabops`` Typer app, the options its commands share, and the entry point that turns
errors into messages and exit codes (listed in :mod:`tabops.cli`)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from tabops import __version__, redaction
from tabops.console import RichProgress, err, out
from tabops.context import Context
from tabops.errors import TabopsError
from tabops.extras import missing_extra
from tabops.progress import SILENT
from tabops.settings import ArtifactKind, Settings, load_settings
from tabops.spec import SPEC_FILENAME, ProjectSpec, load_spec
from tabops.storage import is_remote


class Group(TyperGroup):
    """Typer's group with tidier value placeholders: none for flags (Typer prints ``<bool>``
    beside every flag, ``--help`` and the completion options included) and ``<int>`` rather
    than ``<int range>`` before a range's bounds."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _tidy_placeholders(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:  # the help option is cached: fixing it here lasts
            _tidy_placeholders(command.get_params(ctx))
        return command


def _tidy_placeholders(params: list[Any]) -> list[Any]:
    for param in params:  # Typer's own copy of click's Option: no isinstance check
        described = getattr(param, "type_descriptor", None)
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif (
            param.param_type_name == "option"  # an argument's metavar is its name column
            and param.metavar is None
            and described is not None
            and described.is_ranged
        ):
            param.metavar = f"<{described.ranged_type_name}>"
    return params


app = typer.Typer(
    name="tabops",
    cls=Group,
    help=(
        "tabops: ingest, validate, version, train, serve and monitor tabular models from one "
        "tabops.yaml.\n\nStart with 'tabops init --data FILE --target COLUMN', then "
        "'tabops ingest'."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # paragraphs reflow to the terminal's width
)
quarantine_app = typer.Typer(cls=Group, help="Inspect, export, fix and replay quarantined rows.")
data_app = typer.Typer(cls=Group, help="Data versions: snapshots and ingest batches.")
examples_app = typer.Typer(cls=Group, help="Example datasets, exported to CSV on demand.")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(data_app, name="data")
dags_app = typer.Typer(
    cls=Group, help="Airflow DAG files for the project's flows (ingest, daily, retrain)."
)
app.add_typer(examples_app, name="examples")
app.add_typer(dags_app, name="dags")

_state = {"debug": False}

SpecOption = Annotated[
    Path | None,
    typer.Option(
        "--spec",
        "-s",
        help=f"The project's {SPEC_FILENAME}, or its folder. Default: ./{SPEC_FILENAME}.",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a spec value for this run: key.path=value (repeatable), "
        "e.g. --set contract.max_quarantine_rate=0.1",
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document (no progress output).")
]


def make_context(json_output: bool) -> Context:
    """Settings from the environment; progress bars unless the output is JSON."""
    return Context(settings=load_settings(), progress=SILENT if json_output else RichProgress())


def read_spec(spec: Path | None, overrides: list[str] | None) -> ProjectSpec:
    """The project spec with ``--set`` overrides applied."""
    return load_spec(spec, overrides or [])


def output_location(
    text: str, option: str, settings: Settings, kind: ArtifactKind, project: str
) -> str:
    """An output file given as a local path (checked like :func:`check_output`) or as an
    object storage URL (``s3://bucket/key``, written through :mod:`tabops.storage`); a relative
    name goes under the storage folder of its kind when ``TABOPS_STORAGE_URL`` is set
    (:meth:`Settings.placed`). Returns where it goes (a path as ``Path`` spells it)."""
    text = settings.placed(text, kind, project)
    if is_remote(text):
        return text
    check_output(Path(text), option, folder=False)
    return str(Path(text))


def check_output(path: Path, option: str, *, folder: bool) -> None:
    """Refuse an output path that cannot be written, before any work, saying what is wrong.

    A folder (``folder=True``) is created later with its missing parents; a file needs an
    existing folder.
    """
    if path.exists() and path.is_dir() != folder:
        wanted = "a folder (created if missing)" if folder else "a file name"
        raise TabopsError(f"{option} {path} is a {'file' if folder else 'folder'}; pass {wanted}.")
    target = path if folder else path.parent
    existing = next(p for p in (target, *target.parents) if p.exists())
    if not existing.is_dir():
        raise TabopsError(
            f"{option} {path}: {existing} is a file, not a folder; pass another path."
        )
    if existing != target and not folder:
        raise TabopsError(
            f"{option} {path}: the folder {target} does not exist; create it first "
            "or pass a path in an existing folder."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TabopsError(f"{option} {path}: no permission to write in {existing}.")


def _version(value: bool) -> None:
    if value:
        out.print(f"tabops {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and debug logs on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=_version,
        ),
    ] = False,
) -> None:
    _state["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    redaction.install(logging.getLogger().handlers)  # no secret in any log line


ForceOption = Annotated[
    bool,
    typer.Option("--force", help="Promote even if the gate refuses (audited as forced)."),
]


VersionOption = Annotated[
    str | None,
    typer.Option("--version", "-v", help="Model version; default: the current champion."),
]


def main(args: Sequence[str] | None = None) -> None:
    """Console entry point: run the app, turning user mistakes into clear messages.

    Click itself reports command-line mistakes (exit 2) and turns typer.Exit into the exit code.

    Args:
        args: The command line without the program name; default ``sys.argv[1:]``.
    """
    try:
        app(args=args, prog_name="tabops")
    except BrokenPipeError:  # e.g. piped into `head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except TabopsError as exc:
        if _state["debug"]:
            raise
        err.print(f"[red bold]Error:[/red bold] {escape(str(exc))}")
        sys.exit(exc.exit_code)
    except Exception as exc:
        if _state["debug"]:
            raise
        missing = missing_extra(exc)  # a training command in a serving-only install
        if missing is not None:
            err.print(f"[red bold]Error:[/red bold] {escape(missing)}")
            sys.exit(TabopsError.exit_code)
        err.print(
            f"[red bold]Internal error:[/red bold] {type(exc).__name__}: {escape(str(exc))}\n"
            "This is a bug in tabops; run again with --debug for the traceback and report it."
        )
        sys.exit(1)
