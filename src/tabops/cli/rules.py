"""Commands for decision rules: ``tabops rules check`` and ``tabops rules backtest``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from tabops.cli.app import Group, JsonOption, SetOption, SpecOption, app, read_spec
from tabops.console import err, key_values, out, print_json, table
from tabops.errors import TabopsError
from tabops.spec import SPEC_FILENAME

if TYPE_CHECKING:
    import pandas as pd

    from tabops.rules.backtest import BacktestResult
    from tabops.rules.engine import RulesCheck
    from tabops.spec import ProjectSpec

rules_app = typer.Typer(
    cls=Group,
    help="Decision rules (rules.yaml): check them against the spec, backtest them on labelled "
    "data.",
    no_args_is_help=True,
)
app.add_typer(rules_app, name="rules")

RulesFileArgument = Annotated[
    Path | None,
    typer.Argument(
        help="The rules file. Default: rules.yaml beside the project's tabops.yaml "
        "(or in the current folder).",
        show_default=False,
    ),
]
NoSpecOption = Annotated[
    bool,
    typer.Option(
        "--no-spec",
        help=f"Do not look for a {SPEC_FILENAME}: check syntax and literals only, any field "
        "name allowed.",
    ),
]


def _project(
    spec: Path | None, overrides: list[str] | None, rules_file: Path | None, no_spec: bool
) -> ProjectSpec | None:
    """The spec to check fields against: --spec, else beside the rules file, else ./."""
    if no_spec:
        if spec is not None:
            raise TabopsError("Pass either --spec or --no-spec, not both.")
        return None
    if spec is not None:
        return read_spec(spec, overrides)
    for folder in ([rules_file.parent] if rules_file is not None else []) + [Path.cwd()]:
        if (folder / SPEC_FILENAME).is_file():
            return read_spec(folder, overrides)
    if overrides:
        raise TabopsError(f"--set needs a {SPEC_FILENAME}: none was found; pass --spec PATH.")
    return None


@rules_app.command("check")
def check(
    file: RulesFileArgument = None,
    spec: SpecOption = None,
    overrides: SetOption = None,
    no_spec: NoSpecOption = False,
    json_output: JsonOption = False,
) -> None:
    """Check a rules file and print each rule's parsed form, or what is wrong with it.

    Fields are checked against the spec's columns (and their types and categories) when a
    tabops.yaml is given with --spec or found beside the rules file or in the current folder.
    Exit code 2 if any rule (or the file) has a problem.

    Example: tabops rules check examples/fraud/rules.yaml --spec examples/fraud
    """
    from tabops.rules.engine import check_rules, rules_path

    project = _project(spec, overrides, file, no_spec)
    path = file if file is not None else rules_path(project)
    result = check_rules(path, project)
    if json_output:
        print_json(result.to_dict())
    else:
        _print_check(result)
    if not result.ok:
        raise typer.Exit(2)


def _print_check(result: RulesCheck) -> None:
    against = f"the columns of {result.spec}/{SPEC_FILENAME}" if result.spec else "no spec"
    rows = []
    for rule in result.rules:
        status = "[red]✗[/red]" if rule.errors else "[green]✓[/green]"
        shown = rule.parsed if rule.parsed is not None else (rule.condition or "")
        rows.append(
            (status, escape(rule.id or f"#{rule.index + 1}"), rule.line, rule.action or "",
             escape(shown))
        )  # fmt: skip
    title = f"Rules {escape(result.source)} (version {escape(result.version or '?')})"
    out.print(table(title, ["", "id", "line", "action", "parsed condition"], rows))
    if result.ok:
        out.print(
            f"[green]✓[/green] {len(result.rules)} rule(s) valid, checked against {against}; "
            f"digest {result.digest[:16]}"
        )
        return
    messages = result.messages()
    err.print(f"[red bold]Error:[/red bold] {escape(result.source)}: {len(messages)} problem(s)")
    for message in messages:
        first, *rest = message.split("\n")
        err.print(f"  - {escape(first)}", soft_wrap=True)
        for line in rest:
            err.print(f"  {escape(line)}", soft_wrap=True, highlight=False)
    err.print(f"Checked against {against}. Fix the file and run 'tabops rules check' again.")


@rules_app.command("backtest")
def backtest_command(
    data: Annotated[
        Path,
        typer.Option(
            "--data", "-d", help="Labelled rows: a CSV or Parquet file with the rules' fields."
        ),
    ],
    file: RulesFileArgument = None,
    label: Annotated[
        str | None,
        typer.Option(help="The label column. Default: the spec's target."),
    ] = None,
    positive: Annotated[
        str | None,
        typer.Option(
            help="The positive (fraud) label. Default: the spec's positive_class, or true / 1."
        ),
    ] = None,
    score: Annotated[
        str | None,
        typer.Option(help="A column of model scores, to backtest the model and the combination."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Reject rows whose score is at least this; required with --score."),
    ] = None,
    review_threshold: Annotated[
        float | None,
        typer.Option(help="Send rows whose score is at least this (below --threshold) to review."),
    ] = None,
    cost_fp: Annotated[
        float | None,
        typer.Option(
            "--cost-fp", min=0, help="Cost of alerting a negative. Default: evaluate.costs."
        ),
    ] = None,
    cost_fn: Annotated[
        float | None,
        typer.Option(
            "--cost-fn", min=0, help="Cost of missing a positive. Default: evaluate.costs."
        ),
    ] = None,
    spec: SpecOption = None,
    overrides: SetOption = None,
    no_spec: NoSpecOption = False,
    json_output: JsonOption = False,
) -> None:
    """Score the rules alone, the model alone and the combined policy on labelled data.

    For each: rows rejected and sent to review, precision and recall of the alerts (reject
    or review), alert rate, and cost (false positives and false negatives priced by
    evaluate.costs or --cost-fp/--cost-fn). The combined policy rejects when any reject rule
    fires or the score reaches --threshold.

    Example: tabops rules backtest --data scored.csv --score score --threshold 0.4
    """
    from tabops.rules.backtest import backtest
    from tabops.rules.engine import load_rules, rules_path

    project = _project(spec, overrides, file, no_spec)
    path = file if file is not None else rules_path(project)
    rules = load_rules(path, project)
    if label is None:
        if project is None:
            raise TabopsError("Pass --label COLUMN (no tabops.yaml gives a target).")
        label = project.target
    if positive is None and project is not None and label == project.target:
        positive = project.positive_class
    if (cost_fp is None) != (cost_fn is None):
        raise TabopsError("Pass both --cost-fp and --cost-fn, or neither.")
    costs: dict[str, float] | None = None
    if cost_fp is not None and cost_fn is not None:
        costs = {"false_positive": cost_fp, "false_negative": cost_fn}
    elif project is not None and project.evaluate.costs is not None:
        costs = project.evaluate.costs.model_dump()
    frame = _read_labelled(data, project)
    result = backtest(
        frame,
        rules,
        label,
        positive=positive,
        score=score,
        threshold=threshold,
        review_threshold=review_threshold,
        costs=costs,
    )
    if json_output:
        print_json({"rules_file": str(path), "data": str(data)} | result.to_dict())
        return
    _print_backtest(result, path, data)


_BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def _read_labelled(path: Path, project: ProjectSpec | None) -> pd.DataFrame:
    """A CSV or Parquet file as a frame; columns the spec declares get its types."""
    import pandas as pd

    from tabops.errors import DataError
    from tabops.spec import ColumnType, CsvOptions

    if not path.is_file():
        raise DataError(f"No data file at {path}: pass a CSV or Parquet file with --data.")
    options = project.source.csv if project is not None else CsvOptions()
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(
                path,
                sep=options.delimiter,
                encoding=options.encoding,
                na_values=options.null_values,
                skiprows=options.skip_rows,
                quoting=csv.QUOTE_MINIMAL if options.quoting else csv.QUOTE_NONE,
                keep_default_na=False,
                low_memory=False,
            )
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"Cannot read {path} as CSV or Parquet: {exc}") from exc
    for name, column in project.columns.items() if project is not None else []:
        if name not in frame.columns:
            continue
        values = frame[name]
        if column.null_values:  # the column's own words for no value
            values = values.mask(values.astype(str).str.strip().isin(column.null_values))
        if column.type in (ColumnType.CATEGORICAL, ColumnType.TEXT):
            frame[name] = values.astype(object).where(values.isna(), values.astype(str))
        elif column.type == ColumnType.BOOLEAN and values.dtype == object:
            words = values.astype(str).str.strip().str.lower()
            unknown = values.notna() & ~words.isin(list(_BOOLEAN_WORDS))
            if unknown.any():
                raise DataError(
                    f"{path}: column '{name}' is boolean in the spec but holds "
                    f"{values[unknown].iloc[0]!r} (row {int(unknown.to_numpy().argmax()) + 1})."
                )
            flags = words.map(_BOOLEAN_WORDS).astype(object)
            flags[values.isna()] = None
            frame[name] = flags
        elif column.type in (ColumnType.NUMERIC, ColumnType.INTEGER):
            try:
                frame[name] = pd.to_numeric(values)
            except (TypeError, ValueError) as exc:
                raise DataError(f"{path}: column '{name}' is not numeric: {exc}") from exc
    return frame


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _print_backtest(result: BacktestResult, path: Path, data: Path) -> None:
    pairs = [
        ("rules", f"{escape(str(path))} (version {escape(result.rules_version)})"),
        ("data", escape(str(data))),
        ("labelled rows", f"{result.rows:,} ({result.positives:,} positive)"),
        ("unlabelled rows (left out)", f"{result.unlabelled:,}"),
    ]
    if result.threshold is not None:
        band = (
            f", review from {result.review_threshold}"
            if result.review_threshold is not None
            else ""
        )
        pairs.append(("model threshold", f"reject from {result.threshold}{band}"))
    if result.costs is not None:
        pairs.append(
            (
                "costs",
                f"false positive {result.costs['false_positive']:g}, "
                f"false negative {result.costs['false_negative']:g}",
            )
        )
    out.print(key_values("Backtest", pairs))
    rows = [
        (m.policy, f"{m.rejected:,}", f"{m.reviewed:,}", _ratio(m.alert_rate),
         _ratio(m.precision), _ratio(m.recall), "—" if m.cost is None else f"{m.cost:,.2f}")
        for m in result.policies.values()
    ]  # fmt: skip
    headers = ["policy", "rejected", "reviewed", "alert rate", "precision", "recall", "cost"]
    out.print(table("Policies", headers, rows))
    rule_rows = [
        (escape(r.id), r.action, f"{r.fired:,}", _ratio(r.fire_rate), _ratio(r.precision))
        for r in result.rules
    ]
    out.print(table("Rules", ["id", "action", "fired", "fire rate", "precision"], rule_rows))
