"""MLflow tracking for the train stage: one run per candidate, a nested run per trial, the
fitted pipeline logged with its signature, input example, skops serialisation and SHA-256.

Trials are created with an explicit ``mlflow.parentRunId`` through the client, not through the
fluent active-run stack, so the parent link survives whatever Optuna does (optuna#5148).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tabops import storage
from tabops.digest import file_sha256
from tabops.errors import NotFoundError, TabopsError
from tabops.model.columns import input_schema
from tabops.model.features import DatetimeParts
from tabops.model.frame import model_frame
from tabops.model.report import REPORT_NAME, report_pipeline
from tabops.model.train import Candidate, TrainData
from tabops.model.tune import Trial
from tabops.registry.client import connect, redact_uri, registry_errors
from tabops.registry.models import TEST_ROWS_ARTIFACT
from tabops.settings import Settings
from tabops.spec import ProjectSpec, dump_spec

log = logging.getLogger(__name__)

MODEL_ARTIFACT = "model"
BEST_TAG = "tabops.best"
#: Run tags copied onto the registered version: what the gate and serving need to know.
VERSION_TAGS = ("tabops.snapshot_hash", "tabops.spec_hash", "tabops.artifact_sha256",
                "tabops.input_schema", "tabops.estimator", "tabops.metric")  # fmt: skip
#: Modules whose types tabops' pipelines are made of, and tabops' own steps; skops loads
#: nothing else.
TRUSTED_MODULES = ("sklearn.", "lightgbm.", "xgboost.", "numpy.", "scipy.", "collections.")
TABOPS_TYPES = (f"{DatetimeParts.__module__}.{DatetimeParts.__qualname__}",)
_VERSIONED = ("tabops", "scikit-learn", "lightgbm", "xgboost", "numpy", "pandas", "pyarrow",
              "optuna", "mlflow", "skops")  # fmt: skip


def trusted_types(pipeline: Any) -> list[str]:
    """The skops types a fitted pipeline needs, refused if any lies outside TRUSTED_MODULES
    and TABOPS_TYPES."""
    import skops.io

    needed = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    foreign = [t for t in needed if not t.startswith(TRUSTED_MODULES) and t not in TABOPS_TYPES]
    if foreign:
        raise TabopsError(f"The fitted pipeline holds types tabops does not trust: {foreign}.")
    return list(needed)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass
class MlflowRun:
    """A candidate's parent run (see :class:`tabops.model.train.CandidateRun`)."""

    run_id: str
    experiment_id: str
    spec: ProjectSpec
    client: Any
    reports_dir: Path
    publish_to: str | None = None  # the storage's reports folder, when TABOPS_STORAGE_URL is set

    def trial_sink(self, trial: Trial) -> None:
        """Log one Optuna trial as a run nested under this one."""
        from mlflow.entities import Metric, Param

        run = self.client.create_run(
            self.experiment_id,
            run_name=f"trial-{trial.number}",
            tags={"mlflow.parentRunId": self.run_id, "tabops.trial_state": trial.state},
        )
        metrics = []
        if not np.isnan(trial.score):
            metrics.append(Metric(f"cv_{self.spec.metric}", trial.score, _now_ms(), 0))
        metrics.append(Metric("seconds", trial.seconds, _now_ms(), 0))
        params = [Param(k, str(v)) for k, v in trial.params.items()]
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params)
        status = {"complete": "FINISHED", "pruned": "KILLED"}.get(trial.state, "FAILED")
        self.client.set_terminated(run.info.run_id, status)

    def finish(self, candidate: Candidate, data: TrainData) -> None:
        """Log the winner's parameters, test metrics, frozen test rows and fitted pipeline."""
        import mlflow
        import mlflow.sklearn
        from mlflow.models import infer_signature

        metric = self.spec.metric
        with mlflow.start_run(run_id=self.run_id):
            mlflow.log_params({f"best_{k}": v for k, v in candidate.params.items()})
            mlflow.log_metric(f"cv_{metric}", candidate.cv_score)
            mlflow.log_metrics(
                {f"test_{k}": v for k, v in candidate.evaluation.metrics.items() if np.isfinite(v)}
            )
            if candidate.evaluation.threshold is not None:
                mlflow.log_metric("threshold", candidate.evaluation.threshold)
            mlflow.log_dict(
                {"labels": candidate.evaluation.labels, "matrix": candidate.evaluation.confusion},
                "evaluation/confusion.json",
            )
            mlflow.log_dict(candidate.slices, "evaluation/slices.json")
            mlflow.log_dict(
                {"checks": [c.to_dict() for c in candidate.checks]}, "evaluation/checks.json"
            )
            mlflow.log_metric("checks_failed", sum(not c.passed for c in candidate.checks))
            mlflow.log_artifact(_test_rows_file(data), "split")
            report = self.reports_dir / self.run_id
            report_pipeline(
                report, candidate.pipeline, model_frame(data.test_frame, self.spec),
                data.y[data.split.test], self.spec, candidate.evaluation,
                title=f"{self.spec.name}: {candidate.estimator} (run {self.run_id[:8]})",
                slices=candidate.slices, checks=[c.to_dict() for c in candidate.checks],
                facts={"data snapshot": data.snapshot_hash, "split": data.split.method,
                       "spec hash": self.spec.spec_hash[:16]},
            )  # fmt: skip
            mlflow.log_artifacts(str(report), "evaluation")
            candidate.report = str(report / REPORT_NAME)
            if self.publish_to is not None:
                published = storage.join(self.publish_to, self.run_id)
                storage.upload_folder(report, published)
                candidate.report = storage.join(published, REPORT_NAME)
            example = model_frame(data.test_frame.head(5), self.spec)
            output = _predict(candidate.pipeline, example, self.spec)
            info = mlflow.sklearn.log_model(
                candidate.pipeline,
                name=MODEL_ARTIFACT,
                signature=infer_signature(example, output),
                input_example=example,
                serialization_format="skops",
                skops_trusted_types=trusted_types(candidate.pipeline),
                pip_requirements=[f"{k}=={v}" for k, v in package_versions().items()
                                  if k not in ("tabops", "optuna")],
            )  # fmt: skip
            candidate.model_uri = info.model_uri
            candidate.artifact_sha256 = _artifact_sha256(info)
            mlflow.set_tags(
                {
                    "tabops.artifact_sha256": candidate.artifact_sha256,
                    "tabops.input_schema": json.dumps(input_schema(self.spec)),
                    "tabops.model_uri": info.model_uri,
                }
            )


