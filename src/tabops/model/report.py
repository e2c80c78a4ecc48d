"""The evaluation report: PNG plots plus one self-contained HTML page about a model's test rows.

The page embeds its plots as base64 so the single file still shows everything when attached to
a run, downloaded or mailed alone. matplotlib is imported inside functions (it is slow to import
and most CLI commands never draw), and figures are drawn on their own Agg canvas, never through
pyplot: no global state, no display needed, safe from threads.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn import metrics as skm

from tabops.model.metrics import Evaluation, Scores
from tabops.spec import Task

if TYPE_CHECKING:
    from matplotlib.axes import Axes

REPORT_NAME = "report.html"
_DPI = 100
_SIZE = (5.0, 4.0)
_MAX_POINTS = 10_000  # scatter plots sample beyond this: same picture, smaller and faster
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 70em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail td { background: #fde8e8; }
figure { display: inline-block; margin: 0 1em 1em 0; }
figcaption { font-size: 0.9em; color: #555; }
"""


@dataclass(frozen=True)
class _Plot:
    name: str  # file stem
    caption: str
    png: bytes


def write_report(
    folder: Path,
    *,
    title: str,
    task: Task,
    y: np.ndarray,
    scores: Scores | None,
    predicted: np.ndarray | None,
    evaluation: Evaluation,
    positive: str | None,
    slices: dict[str, dict[str, dict[str, float]]] | None = None,
    checks: list[dict[str, Any]] | None = None,
    facts: dict[str, str] | None = None,
) -> list[Path]:
    """Write the task's plots (PNG) and ``report.html`` into ``folder``; return their paths.

    Classification needs ``scores`` (probabilities), regression ``predicted``. ``slices`` maps
    column -> slice value -> metric -> value; each check has name, kind, passed and detail.
    """
    y = np.asarray(y)
    plots = _plots(task, y, scores, predicted, evaluation, positive)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for plot in plots:
        path = folder / f"{plot.name}.png"
        path.write_bytes(plot.png)
        written.append(path)
    page = _page(title, task, len(y), evaluation, positive, plots, slices, checks, facts)
    report = folder / REPORT_NAME
    report.write_text(page, encoding="utf-8")
    return [*written, report]


def _plots(
    task: Task,
    y: np.ndarray,
    scores: Scores | None,
    predicted: np.ndarray | None,
    evaluation: Evaluation,
    positive: str | None,
) -> list[_Plot]:
    if task == Task.REGRESSION:
        if predicted is None:
            raise ValueError("a regression report needs the predicted values")
        return _regression_plots(y.astype(float), np.asarray(predicted, dtype=float))
    if scores is None or not scores.classes:
        raise ValueError("a classification report needs the class probabilities (scores)")
    if len(scores.classes) == 2:
        return _binary_plots(y, scores, evaluation, positive)
    return _multiclass_plots(y, scores, evaluation)


# --- drawing ------------------------------------------------------------------------------------


