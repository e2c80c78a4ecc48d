"""The monitoring report as one self-contained HTML page: inline CSS, plots as inline SVG, no
script and nothing fetched, so the file shows everything when mailed or opened offline."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from tabops import storage
from tabops.errors import TabopsError
from tabops.extras import missing_extra
from tabops.monitor import report_plots as plots
from tabops.monitor.performance import BINARY_METRICS, REGRESSION_METRICS
from tabops.monitor.report import FeatureView, MonitorReport
from tabops.monitor.sketches import NumericSketch
from tabops.spec import Task

SECTIONS = {
    "summary": "Summary",
    "features": "Features",
    "drift": "Drift over time",
    "prediction": "Prediction drift",
    "performance": "Performance",
    "quality": "Data quality",
    "alerts": "Alerts",
}
_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1d232b; margin: 0; background: #f5f6f8; }
main { max-width: 1180px; margin: 0 auto; padding: 1.2em 1.5em 3em; }
h1 { font-size: 1.6em; margin: 0.2em 0; }
h2 { font-size: 1.25em; margin: 1.8em 0 0.5em; border-bottom: 2px solid #d5d9e0; }
h3 { font-size: 1.05em; margin: 0 0 0.3em; }
nav a { margin-right: 1em; color: #1f6fb4; text-decoration: none; }
.facts { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 1em 0; }
.fact { background: #fff; border: 1px solid #d5d9e0; border-radius: 6px; padding: 0.5em 0.9em; }
.fact b { display: block; font-size: 1.3em; }
.fact.alarm { border-color: #d62728; background: #fdecec; }
table { border-collapse: collapse; background: #fff; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #d5d9e0; padding: 0.2em 0.6em; text-align: left; }
th { background: #eceff3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fdecec; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(350px, 1fr)); gap: 1em; }
.card { background: #fff; border: 1px solid #d5d9e0; border-radius: 6px; padding: 0.8em; }
.card.drifted { border-left: 5px solid #d62728; }
.badge { font-size: 0.8em; padding: 0.1em 0.5em; border-radius: 1em; background: #e3f1e3; }
.badge.drifted { background: #d62728; color: #fff; }
.badge.skipped { background: #eceff3; }
.plot { background: #fff; border: 1px solid #d5d9e0; border-radius: 6px; padding: 0.5em;
        margin: 0.5em 0 1em; }
.plot svg, .card svg { width: 100%; height: auto; }
.note { color: #59636e; }
summary { cursor: pointer; color: #1f6fb4; margin: 0.5em 0; }
"""


_Location = TypeVar("_Location", Path, str)


def write_report(report: MonitorReport, location: _Location) -> _Location:
    """Write the page to ``location`` (a path or a storage URL); returns it. The plots need
    matplotlib (``tabops[train]``)."""
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as exc:  # a serving-only install: say which extra to add
        raise TabopsError(missing_extra(exc) or str(exc)) from exc
    storage.write_bytes(str(location), page(report).encode("utf-8"))
    return location


def page(report: MonitorReport) -> str:
    """The whole HTML document."""
    title = f"Monitoring report: {report.project}"
    nav = "".join(f'<a href="#{key}">{name}</a>' for key, name in SECTIONS.items())
    body = [
        f"<h1>{_text(title)}</h1>",
        f"<nav>{nav}</nav>",
        _summary(report),
        _features(report),
        _drift(report),
        _prediction(report),
        _performance(report),
        _quality(report),
        _alerts(report),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body><main>\n{''.join(body)}\n</main></body>\n</html>\n"
    )


# --- sections -----------------------------------------------------------------------------------


