"""The monitoring report's plots, drawn with matplotlib as inline SVG text.

Figures are drawn on their own canvas, never through pyplot (no global state, no display), and
their text stays text (``svg.fonttype: none``): the page's font renders it, and the SVG stays
small. matplotlib is imported inside functions: most commands never draw.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tabops.monitor.report import FeatureView, MonitorReport
from tabops.monitor.sketches import CategorySketch, NumericSketch
from tabops.spec import MONITOR_WINDOWS, ColumnType

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REFERENCE, CURRENT, DRIFTED, ESTIMATED = "#8c96a3", "#1f6fb4", "#d62728", "#ff8c1a"
_BINS = 30
_TOP_CATEGORIES = 10
_GRID_COLUMNS = 4
_LABEL_CHARS = 18
_CARD = (4.2, 2.5)  # inches: a feature card's plot


def render(draw: Callable[[Figure], None], size: tuple[float, float]) -> str:
    """The SVG element of a figure drawn by ``draw`` (no XML prologue: it goes inline)."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasSVG(figure)
    draw(figure)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None,
                                                        "Format": None, "Type": None})  # fmt: skip
    figure.clear()
    text = buffer.getvalue()
    return text[text.index("<svg") :]


# --- distributions ------------------------------------------------------------------------------


def distribution(view: FeatureView) -> str | None:
    """Reference against current for one feature (None when either side has no values)."""
    ref, cur = view.reference, view.current
    if ref is None or cur is None or ref.count == 0 or cur.count == 0:
        return None
    if isinstance(ref, CategorySketch) and isinstance(cur, CategorySketch):
        labels, shares = _category_shares(ref, cur)
        return render(lambda f: _bars(f.add_subplot(), labels, shares), _CARD)
    assert isinstance(ref, NumericSketch) and isinstance(cur, NumericSketch)
    dates = view.kind == ColumnType.DATETIME
    if _few_values(ref, cur) and not dates:
        labels, shares = _value_shares(ref, cur)
        return render(lambda f: _bars(f.add_subplot(), labels, shares), _CARD)
    edges, shares = _histogram(ref, cur)
    return render(lambda f: _steps(f.add_subplot(), edges, shares, dates=dates), _CARD)


def _few_values(ref: NumericSketch, cur: NumericSketch) -> bool:
    """Whether both sides were counted exactly, with few enough values for one bar each."""
    if ref.values is None or cur.values is None:
        return False
    return len(ref.values.keys() | cur.values.keys()) <= _TOP_CATEGORIES


def _category_shares(
    ref: CategorySketch, cur: CategorySketch
) -> tuple[list[str], tuple[np.ndarray, np.ndarray]]:
    """The most frequent categories of either side (the rest as one), as shares of values."""
    ref_share = {k: n / ref.count for k, n in ref.counts.items()}
    cur_share = {k: n / cur.count for k, n in cur.counts.items()}
    keys = sorted(ref_share.keys() | cur_share.keys(),
                  key=lambda k: (-max(ref_share.get(k, 0), cur_share.get(k, 0)), k))  # fmt: skip
    top = keys[:_TOP_CATEGORIES]
    reference = [ref_share.get(k, 0.0) for k in top]
    current = [cur_share.get(k, 0.0) for k in top]
    if len(keys) > len(top) or ref.other or cur.other:
        top.append("(others)")
        reference.append(1.0 - sum(reference))
        current.append(1.0 - sum(current))
    return [_short(k) for k in top], (np.array(reference), np.array(current))


def _value_shares(
    ref: NumericSketch, cur: NumericSketch
) -> tuple[list[str], tuple[np.ndarray, np.ndarray]]:
    assert ref.values is not None and cur.values is not None
    values = sorted(ref.values.keys() | cur.values.keys())
    reference = np.array([ref.values.get(v, 0) / ref.count for v in values])
    current = np.array([cur.values.get(v, 0) / cur.count for v in values])
    return [f"{v:g}" for v in values], (reference, current)


def _histogram(
    ref: NumericSketch, cur: NumericSketch
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Shares of values in equal bins over both sides' 0.5-99.5% range (tails in the end
    bins), from the sketches' CDFs."""
    low = min(_quantile(ref, 0.005), _quantile(cur, 0.005))
    high = max(_quantile(ref, 0.995), _quantile(cur, 0.995))
    if not high > low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, _BINS + 1)

    def shares(sketch: NumericSketch) -> np.ndarray:
        inner = sketch.cdf(edges[1:-1])
        return np.diff(np.concatenate([[0.0], inner, [1.0]]))

    return edges, (shares(ref), shares(cur))


