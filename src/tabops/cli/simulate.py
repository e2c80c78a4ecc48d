"""``tabops simulate``: generated transactions streamed to a server or a table."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tabops.cli.app import JsonOption, app, make_context
from tabops.console import err, key_values, out, print_json
from tabops.errors import TabopsError

if TYPE_CHECKING:
    from tabops.rules.engine import RuleSet


@app.command()
def simulate(
    to: Annotated[
        str | None,
        typer.Option(help="A running 'tabops serve' on this machine, e.g. http://127.0.0.1:8000."),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(help="Instead of a server: append transactions to this store table."),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            help="With --table: decide each row with these rules (decision, fired_rules and "
            "explanation columns). Default: rules.yaml in the current folder, if there is one."
        ),
    ] = None,
    project: Annotated[
        str, typer.Option(help="Project the released labels belong to (with --table).")
    ] = "fraud",
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Generator settings (docs/synth.md).")
    ] = None,
    days: Annotated[int | None, typer.Option(min=1, help="Simulated days to generate.")] = None,
    customers: Annotated[int | None, typer.Option(min=1, help="Number of customers.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    start_date: Annotated[
        str | None, typer.Option(help="First simulated day, YYYY-MM-DD (e.g. after training).")
    ] = None,
    warmup_days: Annotated[
        int,
        typer.Option(
            min=0,
            help="Generate this many days before the first one without sending them: they "
            "only warm the history features up (their windows reach 30 days back).",
        ),
    ] = 0,
    rate: Annotated[
        float, typer.Option(help="Transactions per second (without --day-seconds).")
    ] = 50.0,
    day_seconds: Annotated[
        float | None,
        typer.Option(help="Accelerated clock: one simulated day per this many seconds."),
    ] = None,
    count: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many transactions.")
    ] = 1000,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Requests in flight.")] = 8,
    json_output: JsonOption = False,
) -> None:
    """Stream generated card transactions to a server's /predict (or into a table) and release
    their labels later, when the simulated clock reaches each label's time.

    Bounded by --count and/or --duration; loopback servers only. Request ids are
    'tx-<transaction_id>', which is what the labels are released against (POST /feedback).

    Example: tabops simulate --to http://127.0.0.1:8000 --day-seconds 5 --duration 60 --count 100000
    """
    from tabops.synth.config import load_fraud_config
    from tabops.synth.fraud import generate_fraud
    from tabops.synth.simulate import (
        Pace,
        SimulationStats,
        simulate_http,
        simulate_table,
        with_warmup,
    )

    if (to is None) == (table is None):
        raise TabopsError("Give exactly one target: --to URL (a running server) or --table NAME.")
    pace = Pace(rate=rate, day_seconds=day_seconds, count=count, duration=duration)
    overrides: dict[str, object] = {"days": days, "n_customers": customers, "seed": seed}
    if start_date is not None:
        try:
            overrides["start_date"] = date.fromisoformat(start_date)
        except ValueError:
            raise TabopsError(f"--start-date {start_date}: use YYYY-MM-DD.") from None
    ctx = make_context(json_output)
    settings = load_fraud_config(config, overrides)
    dataset = with_warmup(settings, warmup_days, lambda c: generate_fraud(c, ctx.progress))
    keys = ctx.settings.api_keys
    api_key = keys[0].get_secret_value() if keys else None
    status = None if json_output else err.status("Simulating")

    def show(s: SimulationStats) -> None:
        if status is not None:
            status.update(
                f"sent {s.sent:,} · answered {s.answered:,} · errors {s.errors:,} · "
                f"decisions {dict(s.decisions)} · rules fired {s.rules_fired:,} · "
                f"labels released {s.labels_released:,}"
            )

    if status is not None:
        status.start()
    try:
        if to is not None:
            stats = asyncio.run(simulate_http(dataset, to, pace, api_key, concurrency, show))
        else:
            assert table is not None
            rule_set = _table_rules(rules)
            stats = simulate_table(dataset, ctx.store, table, project, pace, show, rule_set)
    finally:
        if status is not None:
            status.stop()
    if json_output:
        print_json(stats.to_dict())
        return
    out.print(key_values("Simulation", [
        ("target", to or f"table {table}"), ("sent", f"{stats.sent:,}"),
        ("answered", f"{stats.answered:,}"), ("errors", f"{stats.errors:,}"),
        ("decisions", ", ".join(f"{k}: {v:,}" for k, v in sorted(stats.decisions.items())) or "-"),
        ("rules fired", f"{stats.rules_fired:,}"),
        ("labels released", f"{stats.labels_released:,} ({stats.labels_pending:,} still pending, "
                            f"{stats.labels_unknown:,} for ids the server did not know)"),
        ("simulated until", stats.simulated_until), ("wall time", f"{stats.seconds:.1f} s"),
    ]))  # fmt: skip
    if stats.errors:
        raise typer.Exit(1)


def _table_rules(path: Path | None) -> RuleSet | None:
    """The rules a --table simulation decides with: ``path``, else ./rules.yaml if present."""
    from tabops.rules.engine import load_rules

    if path is None and not Path("rules.yaml").is_file():
        return None
    return load_rules(path or Path("rules.yaml"))