def _summary(report: MonitorReport) -> str:
    windows = report.windows
    span = f"{_day(windows[0])} to {_day(report.latest[1])}"
    versions = ", ".join(f"{v} ({n:,} rows)" for v, n in sorted(report.versions.items()))
    alarm = " alarm" if report.firing else ""
    facts = [
        _fact("model versions", versions),
        _fact(f"{report.cadence} windows", f"{len(windows):,}", span),
        _fact("predictions", f"{report.rows:,}"),
        _fact("alerts firing now", ", ".join(report.firing) or "none", css=alarm),
    ]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        _heading("summary")
        + f'<div class="facts">{"".join(facts)}</div>'
        + f'<p class="note">Latest window {_day(report.latest[0])} to {_day(report.latest[1])}, '
        f"measured for version {_text(report.latest_version)}. Where several versions served a "
        "window, the one that served the most rows speaks for it. Generated "
        f"{generated}.</p>"
    )


def _fact(label: str, value: str, detail: str = "", css: str = "") -> str:
    more = f"<br><small>{_text(detail)}</small>" if detail else ""
    return f'<div class="fact{css}">{_text(label)}<b>{_text(value)}</b>{more}</div>'


def _features(report: MonitorReport) -> str:
    parts = [_heading("features")]
    parts.append(
        f'<p class="note">Reference (the training snapshot) against the latest window '
        f"({_day(report.latest[0])}), drifted features first. Scores are p-values for ks, "
        "chisquare and z (drift below the threshold) and distances for wasserstein and "
        "jensenshannon (drift at or above it).</p>"
    )
    if report.reference_note:
        parts.append(f'<p class="note">No distributions: {_text(report.reference_note)}.</p>')
    rows = [[_link(v), v.kind.value if v.kind else "", v.method or "", v.score, v.threshold,
             v.psi, _verdict(v)] for v in report.features]  # fmt: skip
    header = ["feature", "type", "method", "score", "threshold", "PSI", "verdict"]
    bad = [bool(v.drifted) for v in report.features]
    parts.append(_table(header, rows, bad, raw_first=True))
    drifted = [v for v in report.features if v.drifted]
    others = [v for v in report.features if not v.drifted]
    if drifted:
        parts.append(_cards(drifted, report.logged))
    if others:  # folded when some drifted: those are what the reader came for
        state = "" if drifted else " open"
        parts.append(
            f"<details{state}><summary>{len(others)} features without drift, or not "
            f"compared: their distributions</summary>{_cards(others, report.logged)}</details>"
        )
    return "".join(parts)


def _cards(views: Sequence[FeatureView], logged: bool) -> str:
    return f'<div class="cards">{"".join(_card(v, logged) for v in views)}</div>'


#: Why a card has no plot: the prediction log keeps its rows; other series keep verdicts.
_NO_PLOT = {
    True: "No distribution to draw: a side has no values.",
    False: "No distribution to draw: this series keeps its measurements (scores, rates), "
    "not its rows; the prediction log's report draws them.",
}


def _card(view: FeatureView, logged: bool) -> str:
    css = " drifted" if view.drifted else ""
    badge = _badge(view)
    numbers = _card_numbers(view)
    plot = plots.distribution(view)
    drawn = plot or f'<p class="note">{_NO_PLOT[logged]}</p>'
    note = f'<p class="note">{_text(view.note)}</p>' if view.note else ""
    return (
        f'<div class="card{css}" id="{_anchor(view.name)}">'
        f"<h3>{_text(view.name)} {badge}</h3>"
        f"<div>{numbers}</div>{note}{drawn}</div>"
    )


def _badge(view: FeatureView) -> str:
    if view.drifted is None:
        return '<span class="badge skipped">not compared</span>'
    if view.drifted:
        return '<span class="badge drifted">drifted</span>'
    return '<span class="badge">no drift</span>'


def _card_numbers(view: FeatureView) -> str:
    facts = []
    if view.method:
        facts.append(f"{view.method} = {_number(view.score)} (threshold {_number(view.threshold)})")
    if view.psi is not None:
        facts.append(f"PSI {_number(view.psi)}")
    for side, sketch in (("reference", view.reference), ("current", view.current)):
        if sketch is not None:
            total = sketch.count + sketch.missing
            missing = sketch.missing / total if total else math.nan
            mean = f", mean {_number(sketch.mean)}" if isinstance(sketch, NumericSketch) else ""
            facts.append(f"{side}: {sketch.count:,} values, {_percent(missing)} missing{mean}")
    return "<br>".join(_text(f) for f in facts)


