from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tabops.model.metrics import (
    Evaluation,
    Scores,
    evaluate_classification,
    evaluate_regression,
)
from tabops.model.report import write_report
from tabops.spec import Task

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EMBEDDED = "data:image/png;base64,"
HOSTILE = "<script>alert('x')</script>"


def binary_case(rows: int = 300) -> tuple[np.ndarray, Scores, Evaluation]:
    rng = np.random.default_rng(0)
    signal = rng.normal(size=rows)
    y = np.where(signal + rng.normal(scale=0.7, size=rows) > 0, "yes", "no").astype(object)
    p_yes = 1 / (1 + np.exp(-2 * signal))
    scores = Scores(["no", "yes"], np.column_stack([1 - p_yes, p_yes]))
    return y, scores, evaluate_classification(y, scores, "yes")


def multiclass_case(rows: int = 300) -> tuple[np.ndarray, Scores, Evaluation]:
    rng = np.random.default_rng(1)
    classes = ["high", "low", "mid"]  # sorted, as a fitted pipeline's classes_ are
    truth = rng.integers(0, 3, size=rows)
    logits = rng.normal(size=(rows, 3)) + 2 * np.eye(3)[truth]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.asarray(classes, dtype=object)[truth]
    scores = Scores(classes, probabilities)
    return y, scores, evaluate_classification(y, scores, None)


def regression_case(rows: int = 300) -> tuple[np.ndarray, np.ndarray, Evaluation]:
    rng = np.random.default_rng(2)
    y = rng.normal(loc=50, scale=10, size=rows)
    predicted = y + rng.normal(scale=3, size=rows)
    return y, predicted, evaluate_regression(y, predicted)


def names(paths: list[Path]) -> set[str]:
    return {path.name for path in paths}


def assert_real_png(path: Path) -> None:
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), path
    assert len(data) > 5_000, path  # axes, curves and text, not an empty canvas
    image = imread(path)
    height, width, channels = image.shape
    assert height >= 300 and width >= 300 and channels in (3, 4), (path, image.shape)
    rgb = (image[..., :3] * 255).astype(np.uint32)
    colours = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
    assert len(colours) > 20, path  # drawn lines and anti-aliased text, not a flat fill
    saturation = image[..., :3].max(axis=2) - image[..., :3].min(axis=2)
    assert (saturation > 0.2).mean() > 0.002, path  # data in colour, not only grey empty axes


def embedded_images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r"base64,([A-Za-z0-9+/=]+)", page)]


def test_binary_report_writes_four_plots_and_embeds_them(tmp_path: Path) -> None:
    y, scores, evaluation = binary_case()
    paths = write_report(
        tmp_path / "report", title="Churn", task=Task.CLASSIFICATION, y=y, scores=scores,
        predicted=None, evaluation=evaluation, positive="yes",
    )  # fmt: skip
    assert names(paths) == {
        "roc.png", "precision_recall.png", "calibration.png", "confusion.png", "report.html",
    }  # fmt: skip
    assert all(path.parent == tmp_path / "report" and path.exists() for path in paths)
    for path in paths:
        if path.suffix == ".png":
            assert_real_png(path)
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert page.count(EMBEDDED) == 4
    pngs = {path.read_bytes() for path in paths if path.suffix == ".png"}
    assert set(embedded_images(page)) == pngs  # the page carries the very files written


def test_binary_page_shows_every_metric_and_the_threshold(tmp_path: Path) -> None:
    y, scores, evaluation = binary_case()
    assert evaluation.threshold is not None
    write_report(
        tmp_path, title="Churn", task=Task.CLASSIFICATION, y=y, scores=scores, predicted=None,
        evaluation=evaluation, positive="yes",
        facts={"data snapshot": "ab12cd34", "model version": "7"},
    )  # fmt: skip
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<title>Churn</title>" in page and "<h1>Churn</h1>" in page
    for metric, value in evaluation.metrics.items():
        assert f'<td>{metric}</td><td class="num">{value:.4f}</td>' in page, metric
    assert f"<strong>{evaluation.threshold:.4f}</strong>" in page
    assert "<td>data snapshot</td><td>ab12cd34</td>" in page
    assert "<td>model version</td><td>7</td>" in page
    assert "<script" not in page.lower() and "<link" not in page.lower()  # no JS, no external CSS


def test_multiclass_report_has_confusion_and_one_vs_rest_roc(tmp_path: Path) -> None:
    y, scores, evaluation = multiclass_case()
    paths = write_report(
        tmp_path, title="Grade", task=Task.CLASSIFICATION, y=y, scores=scores, predicted=None,
        evaluation=evaluation, positive=None,
    )  # fmt: skip
    assert names(paths) == {"confusion.png", "roc.png", "report.html"}
    for path in paths[:-1]:
        assert_real_png(path)
    page = paths[-1].read_text(encoding="utf-8")
    assert page.count(EMBEDDED) == 2
    for metric, value in evaluation.metrics.items():
        assert f'<td>{metric}</td><td class="num">{value:.4f}</td>' in page, metric
    assert "Decision threshold" not in page  # multiclass decides by the most probable class


