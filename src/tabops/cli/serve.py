"""``tabops serve``: the prediction service."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from tabops.cli.app import SetOption, SpecOption, app, read_spec
from tabops.console import err


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
        str, typer.Option(help="uvicorn's log level: critical, error, warning, info, debug.")
    ] = "warning",
) -> None:
    """Serve the champion model over HTTP: /predict, MLflow's /invocations, OIP v2, /feedback.

    The model is loaded from the registry, checked and warmed before the server reports ready;
    every prediction is logged to the tabops store (journaled locally while the store is down).
    Keys: TABOPS_API_KEYS (predictions) and TABOPS_ADMIN_KEY (reload); required when
    TABOPS_ENV=production. SIGTERM drains in-flight requests and the log, then exits 0.

    Example: tabops serve --port 8000   (docs at http://127.0.0.1:8000/docs)
    """
    from tabops.serve.runner import preflight
    from tabops.serve.runner import serve as run

    project = read_spec(spec, overrides)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("tabops").addHandler(handler)
    logging.getLogger("tabops").propagate = False
    version = preflight(project, alias)
    err.print(
        f"Serving [bold]{project.name}[/bold] version {version} ('{alias}') at "
        f"http://{host}:{port}  (docs /docs, metrics /metrics, health /readyz)"
    )
    run(project, overrides or [], alias, host, port, workers, log_level)
