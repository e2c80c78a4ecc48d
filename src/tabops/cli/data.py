"""Commands for data: init, ingest, quarantine, data versions, examples, spec."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from tabops.cli.app import (
    JsonOption,
    SetOption,
    SpecOption,
    app,
    check_output,
    data_app,
    examples_app,
    make_context,
    output_location,
    quarantine_app,
    read_spec,
)
from tabops.console import RichProgress, err, key_values, out, print_json, table
from tabops.errors import TabopsError
from tabops.progress import SILENT
from tabops.spec import PROJECT_NAME_PATTERN, SPEC_FILENAME, CsvOptions, dump_spec
from tabops.storage import is_remote

if TYPE_CHECKING:
    from tabops.data.sources import SourceBatch


@app.command()
def init(
    target: Annotated[str, typer.Option("--target", "-t", help="The column to predict.")],
    file: Annotated[
        str | None,
        typer.Argument(help="The data file, as with --data.", show_default=False),
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="CSV or Parquet file (path or URL).")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(help="classification or regression; inferred from the target if omitted."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Project name; default: the file name.")] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder to write tabops.yaml into.")
    ] = Path(),
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing tabops.yaml.")
    ] = False,
    delimiter: Annotated[
        str | None,
        typer.Option(
            help="CSV field delimiter, e.g. ';' or tab. Default: ',', or ';', tab or '|' when "
            "the header splits at one of them and not at ','."
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            help="CSV text encoding, e.g. latin-1. Default: UTF-8, or cp1252 (else latin-1) "
            "when the file's lines are not UTF-8."
        ),
    ] = None,
    skip_rows: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=1000,
            help="Lines before the header to skip (a title, notes). Default: 0, or the lines "
            "above the first line as wide as the data when narrower lines open the file.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Infer a project spec from data and write it as tabops.yaml.

    Each column gets a role (feature, target, id, timestamp, ignored), a type, nullability and
    observed ranges; the reason for every inference is printed so you can check it.

    Example: tabops init --data data/churn.csv --target churn --name churn

    Example: tabops init data/churn.csv -t churn
    """
    from tabops.data.infer import infer_spec, suggest_name
    from tabops.data.sources import read_every_record
    from tabops.spec import SourceSpec, Task

    data = _data_file(file, data)
    if name is not None and not re.fullmatch(PROJECT_NAME_PATTERN, name):
        raise TabopsError(
            f"--name '{name}' is not a valid project name: start with a letter, then at most 62 "
            "letters, digits, '_' or '-' (for example: churn-2024)."
        )
    check_output(output, "--output", folder=True)
    spec_path = output / SPEC_FILENAME
    if spec_path.is_dir():
        raise TabopsError(f"--output {output}: {spec_path} is a folder; move it or pass another.")
    if spec_path.exists() and not force:
        raise TabopsError(f"{spec_path} already exists. Pass --force to overwrite it.")
    if task is not None and task not in {t.value for t in Task}:
        raise TabopsError(f"--task '{task}' is not valid; use classification or regression.")
    progress = SILENT if json_output else RichProgress()
    given = delimiter is not None
    csv_options = _csv_options("," if delimiter is None else delimiter, encoding or "utf-8")
    csv_options.skip_rows = skip_rows or 0
    with progress.step(f"Reading {data}"):
        batch, csv_options = read_every_record(
            data, csv_options, detect_delimiter=not given, detect_encoding=encoding is None,
            detect_preamble=skip_rows is None,
        )  # fmt: skip
    source_path = _relative_source(data, output)
    stem = Path(re.sub(r"\.(gz|bz2|zst|lz4)$", "", data.split("?")[0])).stem  # x.csv.gz: x
    inference = infer_spec(
        batch.table,
        SourceSpec(path=source_path, csv=csv_options),
        target=target,
        task=Task(task) if task else None,
        name=name or suggest_name(stem),
        rejected=len(batch.rejects),
    )
    inference.notes[:0] = _reading_notes(
        batch, csv_options, delimiter=given, encoding=encoding is not None,
        skip_rows=skip_rows is not None,
    )  # fmt: skip
    output.mkdir(parents=True, exist_ok=True)
    text = dump_spec(inference.spec)
    spec_path.write_text(_spec_header(data) + text, encoding="utf-8")
    if batch.rejects:
        first = batch.rejects[0]
        inference.notes.insert(
            0,
            f"{len(batch.rejects)} malformed line(s) were skipped while inferring (first: line "
            f"{first.line}, {first.reason}); ingest quarantines them.",
        )
    if inference.quarantined:
        err.print(
            f"[yellow]Note:[/yellow] {inference.quarantined:,} row(s) have values that do not fit "
            "their column (see 'why'); ingest will quarantine them."
        )
    for note in inference.notes:
        err.print(f"[yellow]Note:[/yellow] {escape(note)}")
    if json_output:
        print_json(
            {
                "spec_path": str(spec_path),
                "spec": inference.spec.model_dump(mode="json", exclude_defaults=True),
                "reasons": inference.reasons,
                "rows_to_quarantine": inference.quarantined,
                "notes": inference.notes,
                "warnings": inference.warnings,
            }
        )
        return
    rows = [
        (col_name, col.role.value, col.type.value, "yes" if col.nullable else "no",
         inference.reasons[col_name])
        for col_name, col in inference.spec.columns.items()
    ]  # fmt: skip
    out.print(table("Inferred columns", ["column", "role", "type", "nullable", "why"], rows))
    out.print(
        f"\nWrote [bold]{spec_path}[/bold] (task: {inference.spec.task.value}"
        + (
            f", positive class: {inference.spec.positive_class}"
            if inference.spec.positive_class
            else ""
        )
        + "). Column names are kept as the file has them (trimmed): clients send them the same way."
        + f"\nReview it, then run: tabops ingest --spec {output}"
    )
    for warning in inference.warnings:
        err.print(f"[bold yellow]Warning:[/bold yellow] {warning}")