def _quantile(sketch: NumericSketch, rank: float) -> float:
    return float(sketch.sketch.get_quantile(rank))


def _bars(ax: Axes, labels: list[str], shares: tuple[np.ndarray, np.ndarray]) -> None:
    positions = np.arange(len(labels))
    ax.barh(positions - 0.2, shares[0], height=0.4, color=REFERENCE, label="reference")
    ax.barh(positions + 0.2, shares[1], height=0.4, color=CURRENT, label="current")
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    ax.set_xlabel("share of values")
    ax.legend(loc="lower right", fontsize="small")


def _steps(
    ax: Axes, edges: np.ndarray, shares: tuple[np.ndarray, np.ndarray], *, dates: bool
) -> None:
    ax.stairs(shares[0], edges, fill=True, color=REFERENCE, alpha=0.6, label="reference")
    ax.stairs(shares[1], edges, color=CURRENT, linewidth=1.6, label="current")
    ax.set_ylabel("share of values")
    if dates:
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(_epoch_date))
        ax.tick_params(axis="x", labelrotation=30)
    ax.legend(loc="upper right", fontsize="small")


def _epoch_date(seconds: float, _: object) -> str:
    return str(pd.Timestamp(seconds, unit="s").date())


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


# --- series over windows ------------------------------------------------------------------------


def drift_scores(report: MonitorReport) -> str | None:
    """One small panel per compared feature: its drift score per window against the method's
    threshold, drifted windows in red."""
    names = [v.name for v in report.features if not report.values("drift_score", v.name).empty]
    if not names:
        return None
    rows = math.ceil(len(names) / _GRID_COLUMNS)

    def draw(figure: Figure) -> None:
        axes = figure.subplots(rows, _GRID_COLUMNS, squeeze=False, sharex=True).ravel()
        for ax, name in zip(axes, names, strict=False):
            _drift_panel(ax, report, name)
        for ax in axes[len(names) :]:
            ax.set_axis_off()

    return render(draw, (11.5, 1.9 * rows + 0.4))


def _drift_panel(ax: Axes, report: MonitorReport, name: str) -> None:
    scores = report.values("drift_score", name)
    drifted = report.values("drifted", name)
    when = _times(scores["window_start"])
    ax.plot(when, scores["value"], marker="o", markersize=3, color=CURRENT)
    flagged = drifted["value"].to_numpy() == 1
    if flagged.any():
        marked = scores.set_index("window_start").loc[drifted["window_start"][flagged], "value"]
        ax.plot(_times(marked.index), marked, "o", color=DRIFTED, markersize=5)
    details = scores["details"].iloc[-1]
    if details.get("threshold") is not None:
        ax.axhline(details["threshold"], color=DRIFTED, linestyle="--", linewidth=0.8)
    ax.set_title(f"{_short(name)} ({details.get('method', '?')})", fontsize=9)
    _date_axis(ax, report)


def drift_share(report: MonitorReport) -> str | None:
    """The share of drifted features per window, with the dataset's threshold."""
    share = report.values("drift_share")
    if share.empty:
        return None

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        when = _times(share["window_start"])
        ax.plot(when, share["value"], marker="o", color=CURRENT, label="share of drifted features")
        threshold = share["details"].iloc[-1].get("threshold")
        if threshold is not None:
            ax.axhline(threshold, color=DRIFTED, linestyle="--", linewidth=1,
                       label=f"dataset drift at {threshold:g}")  # fmt: skip
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="upper left", fontsize="small")
        _date_axis(ax, report)

    return render(draw, (11.5, 2.4))


def prediction(report: MonitorReport) -> str | None:
    """Score drift (with its threshold) and the predicted-positive rate (with the
    reference's) per window."""
    drift, rate = report.values("score_drift"), report.values("positive_rate")
    if drift.empty and rate.empty:
        return None

    def draw(figure: Figure) -> None:
        left, right = figure.subplots(1, 2)
        if not drift.empty:
            left.plot(_times(drift["window_start"]), drift["value"], marker="o", color=CURRENT)
            _threshold(left, drift["details"].iloc[-1].get("threshold"))
            left.set_title(f"score drift ({drift['details'].iloc[-1].get('method', '?')})")
        _date_axis(left, report)
        if not rate.empty:
            right.plot(_times(rate["window_start"]), rate["value"], marker="o", color=CURRENT,
                       label="current")  # fmt: skip
            reference = rate["details"].iloc[-1].get("reference")
            if reference is not None:
                right.axhline(reference, color=REFERENCE, linestyle="--", label="reference")
            right.legend(loc="upper left", fontsize="small")
        right.set_title("predicted positive rate")
        _date_axis(right, report)

    return render(draw, (11.5, 2.6))