def _render(draw: Callable[[Axes], None], size: tuple[float, float] = _SIZE) -> bytes:
    """PNG bytes of one axes drawn by ``draw``, on a private Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=_DPI, layout="tight")
    FigureCanvasAgg(figure)
    draw(figure.add_subplot())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    figure.clear()  # nothing global holds the figure; this frees its artists now
    return buffer.getvalue()


def _diagonal(ax: Axes, low: float = 0.0, high: float = 1.0, label: str | None = None) -> None:
    ax.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1, label=label)


def _both_classes(truth: np.ndarray) -> bool:
    """Whether ROC and precision-recall curves are defined (they need both classes)."""
    return 0 < int(truth.sum()) < len(truth)


def _binary_plots(
    y: np.ndarray, scores: Scores, evaluation: Evaluation, positive: str | None
) -> list[_Plot]:
    positive = scores.positive(positive)  # as evaluate_classification
    score = scores.of_class(positive)
    truth = (y == positive).astype(int)
    threshold = evaluation.threshold if evaluation.threshold is not None else 0.5
    decided = (score >= threshold).astype(int)
    plots = []
    if _both_classes(truth):
        plots.append(_roc(truth, score, decided))
        plots.append(_precision_recall(truth, score, decided))
    plots.append(_calibration(truth, score))
    negative = next(c for c in scores.classes or [] if c != positive)
    labels = evaluation.labels or [negative, positive]
    counts = evaluation.confusion or skm.confusion_matrix(truth, decided, labels=[0, 1]).tolist()
    caption = f"Confusion matrix at threshold {threshold:.4f}"
    plots.append(_confusion(counts, labels, caption))
    return plots


def _roc(truth: np.ndarray, score: np.ndarray, decided: np.ndarray) -> _Plot:
    fpr, tpr, _ = skm.roc_curve(truth, score)
    auc = skm.auc(fpr, tpr)
    point = (decided[truth == 0].mean(), decided[truth == 1].mean())  # the threshold's place

    def draw(ax: Axes) -> None:
        ax.plot(fpr, tpr, label=f"ROC (AUC = {auc:.3f})")
        ax.plot(*point, "o", color="black", label="at the threshold")
        _diagonal(ax, label="chance")
        ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
        ax.legend(loc="lower right")

    return _Plot("roc", "ROC curve", _render(draw))


def _precision_recall(truth: np.ndarray, score: np.ndarray, decided: np.ndarray) -> _Plot:
    precision, recall, _ = skm.precision_recall_curve(truth, score)
    average = skm.average_precision_score(truth, score)
    prevalence = float(truth.mean())
    point = (
        decided[truth == 1].mean(),
        truth[decided == 1].mean() if decided.any() else 1.0,  # precision is 1 when none flagged
    )

    def draw(ax: Axes) -> None:
        ax.step(recall, precision, where="post", label=f"AP = {average:.3f}")
        ax.plot(*point, "o", color="black", label="at the threshold")
        ax.axhline(prevalence, linestyle="--", color="grey", linewidth=1, label="prevalence")
        ax.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve")
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower left")

    return _Plot("precision_recall", "Precision-recall curve", _render(draw))


def _calibration(truth: np.ndarray, score: np.ndarray) -> _Plot:
    from sklearn.calibration import calibration_curve

    observed, mean_predicted = calibration_curve(truth, score, n_bins=10)

    def draw(ax: Axes) -> None:
        ax.plot(mean_predicted, observed, marker="o", label="model")
        _diagonal(ax, label="perfectly calibrated")
        ax.set(
            xlabel="Mean predicted probability",
            ylabel="Fraction positive",
            title="Calibration (10 bins)",
            xlim=(0, 1),
            ylim=(0, 1),
        )
        ax.legend(loc="upper left")

    return _Plot("calibration", "Calibration curve", _render(draw))


def _confusion(counts: list[list[int]], labels: list[str], caption: str) -> _Plot:
    matrix = np.asarray(counts)
    side = min(4.0 + 0.4 * len(labels), 10.0)  # room for many classes, within reason

    def draw(ax: Axes) -> None:
        ax.imshow(matrix, cmap="Blues")
        middle = matrix.max() / 2 if matrix.size else 0
        for (row, column), count in np.ndenumerate(matrix):
            color = "white" if count > middle else "black"
            ax.text(column, row, str(count), ha="center", va="center", color=color)
        ticks = list(range(len(labels)))
        ax.set_xticks(ticks, labels, rotation=45 if len(labels) > 4 else 0)
        ax.set_yticks(ticks, labels)
        ax.set(xlabel="Predicted", ylabel="Actual", title=caption)

    return _Plot("confusion", caption, _render(draw, (side, side * 0.85)))


def _multiclass_plots(y: np.ndarray, scores: Scores, evaluation: Evaluation) -> list[_Plot]:
    classes = scores.classes or []
    probabilities = np.asarray(scores.values, dtype=float)
    labels = evaluation.labels or classes
    counts = evaluation.confusion
    if counts is None:
        predicted = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
        counts = skm.confusion_matrix(y, predicted, labels=classes).tolist()
    plots = [_confusion(counts, labels, "Confusion matrix (most probable class)")]
    present = [c for c in classes if _both_classes((y == c).astype(int))]
    if present:
        plots.append(_one_vs_rest_roc(y, probabilities, classes, present))
    return plots


def _one_vs_rest_roc(
    y: np.ndarray, probabilities: np.ndarray, classes: list[str], present: list[str]
) -> _Plot:
    def draw(ax: Axes) -> None:
        for label in present:
            fpr, tpr, _ = skm.roc_curve(y == label, probabilities[:, classes.index(label)])
            ax.plot(fpr, tpr, label=f"{label} (AUC = {skm.auc(fpr, tpr):.3f})")
        _diagonal(ax, label="chance")
        ax.set(xlabel="False positive rate", ylabel="True positive rate")
        ax.set_title("ROC, each class against the rest")
        ax.legend(loc="lower right", fontsize="small")

    return _Plot("roc", "ROC curves, one class against the rest", _render(draw))


def _sample(count: int) -> np.ndarray:
    """Row indices to scatter: all, or a fixed random sample of :data:`_MAX_POINTS`."""
    if count <= _MAX_POINTS:
        return np.arange(count)
    return np.sort(np.random.default_rng(0).choice(count, _MAX_POINTS, replace=False))


def _regression_plots(y: np.ndarray, predicted: np.ndarray) -> list[_Plot]:
    rows = _sample(len(y))
    actual, fitted = y[rows], predicted[rows]
    note = f" ({len(rows):,} of {len(y):,} rows)" if len(rows) < len(y) else ""

    def residuals(ax: Axes) -> None:
        ax.scatter(fitted, actual - fitted, s=6, alpha=0.5)
        ax.axhline(0, linestyle="--", color="grey", linewidth=1)
        ax.set(xlabel="Predicted", ylabel="Actual - predicted", title="Residuals" + note)

    def against(ax: Axes) -> None:
        ax.scatter(actual, fitted, s=6, alpha=0.5)
        both = np.concatenate([actual, fitted])
        finite = both[np.isfinite(both)]
        if finite.size:
            _diagonal(ax, float(finite.min()), float(finite.max()), label="perfect")
            ax.legend(loc="upper left")
        ax.set(xlabel="Actual", ylabel="Predicted", title="Predicted vs actual" + note)

    return [
        _Plot("residuals", "Residuals against predicted values", _render(residuals)),
        _Plot("predicted_vs_actual", "Predicted against actual values", _render(against)),
    ]


# --- HTML ---------------------------------------------------------------------------------------


def _text(value: object) -> str:
    return html.escape(str(value))


def _number(value: float) -> str:
    """Counts as integers, other values to four decimals, undefined metrics as n/a."""
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.0f}" if value.is_integer() else f"{value:.4f}"


def _table(
    header: Sequence[str], rows: Sequence[Sequence[object]], failing: Sequence[bool] = ()
) -> str:
    """An HTML table; every cell is escaped, numbers are right-aligned and formatted."""
    head = "".join(f"<th>{_text(name)}</th>" for name in header)
    body = []
    for index, row in enumerate(rows):
        cells = "".join(_cell(value) for value in row)
        marked = ' class="fail"' if index < len(failing) and failing[index] else ""
        body.append(f"<tr{marked}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float | int | np.number) and not isinstance(value, bool):
        return f'<td class="num">{_number(float(value))}</td>'
    return f"<td>{_text(value)}</td>"


def _slices_table(slices: dict[str, dict[str, dict[str, float]]]) -> str:
    names: dict[str, None] = {}  # every metric any slice has, in first-seen order
    for groups in slices.values():
        for values in groups.values():
            names.update(dict.fromkeys(values))
    rows = [
        [column, value, *(metrics.get(name, math.nan) for name in names)]
        for column, groups in slices.items()
        for value, metrics in groups.items()
    ]
    return _table(["column", "slice", *names], rows)


def _checks_table(checks: list[dict[str, Any]]) -> str:
    rows = [
        [c.get("name", ""), c.get("kind", ""), "passed" if c.get("passed") else "FAILED",
         c.get("detail", "")]
        for c in checks
    ]  # fmt: skip
    return _table(
        ["check", "kind", "result", "detail"], rows, [not c.get("passed") for c in checks]
    )


def _figure(plot: _Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    caption = _text(plot.caption)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _page(
    title: str,
    task: Task,
    rows: int,
    evaluation: Evaluation,
    positive: str | None,
    plots: list[_Plot],
    slices: dict[str, dict[str, dict[str, float]]] | None,
    checks: list[dict[str, Any]] | None,
    facts: dict[str, str] | None,
) -> str:
    summary = f"{task.value} · {rows:,} rows evaluated"
    if task == Task.CLASSIFICATION and evaluation.threshold is not None:
        summary += f" · positive class: {evaluation.labels[-1] if evaluation.labels else positive}"
    parts = [f"<h1>{_text(title)}</h1>", f"<p>{_text(summary)}</p>"]
    if facts:
        parts += ["<h2>Facts</h2>", _table(["fact", "value"], list(facts.items()))]
    parts += ["<h2>Metrics</h2>", _table(["metric", "value"], list(evaluation.metrics.items()))]
    if evaluation.threshold is not None:
        parts.append(f"<p>Decision threshold: <strong>{evaluation.threshold:.4f}</strong></p>")
    if slices:
        parts += ["<h2>Metrics by slice</h2>", _slices_table(slices)]
    if checks:
        passed = sum(1 for check in checks if check.get("passed"))
        parts += [f"<h2>Behavioural checks ({passed} of {len(checks)} passed)</h2>"]
        parts.append(_checks_table(checks))
    if plots:
        parts += ["<h2>Plots</h2>", *(_figure(plot) for plot in plots)]
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_text(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def report_pipeline(
    folder: Path, pipeline: Any, x: Any, y: np.ndarray, spec: Any, evaluation: Evaluation,
    *, title: str, slices: dict[str, dict[str, dict[str, float]]] | None = None,
    checks: list[dict[str, Any]] | None = None, facts: dict[str, str] | None = None,
) -> list[Path]:  # fmt: skip
    """:func:`write_report` for a fitted pipeline scored on rows ``x`` with truth ``y``."""
    classification = spec.task == Task.CLASSIFICATION
    scores = Scores.of(pipeline, x) if classification else None
    return write_report(
        folder,
        title=title,
        task=spec.task,
        y=y,
        scores=scores,
        predicted=None if classification else np.asarray(pipeline.predict(x), dtype=float),
        evaluation=evaluation,
        positive=spec.positive_class,
        slices=slices,
        checks=checks,
        facts=facts,
    )