def _csv_options(delimiter: str, encoding: str) -> CsvOptions:
    import codecs

    delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter
    if len(delimiter) != 1:
        raise TabopsError(f"--delimiter '{delimiter}' must be one character (or 'tab').")
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise TabopsError(f"--encoding '{encoding}' is not a known text encoding.") from exc
    return CsvOptions(delimiter=delimiter, encoding=encoding)


def _reading_notes(
    batch: SourceBatch, options: CsvOptions, *, delimiter: bool, encoding: bool, skip_rows: bool
) -> list[str]:
    """What ``init`` found out about reading the file (the flags: what the user gave)."""
    notes = []
    if not options.quoting:
        notes.append(
            "some values hold a lone '\"', which broke their lines: quotes are read as text "
            "(source.csv.quoting: false), as tab-separated files mean them."
        )
    if options.multiline_values:
        notes.append("quoted values span lines in this file: source.csv.multiline_values is true.")
    if not skip_rows and options.skip_rows:
        notes.append(
            f"the file's {_lines(options.skip_rows)} before its header (a title, notes) "
            f"{'is' if options.skip_rows == 1 else 'are'} skipped, recorded as "
            "source.csv.skip_rows (pass --skip-rows to choose another)."
        )
    if batch.renamed:
        copies = ", ".join(f"'{copy}'" for _, copy in batch.renamed)
        names = ", ".join(sorted({f"'{name}'" for name, _ in batch.renamed}))
        notes.append(
            f"the header names {names} more than once: the later copies read as {copies} (as "
            "pandas names them), in every file of this source and from clients. Rename them in "
            "the file to choose other names."
        )
    if not encoding and options.encoding != "utf-8":
        notes.append(
            f"the file is not UTF-8: read as {options.encoding}, recorded as "
            "source.csv.encoding (pass --encoding to choose another)."
        )
    if not delimiter and options.delimiter != ",":
        shown = "tab" if options.delimiter == "\t" else f"'{options.delimiter}'"
        notes.append(
            f"the file's fields are separated by {shown}, not ',': recorded as "
            "source.csv.delimiter (pass --delimiter to choose another)."
        )
    return notes


