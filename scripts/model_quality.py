"""CI's model-quality gate: run the example with a small fixed budget and fail if the best
candidate's test metric falls below the floor in ci/model-quality.json.

The metrics of every run are appended to the GitHub job summary ($GITHUB_STEP_SUMMARY) when
set, so the repository keeps a per-commit accuracy log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABOPS = str(Path(sys.executable).with_name("tabops"))


def tabops(*args: str, cwd: Path) -> str:
    result = subprocess.run([TABOPS, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 3):
        sys.exit(f"tabops {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def main() -> int:
    gate = json.loads((ROOT / "ci" / "model-quality.json").read_text(encoding="utf-8"))
    metric, floor = gate["metric"], float(gate["floor"])
    with tempfile.TemporaryDirectory(prefix="tabops-quality-") as folder:
        work = Path(folder)
        env_home = {"TABOPS_HOME": str(work / ".tabops")}
        os.environ.update(env_home)
        for variable in ("TABOPS_DATABASE_URL", "TABOPS_TRACKING_URI", "MLFLOW_TRACKING_URI"):
            os.environ.pop(variable, None)  # embedded stores only: never a real server
        tabops("examples", "export", gate["example"], "-o", "data", cwd=work)
        data = f"data/{gate['example']}.csv"
        tabops("init", "--data", data, "--target", gate["target"], cwd=work)
        run = json.loads(tabops("run", "--trials", str(gate["trials"]), "--json", cwd=work))
    train = run["train"]
    best = next(c for c in train["candidates"] if c["estimator"] == train["best"])
    value = best["test"][metric]
    passed = value >= floor
    rows = "\n".join(
        f"| {c['estimator']}{' (best)' if c is best else ''} | {c['cv_score']:.4f} | "
        f"{c['test'][metric]:.4f} | {c['test'].get('pr_auc', float('nan')):.4f} | {c['trials']} |"
        for c in train["candidates"]
    )
    summary = (
        f"### Model quality: {gate['example']} ({'pass' if passed else 'FAIL'})\n\n"
        f"Test {metric} of the best candidate: **{value:.4f}** (floor {floor}), "
        f"data {train['snapshot_hash'][:12]}, {train['train_rows']} train / "
        f"{train['test_rows']} test rows, {gate['trials']} trials per candidate.\n\n"
        f"| candidate | cv {metric} | test {metric} | test pr_auc | trials |\n"
        f"|---|---|---|---|---|\n{rows}\n"
    )
    print(summary)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with Path(step_summary).open("a", encoding="utf-8") as handle:
            handle.write(summary + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
