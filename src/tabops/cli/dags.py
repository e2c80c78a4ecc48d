"""``tabops dags write``: the project's Airflow DAG files, one per flow (docs/airflow.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tabops.cli.app import JsonOption, check_output, dags_app
from tabops.console import out, print_json
from tabops.errors import TabopsError
from tabops.orchestrate.dag_files import write_dag_files
from tabops.spec import ProjectSpec, load_spec


@dags_app.command("write")
def write(
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Folder for the DAG files (created if missing), e.g. the project's dags/ or "
            "an Astro project's dags/.",
        ),
    ],
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            "-p",
            help="The project's folder (or its tabops.yaml). Default: the current folder.",
        ),
    ] = None,
    tabops_bin: Annotated[
        str | None,
        typer.Option(
            "--tabops-bin",
            help="The tabops executable the Airflow tasks run (tabops' own venv). Default: "
            "env TABOPS_BIN on the worker, else tabops on its PATH.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Write one small Airflow DAG file per flow (ingest, daily, retrain). Each task runs
    'tabops pipeline task' as a subprocess; Airflow needs only tabops installed without its
    dependencies (make setup-airflow). Regenerate after changing the spec's orchestration
    section.

    Example: tabops dags write --project examples/churn --out examples/churn/dags
    """
    if tabops_bin is not None and not tabops_bin.strip():
        raise TabopsError("--tabops-bin is empty; pass the path of the tabops executable.")
    check_output(out_dir, "--out", folder=True)
    spec = load_spec(project)
    written = write_dag_files(
        name=spec.name,
        project=spec.root,
        out=out_dir,
        settings=orchestration_settings(spec),
        tabops_bin=tabops_bin,
    )
    if json_output:
        print_json({"written": [str(path) for path in written]})
        return
    for path in written:
        out.print(f"Wrote {escape(str(path))}")


def orchestration_settings(spec: ProjectSpec) -> dict[str, Any]:
    """The spec's ``orchestration:`` section as plain JSON-like data."""
    return dict(spec.orchestration.model_dump(mode="json"))
