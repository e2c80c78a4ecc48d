"""The ``tabops`` command: parse arguments, load the spec, call a stage, print the result.

Exit codes: 0 done, 2 a user mistake (the message says what and how to fix it), 3 a batch
blocked by the data contract, 1 an internal error (``--debug`` shows the traceback).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tabops import __version__
from tabops.console import RichProgress, err, key_values, out, print_json, table
from tabops.context import Context
from tabops.errors import TabopsError
from tabops.progress import SILENT
from tabops.settings import load_settings
from tabops.spec import SPEC_FILENAME, CsvOptions, ProjectSpec, dump_spec, load_spec

app = typer.Typer(
    name="tabops",
    help=(
        "tabops: ingest, validate, version, train, serve and monitor tabular models from one "
        "tabops.yaml.\n\nStart with 'tabops init --data FILE --target COLUMN', then "
        "'tabops ingest'."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
quarantine_app = typer.Typer(help="Inspect, export, fix and replay quarantined rows.")
data_app = typer.Typer(help="Data versions: snapshots and ingest batches.")
examples_app = typer.Typer(help="Example datasets, exported to CSV on demand.")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(data_app, name="data")
app.add_typer(examples_app, name="examples")

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


def _context(json_output: bool) -> Context:
    return Context(settings=load_settings(), progress=SILENT if json_output else RichProgress())


def _spec(spec: Path | None, overrides: list[str] | None) -> ProjectSpec:
    return load_spec(spec, overrides or [])


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
            "--version", help="Print the version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    _state["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.command()
def init(
    data: Annotated[str, typer.Option("--data", "-d", help="CSV or Parquet file (path or URL).")],
    target: Annotated[str, typer.Option("--target", "-t", help="The column to predict.")],
    task: Annotated[
        str | None,
        typer.Option(help="classification or regression; inferred from the target if omitted."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Project name; default: the file name.")] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder to write tabops.yaml into.")
    ] = Path(),
    force: Annotated[bool, typer.Option(help="Overwrite an existing tabops.yaml.")] = False,
    delimiter: Annotated[str, typer.Option(help="CSV field delimiter, e.g. ';' or tab.")] = ",",
    encoding: Annotated[str, typer.Option(help="CSV text encoding, e.g. latin-1.")] = "utf-8",
    json_output: JsonOption = False,
) -> None:
    """Infer a project spec from data and write it as tabops.yaml.

    Each column gets a role (feature, target, id, timestamp, ignored), a type, nullability and
    observed ranges; the reason for every inference is printed so you can check it.

    Example: tabops init --data data/churn.csv --target churn --name churn
    """
    from tabops.data.infer import infer_spec, suggest_name
    from tabops.data.sources import read_file
    from tabops.spec import SourceSpec, Task

    spec_path = output / SPEC_FILENAME
    if spec_path.exists() and not force:
        raise TabopsError(f"{spec_path} already exists. Pass --force to overwrite it.")
    if task is not None and task not in {t.value for t in Task}:
        raise TabopsError(f"--task '{task}' is not valid; use classification or regression.")
    progress = SILENT if json_output else RichProgress()
    csv_options = _csv_options(delimiter, encoding)
    with progress.step(f"Reading {data}"):
        batch = read_file(data, csv_options)
    source_path = _relative_source(data, output)
    stem = Path(data.split("?")[0]).stem
    inference = infer_spec(
        batch.table,
        SourceSpec(path=source_path, csv=csv_options),
        target=target,
        task=Task(task) if task else None,
        name=name or suggest_name(stem),
    )
    output.mkdir(parents=True, exist_ok=True)
    text = dump_spec(inference.spec)
    spec_path.write_text(_spec_header(data) + text, encoding="utf-8")
    if batch.rejects:
        err.print(
            f"[yellow]Note:[/yellow] {len(batch.rejects)} malformed line(s) were skipped while "
            f"inferring (first: line {batch.rejects[0].line}, {batch.rejects[0].reason})."
        )
    if json_output:
        print_json(
            {
                "spec_path": str(spec_path),
                "spec": inference.spec.model_dump(mode="json", exclude_defaults=True),
                "reasons": inference.reasons,
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
        + f"). Review it, then run: tabops ingest --spec {output}"
    )


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


def _relative_source(data: str, output: Path) -> str:
    if "://" in data:
        return data
    try:
        return str(Path(data).resolve().relative_to(output.resolve()))
    except ValueError:
        return str(Path(data).resolve())


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

    project = _spec(spec, overrides)
    ctx = _context(json_output)
    result = run_ingest(project, ctx, dvc=dvc)
    if json_output:
        print_json(result.to_dict())
    else:
        _print_ingest(result)
    if result.status == "blocked":
        raise typer.Exit(3)


def _print_ingest(result: object) -> None:
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


@app.command()
def train(
    spec: SpecOption = None,
    overrides: SetOption = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Optuna trials per candidate (train.trials).")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(min=0.1, help="Seconds of tuning per candidate (train.timeout)."),
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option(help="Train on this snapshot (hash prefix); default: latest.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Tune and fit every candidate on the latest snapshot, scored on a frozen test split.

    Each candidate is an MLflow run in the project's experiment; every Optuna trial is a run
    nested under it. The best candidate by cross-validated score is reported.

    Example: tabops train --trials 30
    """
    from tabops.model.train import run_train, validate_candidates
    from tabops.registry.tracking import MlflowTracking

    extra = [f"train.trials={trials}"] if trials is not None else []
    extra += [f"train.timeout={timeout}"] if timeout is not None else []
    project = _spec(spec, [*(overrides or []), *extra])
    validate_candidates(project)
    ctx = _context(json_output)
    with ctx.progress.step("Opening the MLflow tracking store"):
        tracking = MlflowTracking(ctx.settings, project)
    result = run_train(project, ctx, tracking, snapshot=snapshot)
    if json_output:
        print_json(result.to_dict())
    else:
        _print_train(result)


