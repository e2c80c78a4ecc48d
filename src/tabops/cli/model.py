"""Commands for models: train, evaluate, register, gate, promote, rollback, history, run, ui."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tabops.cli.app import (
    ForceOption,
    JsonOption,
    SetOption,
    SpecOption,
    VersionOption,
    app,
    make_context,
    read_spec,
)
from tabops.cli.data import print_ingest
from tabops.console import err, key_values, out, print_json, table
from tabops.settings import load_settings


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
    project = read_spec(spec, [*(overrides or []), *extra])
    validate_candidates(project)
    ctx = make_context(json_output)
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
    if result.best.report is not None:
        out.print(f"Report: {result.best.report}", soft_wrap=True)


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
    from tabops.monitor.reference import on_registered
    from tabops.release.register import run_register

    project = read_spec(spec, overrides)
    ctx = make_context(json_output)
    with ctx.progress.step("Registering and gating"):
        hook = on_registered(project, ctx)
        result = run_register(project, ctx, run_id=run, force=force, on_registered=hook)
    if json_output:
        print_json(result.to_dict())
    else:
        out.print(
            f"Registered [bold]{result.version.name}[/bold] version {result.version.version}."
        )
        if result.compiled:
            _print_compiled(result.compiled)
        _print_decision(result.decision)
    if not result.decision.promoted:
        raise typer.Exit(3)


def _print_compiled(report: dict[str, object]) -> None:
    if report["kind"] == "onnx":
        out.print(
            "Compiled for serving (ONNX): max score difference "
            f"{report['parity_max_abs_diff']:.2g} on {report['rows_checked']} frozen test rows."
        )
    else:
        err.print(f"[yellow]Serving will use the sklearn pipeline:[/yellow] {report['reason']}")


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
    from tabops.release.register import run_promote

    project = read_spec(spec, overrides)
    ctx = make_context(json_output)
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
    from tabops.registry.models import registry_for
    from tabops.release.gate import rollback as roll_back

    project = read_spec(spec, overrides)
    ctx = make_context(json_output)
    decision = roll_back(project, ctx, registry_for(project, ctx))
    _report_decision(decision, json_output)


@app.command()
def history(
    spec: SpecOption = None,
    overrides: SetOption = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many decisions.")] = 20,
    json_output: JsonOption = False,
) -> None:
    """Every gate decision, promotion and rollback, and every retrain the daily loop
    triggered or skipped (with the guardrail) and its result: who, when, from, to and why.

    Example: tabops history --limit 5
    """
    from tabops.release.gate import history as audit_history

    project = read_spec(spec, overrides)
    entries = audit_history(make_context(json_output), project, limit)
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
    from tabops.release.gate import Decision

    assert isinstance(decision, Decision)
    if json_output:
        print_json(decision.to_dict())
    else:
        _print_decision(decision)
    if not decision.promoted:
        raise typer.Exit(3)


def _print_decision(decision: object) -> None:
    from tabops.release.gate import Decision

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
    retrain: Annotated[
        bool,
        typer.Option(
            "--retrain",
            help="Train even when the champion was trained on the same data snapshot with the "
            "same spec (by default such a run stops after the ingest: it would register the "
            "same model again).",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Ingest, train, evaluate and register in one go, with a final summary. When neither
    the data nor the spec changed since the champion was trained, nothing is trained.

    Exit code 3 when the batch is blocked or the gate keeps the current champion.

    Example: tabops run --trials 20
    """
    from tabops.model.train import validate_candidates
    from tabops.pipeline import run_lifecycle

    extra = [f"train.trials={trials}"] if trials is not None else []
    project = read_spec(spec, [*(overrides or []), *extra])
    validate_candidates(project)
    ctx = make_context(json_output)
    result = run_lifecycle(project, ctx, force=force, retrain=retrain)
    if json_output:
        print_json(result.to_dict())
    else:
        print_ingest(result.ingest)
        if result.train is not None:
            _print_train(result.train)
        if result.register is not None:
            _print_decision(result.register.decision)
        if result.unchanged is not None:
            out.print(result.unchanged_message)
        _print_run_summary(result)
    if result.error is not None:  # after the ingest's result: that load stands
        raise result.error
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _print_run_summary(result: object) -> None:
    from tabops.pipeline import RunResult

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
    if result.unchanged is not None:
        pairs.append(("model version", f"{result.unchanged} (champion, unchanged)"))
    if result.register is not None:
        decision = result.register.decision
        pairs += [
            ("model version", f"{result.register.version.name} v{result.register.version.version}"),
            ("gate", "promoted to champion" if decision.promoted else "refused"),
        ]
    out.print(key_values("Summary", pairs))


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
    from tabops.release.evaluate import run_evaluate

    project = read_spec(spec, overrides)
    ctx = make_context(json_output)
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
    from tabops.release.evaluate import report_path

    project = read_spec(spec, overrides)
    path = report_path(project, make_context(json_output=True), version)
    out.print(str(path), soft_wrap=True)  # one line, for scripts
    if open_it:
        import webbrowser

        webbrowser.open(path.as_uri())


@app.command()
def ui(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port for the MLflow UI.")] = 5000,
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