def performance(report: MonitorReport, metrics: Sequence[str]) -> str | None:
    """Per metric: realized (with its bootstrap 95% interval) and estimated on the same axes;
    then the label coverage."""
    if not metrics and report.values("label_coverage").empty:
        return None
    panels = len(metrics) + 1
    columns = min(panels, 3)
    rows = math.ceil(panels / columns)

    def draw(figure: Figure) -> None:
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax, metric in zip(axes, metrics, strict=False):
            _performance_panel(ax, report, metric)
        if metrics:
            axes[0].legend(loc="lower left", fontsize="x-small")  # the same in every panel
        _coverage_panel(axes[len(metrics)], report)
        for ax in axes[panels:]:
            ax.set_axis_off()

    return render(draw, (11.5, 2.6 * rows + 0.2))


def _performance_panel(ax: Axes, report: MonitorReport, metric: str) -> None:
    realized = report.values(metric).dropna(subset=["value"])
    estimated = report.values(f"estimated_{metric}").dropna(subset=["value"])
    if not realized.empty:
        when = _times(realized["window_start"])
        low = [d.get("low") for d in realized["details"]]
        high = [d.get("high") for d in realized["details"]]
        band = np.array([[lo, hi] for lo, hi in zip(low, high, strict=True)], dtype=float)
        ax.fill_between(when, band[:, 0], band[:, 1], color=CURRENT, alpha=0.18, linewidth=0,
                        label="realized 95% CI")  # fmt: skip
        ax.plot(when, realized["value"], marker="o", color=CURRENT, label="realized")
    if not estimated.empty:
        ax.plot(_times(estimated["window_start"]), estimated["value"], marker="s", markersize=3,
                linestyle="--", color=ESTIMATED, label="estimated (CBPE)")  # fmt: skip
    ax.set_title(metric)
    _date_axis(ax, report)


def _coverage_panel(ax: Axes, report: MonitorReport) -> None:
    coverage = report.values("label_coverage")
    ax.bar(_times(coverage["window_start"]), coverage["value"], width=_bar_width(report),
           color=REFERENCE)  # fmt: skip
    ax.set_ylim(0, 1.02)
    ax.set_title("label coverage (share of rows labelled)")
    _date_axis(ax, report)


def quality(report: MonitorReport) -> str | None:
    """Missing and unseen-category rates per feature and window (features that had any)."""
    panels = [(metric, _nonzero(report, metric)) for metric in ("missing_rate", "unseen_rate")]
    panels = [(metric, names) for metric, names in panels if names]
    if not panels:
        return None

    def draw(figure: Figure) -> None:
        for ax, (metric, names) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels,
                                       strict=True):  # fmt: skip
            for name in names:
                values = report.values(metric, name)
                ax.plot(_times(values["window_start"]), values["value"], marker="o",
                        markersize=3, label=_short(name))  # fmt: skip
            ax.set_title(metric.replace("_", " "))
            ax.legend(loc="upper left", fontsize="x-small")
            _date_axis(ax, report)

    return render(draw, (11.5, 2.6))


def _nonzero(report: MonitorReport, metric: str) -> list[str]:
    values = report.values(metric)
    return sorted(values[values["value"] > 0]["column_name"].dropna().unique().tolist())


# --- helpers ------------------------------------------------------------------------------------


def _times(stamps: pd.Series | pd.Index) -> np.ndarray:
    """UTC window starts as naive datetime64 (what matplotlib's date axis plots)."""
    return pd.DatetimeIndex(stamps).tz_convert("UTC").tz_localize(None).to_numpy()


def _date_axis(ax: Axes, report: MonitorReport) -> None:
    """Dates on x, over every covered window (one window is still a span, not a point)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    half = pd.Timedelta(seconds=MONITOR_WINDOWS[report.window] / 2)
    windows = _times(pd.Series(report.windows))
    ax.set_xlim(windows[0] - half, windows[-1] + half)
    locator = AutoDateLocator(minticks=2, maxticks=7)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.grid(alpha=0.3)


def _threshold(ax: Axes, value: float | None) -> None:
    if value is not None:
        ax.axhline(value, color=DRIFTED, linestyle="--", linewidth=0.8)


def _bar_width(report: MonitorReport) -> float:
    """Bars 80% of a window wide, in days (matplotlib's date unit)."""
    return 0.8 * MONITOR_WINDOWS[report.window] / 86_400
