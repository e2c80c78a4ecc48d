"""``tabops serve``: the prediction service."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from tabops import redaction
from tabops.cli.app import JsonOption, SetOption, SpecOption, app, make_context, read_spec
from tabops.console import err, out, print_json, table
from tabops.errors import TabopsError

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


@app.command()
def serve(
    spec: SpecOption = None,
    overrides: SetOption = None,
    host: Annotated[
        str, typer.Option(help="Address to bind. Loopback by default; 0.0.0.0 exposes it.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (about one per core).")
    ] = 1,
    alias: Annotated[
        str, typer.Option(help="The registry alias to serve and watch for new versions.")
    ] = "champion",
    log_level: Annotated[
        str, typer.Option(help="uvicorn's log level: critical, error, warning, info, debug, trace.")
    ] = "warning",
) -> None:
    """Serve the champion model over HTTP: /predict, MLflow's /invocations, OIP v2, /feedback.

    The model is loaded from the registry, checked and warmed before the server reports ready;
    every prediction is logged to the tabops store (journaled locally while the store is down).
    Keys: TABOPS_API_KEYS (predictions) and TABOPS_ADMIN_KEY (reload); required when
    TABOPS_ENV=production. SIGTERM drains in-flight requests and the log, then exits 0.

    Example: tabops serve --port 8000   (docs at http://127.0.0.1:8000/docs)
    """
    from tabops.serve.runner import serve as run

    if log_level not in LOG_LEVELS:
        raise TabopsError(f"--log-level '{log_level}' is not valid; use {', '.join(LOG_LEVELS)}.")
    project = read_spec(spec, overrides)
    redaction.log_to_stderr(logging.getLogger("tabops"))

    def announce(version: str, bound: int) -> None:  # once listening: the address works
        err.print(
            f"Serving [bold]{project.name}[/bold] version {version} ('{alias}') at "
            f"http://{host}:{bound}  (docs /docs, metrics /metrics, health /readyz)"
        )

    run(project, overrides or [], alias, host, port, workers, log_level, announce)


@app.command()
def shadow(
    spec: SpecOption = None,
    overrides: SetOption = None,
    json_output: JsonOption = False,
) -> None:
    """Compare the champion with the challenger scored in shadow on the same requests.

    Agreement (same label) and score differences on every shared request, and each model's
    accuracy, precision, recall and ROC AUC on the requests whose labels have arrived
    (POST /feedback). Shadow scoring runs while a 'challenger' alias exists.

    Example: tabops shadow
    """
    from tabops.monitor.shadow import compare_shadow

    project = read_spec(spec, overrides)
    ctx = make_context(json_output)
    positive = project.positive_class
    comparisons = compare_shadow(ctx.store, project.name, project.task, positive)
    if json_output:
        print_json([c.to_dict() for c in comparisons])
        return
    if not comparisons:
        out.print("No shadow predictions yet: set the 'challenger' alias on a version and serve.")
        return
    for c in comparisons:
        out.print(
            f"[bold]champion v{c.champion} vs challenger v{c.challenger}[/bold]: {c.requests} "
            f"requests, agreement {c.agreement:.1%}, mean |score difference| "
            f"{c.mean_abs_score_difference:.4f}, {c.labelled} labelled"
        )
        if c.scores:
            names = sorted({k for s in c.scores for k in s.metrics})
            rows = [[f"v{s.version}", *(f"{s.metrics.get(n, float('nan')):.4f}" for n in names)]
                    for s in c.scores]  # fmt: skip
            out.print(table("Performance on labelled requests", ["version", *names], rows))