def _print_train(result: object) -> None:
    from tabops.model.train import TrainResult

    assert isinstance(result, TrainResult)
    metric = result.metric
    columns = ["candidate", f"cv {metric}", f"test {metric}", "trials (pruned)", "seconds", "run"]
    rows = [
        (("★ " if c is result.best else "  ") + c.estimator, f"{c.cv_score:.4f}",
         f"{c.evaluation.metrics[metric]:.4f}", f"{c.trials} ({c.pruned})", f"{c.seconds:.1f}",
         c.run_id or "")
        for c in result.candidates
    ]  # fmt: skip
    out.print(table(f"Candidates of {result.project}", columns, rows))
    best = result.best.evaluation
    details = [(k, f"{v:.4f}") for k, v in best.metrics.items()]
    if best.threshold is not None:
        details.append(("threshold", f"{best.threshold:.4f}"))
    details += [
        (f"check: {c.name}", "[green]pass[/green]" if c.passed else f"[red]FAIL[/red] {c.detail}")
        for c in result.best.checks
    ]
    out.print(key_values(f"Best: {result.best.estimator}, test split", details))
    out.print(
        f"Data {result.snapshot_hash[:16]}, split {result.split_method} "
        f"({result.train_rows:,} train / {result.test_rows:,} test rows), "
        f"{result.seconds:.1f} s. Model: {result.best.model_uri}"
    )


ForceOption = Annotated[
    bool, typer.Option("--force", help="Promote even if the gate refuses (audited as forced).")
]


@app.command()
def register(
    spec: SpecOption = None,
    overrides: SetOption = None,
    run: Annotated[
        str | None, typer.Option(help="MLflow run to register; default: the last train's best.")
    ] = None,
    force: ForceOption = False,
    json_output: JsonOption = False,
) -> None:
    """Register the best trained candidate as a model version and gate it against the champion.

    The champion is re-scored on the candidate's frozen test rows; the candidate is promoted
    (alias 'champion', the old one becomes 'previous') only if it is not worse by more than
    gate.tolerance, its data passed the contract and its input schema is unchanged. Exit code 3
    when the gate refuses.

    Example: tabops register
    """
    from tabops.registry.lifecycle import run_register

    project = _spec(spec, overrides)
    ctx = _context(json_output)
    with ctx.progress.step("Registering and gating"):
        result = run_register(project, ctx, run_id=run, force=force)
    if json_output:
        print_json(result.to_dict())
    else:
        out.print(
            f"Registered [bold]{result.version.name}[/bold] version {result.version.version}."
        )
        _print_decision(result.decision)
    if not result.decision.promoted:
        raise typer.Exit(3)


@app.command()
def promote(
    version: Annotated[str, typer.Option("--version", "-v", help="The model version to promote.")],
    spec: SpecOption = None,
    overrides: SetOption = None,
    force: ForceOption = False,
    json_output: JsonOption = False,
) -> None:
    """Put a registered version through the gate and make it the champion if it passes.

    Example: tabops promote --version 3
    """
    from tabops.registry.lifecycle import run_promote

    project = _spec(spec, overrides)
    ctx = _context(json_output)
    with ctx.progress.step(f"Gating version {version}"):
        decision = run_promote(project, ctx, version, force=force)
    _report_decision(decision, json_output)