def _drift(report: MonitorReport) -> str:
    share, scores = plots.drift_share(report), plots.drift_scores(report)
    parts = [_heading("drift")]
    if share:
        parts.append(_plot(share, "Share of drifted features per window (dataset drift at or "
                                  "above the dashed line)"))  # fmt: skip
    if scores:
        parts.append(_plot(scores, "Drift score per feature and window; dashed: the method's "
                                   "threshold; red points: drifted windows"))  # fmt: skip
    if not share and not scores:
        parts.append('<p class="note">No drift was measured in these windows.</p>')
    return "".join(parts)


def _prediction(report: MonitorReport) -> str:
    drawn = plots.prediction(report)
    if drawn is None:
        return _heading("prediction") + '<p class="note">No scores to compare were logged.</p>'
    return _heading("prediction") + _plot(
        drawn, "The score distribution's drift per window (dashed: threshold) and the share of "
        "rows predicted positive (dashed: the reference's share)",
    )  # fmt: skip


def _performance(report: MonitorReport) -> str:
    present = set(report.series["metric"])
    known = REGRESSION_METRICS if report.task == Task.REGRESSION else BINARY_METRICS
    ranked = sorted(known, key=lambda m: m != report.primary_metric)  # the primary first
    metrics = [m for m in ranked if m in present or f"estimated_{m}" in present]
    parts = [_heading("performance")]
    if not any(m in present for m in metrics):
        parts.append(f'<p class="note" id="no-labels">{_text(_no_realized(report, metrics))}</p>')
    drawn = plots.performance(report, metrics)
    if drawn:
        caption = ("Realized performance with its bootstrap 95% interval, estimated "
                   "performance (CBPE, from the scores alone) on the same axes, and the share "
                   "of rows labelled")  # fmt: skip
        parts.append(_plot(drawn, caption, "performance"))
    parts.append(_performance_table(report, metrics[0] if metrics else None))
    return "".join(parts)


def _no_realized(report: MonitorReport, metrics: Sequence[str]) -> str:
    """Why no realized performance is drawn."""
    if report.values("label_coverage")["value"].fillna(0).gt(0).any():
        return ("Labels arrived, but no realized metric was measured for these windows (they "
                "were measured before tabops measured this model's): only the label coverage "
                "is shown. Run 'tabops monitor run' again to measure them.")  # fmt: skip
    estimated = " Estimated performance (CBPE) needs no labels: see below." if metrics else ""
    arrive = ("POST /feedback or a label load" if report.logged
              else "the target column of the rows measured")  # fmt: skip
    return ("No labels have arrived for these windows, so realized performance cannot be "
            f"shown yet: it appears once labels come in ({arrive})." + estimated)  # fmt: skip


def _performance_table(report: MonitorReport, metric: str | None) -> str:
    """The exact values per window: coverage, and the primary metric realized and estimated."""
    header = ["window", "rows", "label coverage"]
    if metric is not None:
        header += [f"{metric} realized", "95% interval", f"{metric} estimated"]
    rows = []
    for start in report.windows:
        row: list[Any] = [_day(start), _value(report, "rows", start),
                          _value(report, "label_coverage", start)]  # fmt: skip
        if metric is not None:
            interval = _details(report, metric, start)
            low, high = interval.get("low"), interval.get("high")
            row += [
                _value(report, metric, start),
                "" if low is None else f"{_number(low)} to {_number(high)}",
                _value(report, f"estimated_{metric}", start),
            ]
        rows.append(row)
    return _table(header, rows)


