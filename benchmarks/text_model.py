"""Scoring a model with a text column: the compiled predictor (TF-IDF in the encoder plan, the
LightGBM graph in ONNX Runtime) against the scikit-learn pipeline it was compiled from.

A generated table (a few numbers, a category and a product-review-like text column of Faker
sentences) trains tabops' own pipeline (DatetimeParts, the ColumnTransformer with TF-IDF,
LightGBM with 200 trees); both predictors then score the same rows, one row per call (the
serving path) and in 1,000-row frames (batch), on one thread. Before 2026-12-07 a pipeline
with a text column was never compiled, so the pipeline's figures are what such a model had.

Usage: python benchmarks/text_model.py [--rows N] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from common import write_section  # benchmarks/ is on sys.path as a script

from tabops.model.candidates import FAMILIES
from tabops.model.compile import OnnxPredictor, SklearnPredictor, compile_pipeline
from tabops.model.frame import model_frame
from tabops.model.tune import build_pipeline
from tabops.spec import ProjectSpec, parse_spec

SPEC = {
    "name": "bench_text", "task": "classification", "target": "label", "positive_class": "yes",
    "source": {"path": "unused.csv"},
    "columns": {
        "amount": {"type": "numeric"}, "visits": {"type": "integer"},
        "plan": {"type": "categorical"}, "review": {"type": "text"},
        "label": {"type": "categorical", "role": "target", "categories": ["no", "yes"]},
    },
}  # fmt: skip


def generate(rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows whose label depends on the numbers, the plan and words of the review."""
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(seed)
    rng = np.random.default_rng(seed)
    reviews = [fake.sentence(nb_words=12) for _ in range(rows)]
    unhappy = np.array(["refund" in r or "broken" in r for r in reviews])
    for position in np.flatnonzero(rng.random(rows) < 0.15):
        reviews[position] += " broken, asked for a refund"
        unhappy[position] = True
    frame = pd.DataFrame({
        "amount": rng.gamma(2.0, 40.0, rows), "visits": rng.integers(0, 30, rows),
        "plan": rng.choice(["basic", "plus", "pro"], rows), "review": reviews,
    })  # fmt: skip
    signal = 0.02 * frame["amount"] - 0.1 * frame["visits"] + 2.5 * unhappy
    label = np.where(signal + rng.normal(size=rows) > 1.5, "yes", "no")
    return frame, label


def timed(call: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``call`` over ``repeats`` runs."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="Training rows.")
    parser.add_argument("--write", action="store_true", help="Update BENCHMARKS.md.")
    args = parser.parse_args()
    spec: ProjectSpec = parse_spec(SPEC)
    frame, label = generate(args.rows)
    x = model_frame(frame, spec)
    pipeline = build_pipeline(spec, FAMILIES[spec.task]["lightgbm"], {"n_estimators": 200})
    pipeline.fit(x, label)
    compiled = compile_pipeline(pipeline, x.iloc[:2000])
    assert compiled.kind == "onnx" and compiled.plan is not None, compiled.reason
    onnx = OnnxPredictor(compiled.plan, compiled.onnx_model, compiled.classes,
                         compiled.exact_model)  # fmt: skip
    sklearn = SklearnPredictor(pipeline, list(x.columns))
    fresh = model_frame(generate(2000, seed=1)[0], spec)
    rows = fresh.to_dict(orient="records")
    difference = float(np.abs(onnx.predict_frame(fresh) - sklearn.predict_frame(fresh)).max())
    one = {
        "compiled": timed(lambda: [onnx.predict_rows([r]) for r in rows[:500]], 5) / 500,
        "pipeline": timed(lambda: [sklearn.predict_frame(fresh.iloc[[i]]) for i in range(50)],
                          3) / 50,
    }  # fmt: skip
    batch = {
        "compiled": 1000 / timed(lambda: onnx.predict_frame(fresh.iloc[:1000]), 7),
        "pipeline": 1000 / timed(lambda: sklearn.predict_frame(fresh.iloc[:1000]), 7),
    }
    terms = len(compiled.plan.idfs[0])
    text = "\n".join([
        "## Scoring a model with a text column (`benchmarks/text_model.py`)",
        "",
        f"LightGBM (200 trees) on {args.rows:,} generated rows: two numbers, a category and a "
        f"review text column ({terms:,} TF-IDF terms: {compiled.plan.width:,} model inputs). "
        "One thread; the same 2,000 unseen rows for both; largest score difference "
        f"{difference:.1e} (parity tolerance 1e-5).",
        "",
        "| predictor | one row per call | 1,000-row frames |",
        "|---|---|---|",
        f"| compiled (encoder plan with TF-IDF, ONNX Runtime) | {one['compiled'] * 1e6:,.0f} µs "
        f"| {batch['compiled']:,.0f} rows/s |",
        f"| scikit-learn pipeline (what a text model had before) | "
        f"{one['pipeline'] * 1e6:,.0f} µs | {batch['pipeline']:,.0f} rows/s |",
        "",
        f"One row: **{one['pipeline'] / one['compiled']:.1f}x** faster compiled; frames: "
        f"**{batch['compiled'] / batch['pipeline']:.1f}x**.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; Python "
        f"{platform.python_version()}. Measured {datetime.now(UTC):%Y-%m-%d}.",
        f"Command: `python benchmarks/text_model.py --rows {args.rows}`.",
    ])  # fmt: skip
    print(text)
    if args.write:
        write_section("text-model", text)


if __name__ == "__main__":
    main()