def _predict(pipeline: Any, example: Any, spec: ProjectSpec) -> Any:
    return (
        pipeline.predict_proba(example)
        if spec.task == "classification"
        else pipeline.predict(example)
    )


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _test_rows_file(data: TrainData) -> str:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tabops-split-"))
    path = folder / Path(TEST_ROWS_ARTIFACT).name
    pq.write_table(pa.table({"row": data.split.test.astype(np.int64)}), path)
    return str(path)


def _artifact_sha256(info: Any) -> str:
    """SHA-256 of the serialised model file (verified again before every load)."""
    import mlflow

    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri))
    return file_sha256(folder / info.flavors["sklearn"]["pickled_model"])


class MlflowTracking:
    """Runs in the project's MLflow experiment (named after the project)."""

    def __init__(self, settings: Settings, spec: ProjectSpec) -> None:
        self.uri = settings.mlflow_uri
        self.spec, self.settings = spec, settings
        self.client = connect(self.uri)
        artifacts = None
        if self.uri.startswith("sqlite:"):
            settings.home.mkdir(parents=True, exist_ok=True)
            artifacts = (settings.artifacts_dir / spec.name).as_uri()
        self.experiment_id = self._experiment(spec.name, artifacts)

    def _experiment(self, name: str, artifacts: str | None) -> str:
        with registry_errors(self.uri):
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                return str(found.experiment_id)
            return str(self.client.create_experiment(name, artifact_location=artifacts))

    @contextmanager
    def candidate_run(
        self, spec: ProjectSpec, data: TrainData, estimator: str
    ) -> Iterator[MlflowRun]:
        tags = {
            "tabops.project": spec.name,
            "tabops.estimator": estimator,
            "tabops.snapshot_hash": data.snapshot_hash,
            "tabops.spec_hash": spec.spec_hash,
            "tabops.split": data.split.method,
            "tabops.metric": spec.metric,
        }
        with registry_errors(self.uri):
            run = self.client.create_run(self.experiment_id, run_name=estimator, tags=tags)
        run_id = run.info.run_id
        status = "FAILED"
        try:
            with registry_errors(self.uri):
                self.client.log_text(run_id, dump_spec(spec), "tabops.yaml")
                self.client.log_dict(run_id, package_versions(), "environment/versions.json")
                self.client.log_batch(run_id, params=_params(spec, data, estimator))
            reports = self.settings.home / "reports" / spec.name
            yield MlflowRun(run_id, self.experiment_id, spec, self.client, reports,
                            self.settings.artifacts("reports", spec.name))  # fmt: skip
            status = "FINISHED"
        finally:
            self.client.set_terminated(run_id, status)

    def mark_best(self, candidate: Candidate) -> None:
        with registry_errors(self.uri):
            self.client.set_tag(candidate.run_id, BEST_TAG, "true")

    def best_run(self) -> Any:
        """The most recent run marked best by ``tabops train``, or None."""
        with registry_errors(self.uri):
            runs = self.client.search_runs(
                [self.experiment_id],
                filter_string=f"tags.`{BEST_TAG}` = 'true'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
        return runs[0] if runs else None

    def run(self, run_id: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            with registry_errors(self.uri, passthrough=True):
                return self.client.get_run(run_id)
        except MlflowException as exc:
            raise NotFoundError(f"No MLflow run {run_id} in {redact_uri(self.uri)}.") from exc


def _params(spec: ProjectSpec, data: TrainData, estimator: str) -> list[Any]:
    from mlflow.entities import Param

    values = {
        "estimator": estimator,
        "snapshot_hash": data.snapshot_hash,
        "spec_hash": spec.spec_hash,
        "metric": spec.metric,
        "split": data.split.method,
        "train_rows": len(data.split.train),
        "test_rows": len(data.split.test),
        "trials": spec.train.trials,
        "cv_folds": spec.train.cv_folds,
        "seed": spec.train.seed,
    }
    return [Param(k, str(v)) for k, v in values.items()]