def _lines(count: int) -> str:
    return "first line" if count == 1 else f"first {count} lines"


def _relative_source(data: str, output: Path) -> str:
    if "://" in data:
        return data
    try:
        return str(Path(data).resolve().relative_to(output.resolve()))
    except ValueError:
        return str(Path(data).resolve())


def _data_file(file: str | None, data: str | None) -> str:
    """The file to infer from: ``--data``, or the first argument (``tabops init data.csv``,
    as people type it after other tools)."""
    if file is not None and data is not None and file != data:
        raise TabopsError(f"Two data files given ({file} and --data {data}); pass one.")
    chosen = data or file
    if not chosen:
        raise TabopsError("Name the data file: tabops init --data FILE --target COLUMN.")
    return chosen


def _spec_header(data: str) -> str:
    return (
        f"# tabops project spec, inferred by 'tabops init' from {data}.\n"
        "# Review the roles, types and contract (nullable, min/max, categories) before\n"
        "# ingesting; 'observed' values are informational and never enforced.\n"
    )


@app.command()
def ingest(
    spec: SpecOption = None,
    overrides: SetOption = None,
    dvc: Annotated[
        bool | None,
        typer.Option("--dvc/--no-dvc", help="Track the snapshot with DVC (default: ingest.dvc)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check the source against the data contract and load the good rows as a snapshot.

    Bad rows are quarantined with every reason; schema drift or too many bad rows block the
    whole batch (exit code 3). Loading the same content twice is a no-op.

    Example: tabops ingest --spec examples/churn --set source.path=data/churn_update.csv
    """
    from tabops.data.ingest import run_ingest

    project = read_spec(spec, overrides)
    ctx = make_context(json_output)
    result = run_ingest(project, ctx, dvc=dvc)
    if json_output:
        print_json(result.to_dict())
    else:
        print_ingest(result)
    if result.status == "blocked":
        raise typer.Exit(3)


def print_ingest(result: object) -> None:
    from tabops.data.ingest import IngestResult

    assert isinstance(result, IngestResult)
    status_style = {"loaded": "green", "already_loaded": "cyan", "blocked": "red"}[result.status]
    pairs = [
        ("status", f"[{status_style}]{result.status.replace('_', ' ')}[/{status_style}]"),
        ("batch", result.batch_id),
        ("source", escape(result.source)),
        ("rows in", f"{result.rows_in:,}"),
        (
            "passed, not loaded" if result.status == "blocked" else "loaded",
            f"{result.rows_loaded:,}",
        ),
        ("quarantined (contract)", f"{result.rows_quarantined:,}"),
        ("rejected (structure)", f"{result.rows_rejected:,}"),
        (
            "conservation",
            "in = loaded + quarantined + rejected ✓" if result.conserved else "VIOLATED",
        ),
    ]
    if result.snapshot_hash:
        rows = f" ({result.snapshot_rows:,} rows)" if result.snapshot_rows is not None else ""
        pairs.append(("snapshot", f"{result.snapshot_hash[:16]}{rows}"))
    if result.table:
        pairs.append(("table", result.table))
    if result.dvc_tracked:
        pairs.append(("dvc", "tracked (commit the .dvc file)"))
    if result.status != "already_loaded":
        pairs.append(("time", f"{result.seconds:.2f} s"))
    out.print(key_values("Ingest", pairs))
    checks = [
        (column, check, f"{count:,}")
        for column, by_check in sorted(result.failures.items())
        for check, count in sorted(by_check.items())
    ] + [("(structure)", kind, f"{count:,}") for kind, count in sorted(result.structural.items())]
    if checks:
        out.print(table("Contract report: failed checks", ["column", "check", "rows"], checks))
    if result.status == "already_loaded":
        out.print("This content was loaded before; nothing was written.")
    elif result.status == "blocked":
        out.print("[red bold]Batch blocked[/red bold]: nothing was written downstream.")
        for reason in result.blocked_reasons:
            out.print(f"  - {escape(reason)}")
        out.print(
            "Fix the data or the spec (columns, contract.max_quarantine_rate) and ingest again."
        )
    elif result.rows_quarantined or result.rows_rejected:
        out.print(
            f"Inspect bad rows: tabops quarantine list --batch {result.batch_id}; fix them with "
            "'tabops quarantine export' and 'tabops quarantine replay'."
        )


@quarantine_app.command("list")
def quarantine_list(
    spec: SpecOption = None,
    overrides: SetOption = None,
    batch: Annotated[str | None, typer.Option(help="Only rows of this batch.")] = None,
    status: Annotated[str, typer.Option(help="open, replayed or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 50,
    json_output: JsonOption = False,
) -> None:
    """List quarantined rows with their reasons.

    Example: tabops quarantine list --batch 20261124T101500-1a2b3c4d5e6f
    """
    from dataclasses import asdict

    from tabops.data.quarantine import list_entries

    project = read_spec(spec, overrides)
    ctx = make_context(json_output)
    wanted = None if status == "all" else _status(status)
    entries = list_entries(ctx.store, project.name, batch_id=batch, status=wanted, limit=limit)
    if json_output:
        print_json([asdict(e) for e in entries])
        return
    rows = [(e.id, e.batch_id, e.kind, e.line, e.status, escape(e.summary())) for e in entries]
    out.print(
        table(
            f"Quarantine of {project.name}",
            ["id", "batch", "kind", "line", "status", "reasons"],
            rows,
        )
    )
    if not entries:
        out.print("No quarantined rows match.")


def _status(status: str) -> str:
    if status not in ("open", "replayed"):
        raise TabopsError(f"--status '{status}' is not valid; use open, replayed or all.")
    return status


@quarantine_app.command("show")
def quarantine_show(
    entry_id: Annotated[
        int, typer.Argument(min=1, max=2**63 - 1, help="The quarantined row's id.")
    ],
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one quarantined row: the raw row and every failed check.

    Example: tabops quarantine show 12
    """
    from dataclasses import asdict

    from tabops.data.quarantine import get_entry

    project = read_spec(spec, overrides)
    entry = get_entry(make_context(json_output).store, project.name, entry_id)
    if json_output:
        print_json(asdict(entry))
        return
    pairs = [
        ("batch", entry.batch_id), ("kind", entry.kind), ("line", entry.line),
        ("record", entry.row_number), ("status", entry.status),
        ("replayed in", entry.replayed_batch_id), ("raw", escape(entry.raw)),
    ]  # fmt: skip
    out.print(key_values(f"Quarantined row {entry.id}", pairs))
    reasons = [(r.get("column") or "", r["check"], escape(r["message"])) for r in entry.reasons]
    out.print(table("Failed checks", ["column", "check", "message"], reasons))


@quarantine_app.command("export")
def quarantine_export(
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="CSV file to write, or an s3://bucket/key URL. With TABOPS_STORAGE_URL set, a "
            "relative name goes to STORAGE/exports/PROJECT/NAME.",
        ),
    ] = "quarantine.csv",
    spec: SpecOption = None,
    overrides: SetOption = None,
    batch: Annotated[str | None, typer.Option(help="Only rows of this batch.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Export open quarantined rows to a CSV to fix by hand, then replay it.

    Example: tabops quarantine export -o fixes.csv && $EDITOR fixes.csv &&
    tabops quarantine replay fixes.csv
    """
    from tabops.data.quarantine import export_entries, list_entries

    project = read_spec(spec, overrides)
    ctx = make_context(json_output)
    output = output_location(output, "--output", ctx.settings, "exports", project.name)
    entries = list_entries(ctx.store, project.name, batch_id=batch, limit=None)
    count = export_entries(entries, project, output)
    if json_output:
        print_json({"output": str(output), "rows": count})
        return
    # replay reads a local file: a remote export is downloaded and fixed there
    fixed = "fixes.csv" if is_remote(output) else output
    download = f"Download it to {fixed}, fix" if is_remote(output) else "Fix"
    out.print(
        f"Wrote {count} row(s) to [bold]{output}[/bold]. {download} the values in the data "
        f"columns (leave _quarantine_id alone), then: tabops quarantine replay {fixed}"
    )


@quarantine_app.command("replay")
def quarantine_replay(
    fixes: Annotated[Path, typer.Argument(help="The fixed CSV from 'tabops quarantine export'.")],
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Re-check fixed rows; rows that pass join the dataset once, the rest stay quarantined.

    Example: tabops quarantine export -o fixes.csv, edit it, then tabops quarantine replay
    fixes.csv
    """
    from tabops.data.quarantine import replay

    project = read_spec(spec, overrides)
    result = replay(project, make_context(json_output), fixes)
    if json_output:
        print_json(result.to_dict())
        return
    pairs = [
        ("rows in file", result.rows_in), ("replayed", result.replayed),
        ("still failing", result.still_bad), ("skipped (replayed before)", result.skipped),
        ("batch", result.batch_id), ("snapshot", (result.snapshot_hash or "")[:16]),
    ]  # fmt: skip
    out.print(key_values("Replay", pairs))


@data_app.command("history")
def data_history(
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the project's snapshots: hash, rows, source and date, newest first.

    Example: tabops data history --json
    """
    from tabops.store.ledger import list_snapshots

    project = read_spec(spec, overrides)
    snapshots = list_snapshots(make_context(json_output).store, project.name)
    if json_output:
        print_json([dict(row._mapping) for row in snapshots])
        return
    rows = [
        (s.snapshot_hash[:16], f"{s.rows:,}", s.columns, s.batch_id, escape(s.source),
         str(s.created_at)[:19])
        for s in snapshots
    ]  # fmt: skip
    out.print(
        table(
            f"Snapshots of {project.name}",
            ["hash", "rows", "cols", "batch", "source", "created"],
            rows,
        )
    )
    if not snapshots:
        out.print("No snapshots yet: run 'tabops ingest'.")


@data_app.command("batches")
def data_batches(
    spec: SpecOption = None,
    overrides: SetOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many batches.")] = 20,
    json_output: JsonOption = False,
) -> None:
    """List ingest batches (committed, blocked, replayed) with their row counts.

    Example: tabops data batches --json
    """
    from tabops.store.ledger import list_batches

    project = read_spec(spec, overrides)
    batches = list_batches(make_context(json_output).store, project.name, limit=limit)
    if json_output:
        print_json([dict(row._mapping) for row in batches])
        return
    rows = [
        (b.batch_id, b.status, f"{b.rows_in:,}", f"{b.rows_loaded:,}", f"{b.rows_quarantined:,}",
         f"{b.rows_rejected:,}", escape(b.source))
        for b in batches
    ]  # fmt: skip
    columns = ["batch", "status", "in", "loaded", "quarantined", "rejected", "source"]
    out.print(table(f"Ingest batches of {project.name}", columns, rows))


@examples_app.command("export")
def examples_export(
    name: Annotated[str, typer.Argument(help="churn or diabetes.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the CSV files.")],
    json_output: JsonOption = False,
) -> None:
    """Write an example dataset as CSV (churn: IBM Telco churn, diabetes: scikit-learn's).

    Example: tabops examples export churn -o examples/churn/data
    """
    from tabops.data.examples import export_example

    check_output(output, "--output", folder=True)
    paths = export_example(name, output)
    if json_output:
        print_json({"files": [str(p) for p in paths]})
        return
    for path in paths:
        out.print(f"Wrote {path}")


@app.command("spec")
def show_spec(
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Validate the spec and print it as tabops reads it (overrides applied).

    Example: tabops spec --set train.trials=50
    """
    project = read_spec(spec, overrides)
    if json_output:
        print_json(project.model_dump(mode="json"))
        return
    out.print(dump_spec(project), end="")
    out.print(f"[green]✓[/green] valid spec, hash {project.spec_hash[:16]}")