def test_regression_report_has_residuals_and_predicted_vs_actual(tmp_path: Path) -> None:
    y, predicted, evaluation = regression_case()
    paths = write_report(
        tmp_path, title="Price", task=Task.REGRESSION, y=y, scores=None, predicted=predicted,
        evaluation=evaluation, positive=None,
    )  # fmt: skip
    assert names(paths) == {"residuals.png", "predicted_vs_actual.png", "report.html"}
    for path in paths[:-1]:
        assert_real_png(path)
    page = paths[-1].read_text(encoding="utf-8")
    assert page.count(EMBEDDED) == 2
    for metric in ("rmse", "mae", "r2"):
        assert f'<td>{metric}</td><td class="num">{evaluation.metrics[metric]:.4f}</td>' in page


def test_slices_and_checks_are_tabled(tmp_path: Path) -> None:
    y, predicted, evaluation = regression_case(60)
    slices = {"color": {"red": {"rows": 20.0, "rmse": 2.5}, "blue": {"rows": 40.0, "mae": 1.25}}}
    checks = [
        {"name": "monotone in x", "kind": "directional", "passed": True, "detail": "ok"},
        {"name": "ignores id", "kind": "invariance", "passed": False, "detail": "3 rows moved"},
    ]
    write_report(
        tmp_path, title="Price", task=Task.REGRESSION, y=y, scores=None, predicted=predicted,
        evaluation=evaluation, positive=None, slices=slices, checks=checks,
    )  # fmt: skip
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<th>column</th><th>slice</th><th>rows</th><th>rmse</th><th>mae</th>" in page
    assert '<td>color</td><td>red</td><td class="num">20</td><td class="num">2.5000</td>' in page
    # a metric a slice lacks is shown as n/a, not dropped (columns stay aligned)
    assert '<td>blue</td><td class="num">40</td><td class="num">n/a</td>' in page
    assert "(1 of 2 passed)" in page
    assert "<tr><td>monotone in x</td><td>directional</td><td>passed</td><td>ok</td></tr>" in page
    assert (
        '<tr class="fail"><td>ignores id</td><td>invariance</td><td>FAILED</td>'
        "<td>3 rows moved</td></tr>"
    ) in page


def test_every_caller_string_is_escaped(tmp_path: Path) -> None:
    y, scores, evaluation = binary_case(80)
    write_report(
        tmp_path, title=HOSTILE, task=Task.CLASSIFICATION, y=y, scores=scores, predicted=None,
        evaluation=evaluation, positive="yes",
        slices={HOSTILE: {HOSTILE: {"f1": 0.5}}},
        checks=[{"name": HOSTILE, "kind": HOSTILE, "passed": False, "detail": HOSTILE}],
        facts={HOSTILE: HOSTILE},
    )  # fmt: skip
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert page.count(escaped) == 9  # title twice, slice two, check three, fact two
    assert f"<title>{escaped}</title>" in page


def test_single_class_test_rows_skip_the_undefined_curves(tmp_path: Path) -> None:
    y, scores, evaluation = binary_case(50)
    y = np.full(len(y), "no", dtype=object)  # e.g. a rare positive absent from a small test split
    evaluation = evaluate_classification(y, scores, "yes")
    paths = write_report(
        tmp_path, title="t", task=Task.CLASSIFICATION, y=y, scores=scores, predicted=None,
        evaluation=evaluation, positive="yes",
    )  # fmt: skip
    assert names(paths) == {"calibration.png", "confusion.png", "report.html"}
    assert "n/a" in paths[-1].read_text(encoding="utf-8")  # roc_auc is NaN


def test_missing_predictions_are_refused(tmp_path: Path) -> None:
    y, predicted, evaluation = regression_case(20)
    with pytest.raises(ValueError, match="predicted"):
        write_report(
            tmp_path, title="t", task=Task.REGRESSION, y=y, scores=None, predicted=None,
            evaluation=evaluation, positive=None,
        )  # fmt: skip
    with pytest.raises(ValueError, match="probabilities"):
        write_report(
            tmp_path, title="t", task=Task.CLASSIFICATION, y=y, scores=None, predicted=predicted,
            evaluation=evaluation, positive=None,
        )  # fmt: skip
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.slow  # a fresh interpreter re-imports scikit-learn and matplotlib
def test_matplotlib_is_lazy_and_pyplot_never_used(tmp_path: Path) -> None:
    # a fresh interpreter: other tests (or MLflow) may have imported pyplot in this one
    script = f"""
import sys
from pathlib import Path
import numpy as np
from tabops.model.report import write_report
from tabops.model.metrics import evaluate_regression
from tabops.spec import Task
assert "matplotlib" not in sys.modules, "imported at module level"
y = np.arange(30.0); predicted = y + 1
write_report(Path({str(tmp_path)!r}), title="t", task=Task.REGRESSION, y=y, scores=None,
             predicted=predicted, evaluation=evaluate_regression(y, predicted), positive=None)
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "residuals.png").exists()