def _quality(report: MonitorReport) -> str:
    drawn = plots.quality(report)
    parts = [_heading("quality")]
    if drawn:
        caption = ("Share of missing values, and of categories the reference never saw, per "
                   "feature and window (features with any)")  # fmt: skip
        parts.append(_plot(drawn, caption))
    else:
        parts.append('<p class="note">No missing values and no unseen categories in any '
                     "window.</p>")  # fmt: skip
    for metric, what in (("rejected_requests", "requests serving refused"),
                         ("refused_rows", "rows the data contract refused")):  # fmt: skip
        refused = report.values(metric)
        if not refused.empty:
            rows = [[_day(s), v] for s, v in zip(refused["window_start"], refused["value"],
                                                  strict=True)]  # fmt: skip
            parts.append(_table(["window", what], rows))
    return "".join(parts)


def _alerts(report: MonitorReport) -> str:
    parts = [_heading("alerts")]
    if not report.transitions:
        parts.append('<p class="note">No alert fired or resolved in these windows.</p>')
        return "".join(parts)
    rows = [
        [e["alert"], e["state"], _day(e["window_end"]), _about(e), e["value"], e["threshold"],
         e["severity"], "yes" if e.get("notified_at") else "not yet"]
        for e in report.transitions
    ]  # fmt: skip
    firing = [e["state"] == "firing" for e in report.transitions]
    header = ["alert", "state", "window ending", "metric", "value", "threshold", "severity",
              "notified"]  # fmt: skip
    parts.append(_table(header, rows, firing))
    return "".join(parts)


def _about(event: dict[str, Any]) -> str:
    column = event.get("column_name")
    return f"{event['metric']}[{column}]" if column else str(event["metric"])


# --- helpers ------------------------------------------------------------------------------------


def _heading(key: str) -> str:
    return f'<h2 id="{key}">{SECTIONS[key]}</h2>'


def _plot(svg: str, caption: str, name: str = "") -> str:
    marker = f' id="plot-{name}"' if name else ""
    return (
        f'<figure class="plot"{marker}>{svg}<figcaption class="note">{_text(caption)}'
        "</figcaption></figure>"
    )


def _value(report: MonitorReport, metric: str, start: datetime) -> float | str:
    rows = report.values(metric)
    found = rows[rows["window_start"] == start]["value"]
    return "" if found.empty else float(found.iloc[0])


def _details(report: MonitorReport, metric: str, start: datetime) -> dict[str, Any]:
    rows = report.values(metric)
    found = rows[rows["window_start"] == start]["details"]
    return {} if found.empty else dict(found.iloc[0])


def _verdict(view: FeatureView) -> str:
    if view.drifted is None:
        return "not compared"
    return "DRIFTED" if view.drifted else "no drift"


def _link(view: FeatureView) -> str:
    return f'<a href="#{_anchor(view.name)}">{_text(view.name)}</a>'


def _anchor(name: str) -> str:
    return "feature-" + html.escape("".join(c if c.isalnum() else "-" for c in name))


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    bad: Sequence[bool] = (),
    *,
    raw_first: bool = False,
) -> str:
    """An HTML table, cells escaped (but the first when ``raw_first``: a link already built),
    numbers right-aligned."""
    head = "".join(f"<th>{_text(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        cells = [_cell(v) for v in row]
        if raw_first:
            cells[0] = f"<td>{row[0]}</td>"
        marked = ' class="bad"' if index < len(bad) and bad[index] else ""
        body.append(f"<tr{marked}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f'<td class="num">{_number(float(value))}</td>'
    if value is None:
        return "<td></td>"
    return f"<td>{_text(value)}</td>"


def _number(value: float | None) -> str:
    """Counts as integers, other values to four significant digits, undefined ones as n/a."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4g}"


def _percent(share: float) -> str:
    return "n/a" if not math.isfinite(share) else f"{share:.1%}"


def _day(moment: Any) -> str:
    """A window bound: the date alone at midnight UTC, else the time too."""
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return str(stamp.date()) if stamp == stamp.normalize() else stamp.strftime("%Y-%m-%d %H:%M")


def _text(value: object) -> str:
    return html.escape(str(value))