@app.command()
def rollback(
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Make the 'previous' version the champion again (audited).

    Example: tabops rollback
    """
    from tabops.registry.gate import rollback as roll_back
    from tabops.registry.lifecycle import registry_for

    project = _spec(spec, overrides)
    ctx = _context(json_output)
    decision = roll_back(project, ctx, registry_for(project, ctx))
    _report_decision(decision, json_output)


@app.command()
def history(
    spec: SpecOption = None,
    overrides: SetOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many decisions.")] = 20,
    json_output: JsonOption = False,
) -> None:
    """Every gate decision, promotion and rollback: who, when, from, to and why.

    Example: tabops history --limit 5
    """
    from tabops.registry.gate import history as audit_history

    project = _spec(spec, overrides)
    entries = audit_history(_context(json_output), project, limit)
    if json_output:
        print_json(entries)
        return
    rows = [
        (str(e["created_at"])[:19], e["action"], e["decision"], e["from_version"] or "-",
         e["to_version"] or "-", e["actor"], escape("; ".join(e["reasons"])))
        for e in entries
    ]  # fmt: skip
    columns = ["when", "action", "decision", "from", "to", "who", "why"]
    out.print(table(f"Promotion history of {project.name}", columns, rows))
    if not entries:
        out.print("Nothing promoted yet: run 'tabops train' then 'tabops register'.")


def _report_decision(decision: object, json_output: bool) -> None:
    from tabops.registry.gate import Decision

    assert isinstance(decision, Decision)
    if json_output:
        print_json(decision.to_dict())
    else:
        _print_decision(decision)
    if not decision.promoted:
        raise typer.Exit(3)


def _print_decision(decision: object) -> None:
    from tabops.registry.gate import Decision

    assert isinstance(decision, Decision)
    verdict = "[green]promoted[/green]" if decision.promoted else "[red]refused[/red]"
    out.print(
        f"{decision.action.capitalize()}: version {decision.candidate} {verdict} "
        f"(champion before: {decision.champion or 'none'})."
    )
    for reason in decision.reasons:
        out.print(f"  - {escape(reason)}")
    if decision.metrics:
        names = sorted({m for values in decision.metrics.values() for m in values})
        rows = [
            (name, *(f"{decision.metrics[who].get(name, float('nan')):.4f}"
                     for who in decision.metrics))
            for name in names
        ]  # fmt: skip
        out.print(table("On the same frozen test rows", ["metric", *decision.metrics], rows))


@app.command("run")
def run_all(
    spec: SpecOption = None,
    overrides: SetOption = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Optuna trials per candidate (train.trials).")
    ] = None,
    force: ForceOption = False,
    json_output: JsonOption = False,
) -> None:
    """Ingest, train, evaluate and register in one go, with a final summary.

    Exit code 3 when the batch is blocked or the gate keeps the current champion.

    Example: tabops run --trials 20
    """
    from tabops.lifecycle import run_lifecycle
    from tabops.model.train import validate_candidates

    extra = [f"train.trials={trials}"] if trials is not None else []
    project = _spec(spec, [*(overrides or []), *extra])
    validate_candidates(project)
    ctx = _context(json_output)
    result = run_lifecycle(project, ctx, force=force)
    if json_output:
        print_json(result.to_dict())
    else:
        _print_ingest(result.ingest)
        if result.train is not None:
            _print_train(result.train)
        if result.register is not None:
            _print_decision(result.register.decision)
        _print_run_summary(result)
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _print_run_summary(result: object) -> None:
    from tabops.lifecycle import RunResult

    assert isinstance(result, RunResult)
    pairs: list[tuple[str, object]] = [("data", result.ingest.status.replace("_", " "))]
    if result.train is not None:
        train = result.train
        best = train.best
        pairs += [
            ("data hash", train.snapshot_hash[:16]),
            ("best candidate", best.estimator),
            (f"test {train.metric}", f"{best.evaluation.metrics[train.metric]:.4f}"),
        ]
    if result.register is not None:
        decision = result.register.decision
        pairs += [
            ("model version", f"{result.register.version.name} v{result.register.version.version}"),
            ("gate", "promoted to champion" if decision.promoted else "refused"),
        ]
    out.print(key_values("Summary", pairs))


VersionOption = Annotated[
    str | None,
    typer.Option("--version", "-v", help="Model version; default: the current champion."),
]


@app.command("evaluate")
def evaluate_version(
    spec: SpecOption = None,
    overrides: SetOption = None,
    version: VersionOption = None,
    json_output: JsonOption = False,
) -> None:
    """Re-score a registered version on its frozen test rows and write its HTML report.

    Uses the spec's current evaluate settings (costs, slices, behavioural checks), so a new
    check can be tried on the champion without retraining.

    Example: tabops evaluate --version 2 --set evaluate.slices=\\[contract]
    """
    from tabops.registry.lifecycle import run_evaluate

    project = _spec(spec, overrides)
    ctx = _context(json_output)
    with ctx.progress.step("Scoring the frozen test rows"):
        result = run_evaluate(project, ctx, version)
    if json_output:
        print_json(result.to_dict())
        return
    pairs: list[tuple[str, object]] = [
        (k, f"{v:.4f}") for k, v in result.evaluation.metrics.items()
    ]
    if result.evaluation.threshold is not None:
        pairs.append(("threshold", f"{result.evaluation.threshold:.4f}"))
    pairs += [
        (f"check: {c.name}", "[green]pass[/green]" if c.passed else f"[red]FAIL[/red] {c.detail}")
        for c in result.checks
    ]
    out.print(key_values(f"{result.version.name} version {result.version.version}", pairs))
    for column, values in result.slices.items():
        metric = project.metric
        rows = [(value, f"{m['rows']:.0f}", f"{m[metric]:.4f}" if metric in m else "too few rows")
                for value, m in values.items()]  # fmt: skip
        out.print(table(f"Slices by {column}", [column, "rows", metric], rows))
    out.print(f"Report: [bold]{result.report}[/bold]")


@app.command()
def report(
    spec: SpecOption = None,
    overrides: SetOption = None,
    version: VersionOption = None,
    open_it: Annotated[bool, typer.Option("--open", help="Open it in a browser.")] = False,
) -> None:
    """Print the path of a version's training report (plots, metrics, slices, checks).

    Example: tabops report --open
    """
    from tabops.registry.lifecycle import report_path

    project = _spec(spec, overrides)
    path = report_path(project, _context(json_output=True), version)
    out.print(str(path), soft_wrap=True)  # one line, for scripts
    if open_it:
        import webbrowser

        webbrowser.open(path.as_uri())


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port for the MLflow UI.")] = 5000,
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the command instead of running it.")
    ] = False,
) -> None:
    """Start the MLflow UI on this workspace's tracking store (127.0.0.1 only).

    Example: tabops ui --port 5001
    """
    import shlex

    from tabops.store.db import redact

    settings = load_settings()
    if settings.mlflow_uri.startswith(("http://", "https://")):
        out.print(f"Tracking runs on a server: open {settings.mlflow_uri} in a browser.")
        return
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    command = [mlflow, "ui", "--backend-store-uri", settings.mlflow_uri,
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    if print_only:
        out.print(shlex.join(command).replace(settings.mlflow_uri, redact(settings.mlflow_uri)))
        return
    out.print(f"MLflow UI on http://127.0.0.1:{port} (Ctrl+C stops it)")
    os.execv(mlflow, command)


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

    project = _spec(spec, overrides)
    ctx = _context(json_output)
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
    entry_id: Annotated[int, typer.Argument(help="The quarantined row's id.")],
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one quarantined row: the raw row and every failed check."""
    from dataclasses import asdict

    from tabops.data.quarantine import get_entry

    project = _spec(spec, overrides)
    entry = get_entry(_context(json_output).store, project.name, entry_id)
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
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write.")],
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

    project = _spec(spec, overrides)
    entries = list_entries(_context(json_output).store, project.name, batch_id=batch, limit=None)
    count = export_entries(entries, project, output)
    if json_output:
        print_json({"output": str(output), "rows": count})
        return
    out.print(
        f"Wrote {count} row(s) to [bold]{output}[/bold]. Fix the values in the data columns "
        f"(leave _quarantine_id alone), then: tabops quarantine replay {output}"
    )


@quarantine_app.command("replay")
def quarantine_replay(
    fixes: Annotated[Path, typer.Argument(help="The fixed CSV from 'tabops quarantine export'.")],
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Re-check fixed rows; rows that pass join the dataset once, the rest stay quarantined."""
    from tabops.data.quarantine import replay

    project = _spec(spec, overrides)
    result = replay(project, _context(json_output), fixes)
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
    """List the project's snapshots: hash, rows, source and date, newest first."""
    from tabops.store.ledger import list_snapshots

    project = _spec(spec, overrides)
    snapshots = list_snapshots(_context(json_output).store, project.name)
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
    """List ingest batches (committed, blocked, replayed) with their row counts."""
    from tabops.store.ledger import list_batches

    project = _spec(spec, overrides)
    batches = list_batches(_context(json_output).store, project.name, limit=limit)
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
    """Validate the spec and print it as tabops reads it (overrides applied)."""
    project = _spec(spec, overrides)
    if json_output:
        print_json(project.model_dump(mode="json"))
        return
    out.print(dump_spec(project), end="")
    out.print(f"[green]✓[/green] valid spec, hash {project.spec_hash[:16]}")


def main() -> None:
    """Console entry point: run the app, turning user mistakes into clear messages.

    Click itself reports command-line mistakes (exit 2) and turns typer.Exit into the exit code.
    """
    try:
        app()
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
        err.print(
            f"[red bold]Internal error:[/red bold] {type(exc).__name__}: {escape(str(exc))}\n"
            "This is a bug in tabops; run again with --debug for the traceback and report it."
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
