"""The project spec: ``tabops.yaml`` parsed once into typed pydantic models.

:func:`load_spec` is the only reader of ``tabops.yaml``. Unknown keys are errors, and every
error names the file, the key path and what is allowed.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import math
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from tabops.errors import SpecError
from tabops.safe_yaml import load_yaml, yaml_error_location
from tabops.validation import format_errors

SPEC_FILENAME = "tabops.yaml"
PROJECT_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,62}$"
_TABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
#: The patterns above in words, for error messages.
_PATTERN_RULES = {
    PROJECT_NAME_PATTERN: "a name starts with a letter and has only letters, digits, '_' and "
    "'-', at most 63 characters (e.g. churn-model)",
    _TABLE_PATTERN: "a table name starts with a letter or '_' and has only letters, digits "
    "and '_', at most 63 characters (e.g. churn_rows)",
}
#: pandas' missing-value markers (its spreadsheet errors among them) and '?', as UCI files write it.
DEFAULT_NULL_VALUES = [
    "", "NA", "N/A", "n/a", "#N/A", "#NA", "<NA>", "NaN", "nan", "-NaN", "-nan", "null", "NULL",
    "None", "?",
]  # fmt: skip


class _Strict(BaseModel):
    """Base for spec models: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Task(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class ColumnType(StrEnum):
    NUMERIC = "numeric"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"
    DATETIME = "datetime"
    TEXT = "text"


class ColumnRole(StrEnum):
    FEATURE = "feature"
    TARGET = "target"
    ID = "id"
    TIMESTAMP = "timestamp"
    IGNORED = "ignored"


class Observed(_Strict):
    """What ``tabops init`` saw; informational, never enforced (drift monitoring reads it)."""

    min: float | None = Field(default=None, description="Smallest value seen (numbers).")
    max: float | None = Field(default=None, description="Largest value seen (numbers).")
    null_fraction: float | None = Field(default=None, description="Share of missing values.")
    distinct: int | None = Field(default=None, description="Number of distinct values.")


class ColumnSpec(_Strict):
    """One column: its role, type and the contract its values must meet."""

    type: ColumnType = Field(description="How values are read and stored.")
    role: ColumnRole = Field(
        default=ColumnRole.FEATURE,
        description="feature: a model input; target: the label; id: checked for duplicates; "
        "timestamp: the event time (orders the split, sets monitoring windows); ignored: not "
        "checked, not used.",
    )
    nullable: bool = Field(default=True, description="false: a missing value quarantines the row.")
    unique: bool = Field(default=False, description="true: a repeated value quarantines the row.")
    min: float | None = Field(default=None, description="Smallest allowed value (numbers).")
    max: float | None = Field(default=None, description="Largest allowed value (numbers).")
    categories: list[str] | None = Field(
        default=None, description="Allowed values of a categorical column; unset allows any."
    )
    format: str | list[str] | None = Field(
        default=None,
        description="strftime format of a datetime column, or a list of them tried in turn (a "
        "file that writes its dates two ways: ['%d-%b-%y', '%B %d, %Y']); unset means ISO 8601.",
    )
    decimal: Literal[".", ","] = Field(
        default=".",
        description="Decimal mark of the column's numbers written as text (files, CSV bodies): "
        "'.' or ',' (1234,5).",
    )
    thousands: Literal[",", ".", " ", "'"] | None = Field(
        default=None,
        description="Separator the column's numbers written as text may group digits with, in "
        "threes (',' in 1,234.5; '.' in 1.234,5); numbers without it are read too. Unset: none.",
    )
    units: list[str] | None = Field(
        default=None,
        description="Symbols the column's numbers written as text may carry before or after "
        "them, dropped when read: ['%'] reads 14.2% as 14.2, ['$'] reads $1,200 as 1200 "
        "(with thousands: ',').",
    )
    true_values: list[str] | None = Field(
        default=None,
        description="Strings that mean true in a boolean column (e.g. [Yes]), in any letter "
        "case; files and clients must use these. Unset accepts true/t/yes/y/1.",
    )
    false_values: list[str] | None = Field(
        default=None, description="Strings that mean false in a boolean column (e.g. [No])."
    )
    null_values: list[str] | None = Field(
        default=None,
        description="Strings read as a missing value in this column alone (after trimming), "
        "beside source.csv.null_values: [Unknown] in an age column where Unknown is a category "
        "of another column. `tabops init` writes the words for no value it finds among numbers "
        "or dates.",
    )
    observed: Observed | None = Field(
        default=None, description="Written by `tabops init`; informational, never enforced."
    )
    description: str | None = Field(default=None, description="Free text.")

    @model_validator(mode="after")
    def _check_consistency(self) -> ColumnSpec:
        numeric = self.type in (ColumnType.NUMERIC, ColumnType.INTEGER)
        for key, bound in {"min": self.min, "max": self.max}.items():
            if bound is not None and not math.isfinite(bound):  # NaN would disable the check
                raise ValueError(f"{key} must be a finite number, not {bound}; omit it (no limit)")
        if (self.min is not None or self.max is not None) and not numeric:
            raise ValueError(f"min/max apply to numeric and integer columns, not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.categories is not None and self.type not in (
            ColumnType.CATEGORICAL,
            ColumnType.BOOLEAN,
        ):
            raise ValueError(f"categories apply to categorical columns, not {self.type}")
        if self.format is not None and self.type != ColumnType.DATETIME:
            raise ValueError("format applies to datetime columns only")
        if isinstance(self.format, list) and not self.format:
            raise ValueError("format: give at least one format, or leave it out (ISO 8601)")
        self._check_number_format(numeric)
        self._check_boolean_tokens()
        for token in self.null_values or []:
            if not token.strip() or token != token.strip():
                raise ValueError(f"null_values: {token!r} is compared with trimmed values, so it "
                                 "must be non-blank without spaces around it")  # fmt: skip
        return self

    @property
    def formats(self) -> tuple[str, ...]:
        """The datetime formats to read values with, in turn (none: ISO 8601)."""
        if self.format is None:
            return ()
        return (self.format,) if isinstance(self.format, str) else tuple(self.format)

    def _check_number_format(self, numeric: bool) -> None:
        if self.decimal == "." and self.thousands is None and self.units is None:
            return
        if not numeric:
            raise ValueError(f"decimal/thousands/units apply to numeric and integer columns, "
                             f"not {self.type}")  # fmt: skip
        if self.thousands == self.decimal:
            raise ValueError(f"thousands and decimal are both '{self.decimal}': a number's "
                             "digit groups and its fraction need different marks")  # fmt: skip
        for unit in self.units or []:
            if not unit.strip() or re.search(r"[\d+\-.,\s]", unit):
                raise ValueError(f"unit {unit!r} must be a symbol or word without digits, "
                                 "signs, spaces, '.' or ',' (e.g. '%', '$', 'EUR')")  # fmt: skip

    def _check_boolean_tokens(self) -> None:
        true, false = self.true_values, self.false_values
        if true is None and false is None:
            return
        if self.type != ColumnType.BOOLEAN:
            raise ValueError("true_values/false_values apply to boolean columns only")
        if not true or not false:
            raise ValueError("set both true_values and false_values, each with at least one value")
        if both := sorted({t.lower() for t in true} & {f.lower() for f in false}):
            raise ValueError(
                f"{both} cannot be both in true_values and in false_values (letter case aside)"
            )


class CsvOptions(_Strict):
    """How CSV files are parsed."""

    delimiter: str = Field(default=",", min_length=1, max_length=1, description="Field separator.")
    encoding: str = Field(default="utf-8", description="A Python codec name, e.g. latin-1.")
    null_values: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NULL_VALUES),
        description="Strings read as a missing value (after trimming); setting it replaces the "
        "whole list. Also applied to string columns of Parquet and SQL sources.",
    )
    skip_rows: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="Lines before the header to skip (a title, notes, a blank line): the header "
        "is line skip_rows + 1. `tabops init` sets it when a file opens with such lines.",
    )
    quoting: bool = Field(
        default=True,
        description="Read '\"' as a quote: a quoted field may hold the delimiter, and '\"\"' "
        "in it is one '\"'. false: every '\"' is text, as in most tab-separated files, whose "
        "values may hold a lone quote (`tabops init` sets it when quotes break lines that "
        "read whole without them).",
    )
    multiline_values: bool = Field(
        default=False,
        description=(
            "Allow quoted values spanning lines. Off by default: a stray quote then damages one "
            "line instead of swallowing the rest of the file, and parsing stays parallel."
        ),
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        try:
            # base64_codec and the like are codecs, but of bytes, not text
            known = getattr(codecs.lookup(encoding), "_is_text_encoding", True)
        except LookupError:
            known = False
        if not known:
            raise ValueError(
                f"{encoding!r} is no text encoding Python knows; use e.g. utf-8, cp1252 or latin-1"
            )
        return encoding


class SourceSpec(_Strict):
    """Where the raw data comes from: a file (CSV/Parquet) or an SQL table or query."""

    path: str | None = Field(default=None, description="CSV or Parquet file, relative to the spec.")
    url: str | None = Field(default=None, description="SQLAlchemy URL of a database to read.")
    table: str | None = Field(default=None, description="With url: the table to read whole.")
    query: str | None = Field(
        default=None, description="With url: an SQL query whose result is the batch."
    )
    csv: CsvOptions = Field(default_factory=CsvOptions, description="How CSV files are parsed.")

    @model_validator(mode="after")
    def _one_source(self) -> SourceSpec:
        if (self.path is None) == (self.url is None):
            raise ValueError("set exactly one of 'path' (a CSV/Parquet file) or 'url' (a database)")
        if self.url is not None and (self.table is None) == (self.query is None):
            raise ValueError("an SQL source needs exactly one of 'table' or 'query'")
        if self.path is not None and (self.table or self.query):
            raise ValueError("'table'/'query' go with 'url', not with 'path'")
        return self

    @property
    def kind(self) -> Literal["csv", "parquet", "sql"]:
        """The source format, from the settings and the file suffix."""
        if self.url is not None:
            return "sql"
        assert self.path is not None
        return "parquet" if self.path.lower().endswith((".parquet", ".pq")) else "csv"


class ContractSpec(_Strict):
    """Batch-level limits of the data contract."""

    max_quarantine_rate: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Block the whole batch when more than this fraction of rows is quarantined.",
    )
    retype_fraction: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="A column whose values fail their type this often counts as retyped (drift).",
    )


class IngestSpec(_Strict):
    """What ingestion does with the good rows."""

    mode: Literal["replace", "append"] = Field(
        default="replace",
        description="replace: each batch is the whole dataset; append: batches accumulate.",
    )
    table: str | None = Field(
        default=None,
        pattern=_TABLE_PATTERN,
        description="Also publish good rows to this table in the tabops store database.",
    )
    dvc: bool = Field(default=False, description="Track each snapshot with DVC.")
    dvc_remote: str | None = Field(
        default=None, description="DVC remote (URL or folder) to push snapshots to."
    )


#: Metrics a candidate can be selected and gated on, by task; the first is the default.
METRICS: dict[Task, tuple[str, ...]] = {
    Task.CLASSIFICATION: ("roc_auc", "pr_auc", "log_loss", "accuracy", "f1"),
    Task.REGRESSION: ("rmse", "mae", "r2"),
}
#: Metrics where smaller is better.
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})
#: Each metric's perfect value: reached on held-out rows, it almost always means leakage.
PERFECT = {"roc_auc": 1.0, "pr_auc": 1.0, "accuracy": 1.0, "f1": 1.0, "r2": 1.0,
           "log_loss": 0.0, "rmse": 0.0, "mae": 0.0}  # fmt: skip


class CandidateSpec(_Strict):
    """One model family to train and tune."""

    estimator: str = Field(
        description="linear (logistic regression or elastic net, by task), lightgbm, "
        "random_forest or xgboost."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Fixed estimator parameters, not tuned."
    )
    search: dict[str, SearchRange] | None = Field(
        default=None, description="Search space per parameter; unset uses tabops' defaults."
    )


class SearchRange(_Strict):
    """A tuned parameter: a numeric range (log scale optional) or a list of choices."""

    low: float | None = Field(default=None, description="Smallest value (with high).")
    high: float | None = Field(default=None, description="Largest value (with low).")
    log: bool = Field(default=False, description="Sample on a log scale; needs low > 0.")
    integer: bool = Field(default=False, description="Sample whole numbers.")
    choices: list[Any] | None = Field(
        default=None, description="The values to pick from; not with low and high."
    )

    @model_validator(mode="after")
    def _check_range(self) -> SearchRange:
        if self.choices is not None:
            if self.low is not None or self.high is not None or not self.choices:
                raise ValueError("give either a non-empty 'choices' list or 'low' and 'high'")
            return self
        if self.low is None or self.high is None:
            raise ValueError("a range needs 'low' and 'high' (or use 'choices')")
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log-scale range needs low > 0")
        return self


CandidateSpec.model_rebuild()


class TrainSpec(_Strict):
    """How candidates are trained, tuned and compared."""

    candidates: list[CandidateSpec] = Field(
        min_length=1,
        default_factory=lambda: [
            CandidateSpec(estimator="linear"),
            CandidateSpec(estimator="lightgbm"),
        ],
        description="Model families to try; 'linear' is the task's regularised linear model.",
    )
    metric: str | None = Field(
        default=None,
        description="Primary metric; default roc_auc (classification) or rmse (regression).",
    )
    trials: int = Field(default=20, ge=1, description="Optuna trials per candidate.")
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds of tuning per candidate (with or before trials)."
    )
    cv_folds: int = Field(default=3, ge=2, le=20, description="Folds scored in each trial.")
    test_size: float = Field(default=0.2, gt=0, lt=1, description="Fraction held out for test.")
    seed: int = Field(default=42, description="Seeds the split, the tuning and the models.")


class CostSpec(_Strict):
    """What a wrong decision costs; the decision threshold minimises the expected cost."""

    false_positive: float = Field(gt=0, description="Cost of flagging a negative.")
    false_negative: float = Field(gt=0, description="Cost of missing a positive.")


class BehaviouralCheck(_Strict):
    """A property the model must have, checked on the frozen test rows.

    invariance: setting ``column`` to ``value`` must not move any score by more than
    ``tolerance``. directional: adding ``delta`` to ``column`` must move every score in
    ``direction`` (or not against it by more than ``tolerance``).
    """

    name: str = Field(description="Shown in results and refusal reasons.")
    kind: Literal["invariance", "directional"] = Field(description="What the check asserts.")
    column: str = Field(description="A feature column (numeric or integer for directional).")
    value: Any = Field(
        default=None, description="invariance (required): the value set on every test row."
    )
    delta: float | None = Field(
        default=None, description="directional (required, not 0): added on every test row."
    )
    direction: Literal["increase", "decrease"] = Field(
        default="increase", description="directional: the way every score must move."
    )
    tolerance: float = Field(
        default=0.05,
        ge=0,
        description="How far any score may move (invariance) or move against direction "
        "(directional).",
    )

    @model_validator(mode="after")
    def _check_kind(self) -> BehaviouralCheck:
        if self.kind == "invariance" and self.value is None:
            raise ValueError(f"check '{self.name}': an invariance check needs 'value'")
        if self.kind == "directional" and not self.delta:
            raise ValueError(f"check '{self.name}': a directional check needs a non-zero 'delta'")
        return self


class EvaluateSpec(_Strict):
    """How candidates are judged beyond the primary metric."""

    costs: CostSpec | None = Field(
        default=None, description="Binary classification: pick the threshold by cost."
    )
    slices: list[str] = Field(
        default_factory=list, description="Columns whose values get their own metrics."
    )
    checks: list[BehaviouralCheck] = Field(
        default_factory=list, description="Behavioural checks; a failing one blocks promotion."
    )


class GateSpec(_Strict):
    """When a candidate may replace the champion."""

    tolerance: float = Field(
        default=0.0,
        ge=0,
        description="How much worse than the champion's primary metric a candidate may be.",
    )
    allow_perfect: bool = Field(
        default=False,
        description="Promote a candidate whose test metric is perfect (ROC AUC 1; a "
        "regression: R² at least 0.9999). Off: "
        "such a score on held-out rows almost always means a feature leaks the target (judged "
        "for a classifier when the test rows hold at least 30 rows of each of its two commonest "
        "classes).",
    )


class DecisionSpec(_Strict):
    """How rules and the model's score combine into one decision: reject if any reject rule
    fires or the score is at least ``reject_at``; else review if a review rule fires or the
    score is at least ``review_at``; else approve."""

    rules: str | None = Field(
        default=None, description="Rules file (YAML), relative to tabops.yaml; see docs/rules.md."
    )
    reject_at: float | None = Field(
        default=None, ge=0, le=1,
        description="Score at or above which the model rejects; default: the model's threshold.",
    )  # fmt: skip
    review_at: float | None = Field(
        default=None, ge=0, le=1, description="Score at or above which the model asks for review."
    )

    @model_validator(mode="after")
    def _check_band(self) -> DecisionSpec:
        if (
            self.review_at is not None
            and self.reject_at is not None
            and self.review_at >= self.reject_at
        ):
            raise ValueError(
                f"review_at ({self.review_at}) must be below reject_at ({self.reject_at})"
            )
        return self


class FeedbackSpec(_Strict):
    """What ``POST /feedback`` keeps."""

    accept_unknown_ids: bool = Field(
        default=False,
        description="Keep labels whose request_id names no logged prediction (when labels may "
        "arrive before their predictions); by default they are answered as unknown, not kept.",
    )


class ServeSpec(_Strict):
    """How ``tabops serve`` answers, limits and logs requests."""

    reload_interval: float = Field(
        default=30.0, gt=0, description="Seconds between checks of the champion alias."
    )
    max_batch_rows: int = Field(default=1000, ge=1, description="Most records per request.")
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Largest request body, in bytes."
    )
    max_in_flight: int = Field(
        default=256, ge=1, description="Requests handled at once per worker; more get 503."
    )
    deadline_ms: int = Field(
        default=2000, ge=1, description="A request waiting longer than this gets 503."
    )
    body_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send its whole request body; a slower one gets "
        "408 and its connection closed (a slow upload must not hold an in-flight slot).",
    )
    spill_max_mb: int = Field(
        default=1024,
        ge=1,
        description="Disk cap of the prediction-log journal; rows past it are dropped "
        "(and counted).",
    )
    grace_period: float = Field(
        default=20.0, gt=0, description="Seconds a SIGTERM waits for requests and the log."
    )
    feedback: FeedbackSpec = Field(
        default_factory=FeedbackSpec, description="What POST /feedback keeps."
    )


#: Monitoring windows and their length in seconds.
MONITOR_WINDOWS = {"hour": 3_600, "day": 86_400, "week": 604_800}
MONITOR_CADENCE = {"hour": "hourly", "day": "daily", "week": "weekly"}
#: What ``tabops monitor`` measures per feature (an alert on one names its ``column``).
COLUMN_MONITOR_METRICS = (
    "drift_score", "drifted", "psi", "missing_rate", "unseen_rate", "rejected_field",
)  # fmt: skip
#: What it measures per window, besides the task's metrics and their ``estimated_`` forms.
WINDOW_MONITOR_METRICS = (
    "rows", "drift_share", "score_drift", "positive_rate", "label_coverage", "refused_rows",
    "rejected_requests", "rejected_rate",
)  # fmt: skip


class AlertSpec(_Strict):
    """One alert: fires when a monitored metric crosses its threshold in enough windows in a
    row, and resolves at the first window back within it."""

    name: str = Field(pattern=PROJECT_NAME_PATTERN, description="Unique among the alerts.")
    metric: str = Field(
        description="A monitored metric: a per-feature one (drift_score, drifted, psi, "
        "missing_rate, unseen_rate, rejected_field; set 'column'), a window one (rows, "
        "drift_share, score_drift, positive_rate, label_coverage, refused_rows (files and "
        "batch runs), rejected_requests, rejected_rate (serving)), a task metric (roc_auc, "
        "rmse, ...) or its estimate before labels (estimated_roc_auc, ...)."
    )
    column: str | None = Field(default=None, description="The feature of a per-feature metric.")
    above: float | None = Field(default=None, description="Fire when the value is above this.")
    below: float | None = Field(default=None, description="Fire when the value is below this.")
    min_rows: int = Field(
        default=100, ge=1, description="Windows with fewer rows (labelled rows for realized "
        "performance) are not judged: too few to tell.",
    )  # fmt: skip
    windows: int = Field(default=1, ge=1, description="Windows in a row before it fires.")
    severity: Literal["warning", "critical"] = Field(
        default="warning", description="Carried to the alert event and the webhook."
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> AlertSpec:
        if (self.above is None) == (self.below is None):
            raise ValueError(f"alert '{self.name}': set exactly one of 'above' and 'below'")
        return self


class ReferencePeriodSpec(_Strict):
    """A labelled period of the prediction log that performance estimation is calibrated on."""

    start: datetime = Field(
        description="First moment of the period (a date or an ISO 8601 time; UTC unless an "
        "offset is given)."
    )
    end: datetime = Field(description="End of the period, excluded.")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _as_utc(cls, value: Any) -> Any:
        # YAML reads 2026-02-25 as a date: its midnight, UTC, as for naive times.
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ReferencePeriodSpec:
        if self.end <= self.start:
            raise ValueError("monitor.reference: 'end' must be after 'start'")
        return self


class MonitorSpec(_Strict):
    """What ``tabops monitor`` computes and when it alerts."""

    window: Literal["hour", "day", "week"] = Field(
        default="day", description="The length of a monitoring window (UTC-aligned)."
    )
    drift_share: float = Field(
        default=0.5, gt=0, le=1,
        description="The dataset drifts when at least this share of its features drift.",
    )  # fmt: skip
    # Wasserstein on 100 values drawn from the reference's own normal law flags 7 in 10;
    # on 500 values 1 in 20.
    drift_min_rows: int = Field(
        default=500, ge=0,
        description="A feature with fewer values than this in a window (and the scores of "
        "such a window) is tested as Evidently tests a small sample (Kolmogorov-Smirnov, "
        "chi-square, z-test: the p-value allows for the window's size) instead of by a "
        "distance (Wasserstein, Jensen-Shannon), which on 100 values flags features whose "
        "distribution has not changed. 0: always Evidently's choice.",
    )  # fmt: skip
    drift_exclude: list[str] = Field(
        default_factory=list,
        description="Features whose drift is not judged (still profiled and quality-checked): "
        "e.g. a day-of-week flag, which every daily window sees differently from the week.",
    )
    webhook: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="URL that receives each alert's firing and resolution as a JSON POST.",
    )
    alerts: list[AlertSpec] = Field(default_factory=list, description="The alerts to judge.")
    reference: ReferencePeriodSpec | None = Field(
        default=None,
        description="A labelled production period (prediction-log rows of the monitored "
        "version with their labels) that performance estimation (CBPE) is calibrated on, so "
        "the estimate is calibrated on data like production; unset: the version's frozen test "
        "rows.",
    )


#: The tasks of the orchestration flows (``tabops.orchestrate.graph``; a test keeps them equal).
ORCHESTRATION_TASKS = (
    "ingest",
    "score",
    "monitor",
    "decide",
    "retrain",
    "dataset",
    "train",
    "gate",
)
#: What a day source template's placeholder becomes: the logical date, YYYY-MM-DD.
DATE_PLACEHOLDER = "{date}"


class DaySourceSpec(_Strict):
    """The day's rows the daily loop loads and scores, named by a template whose ``{date}``
    becomes the logical date (YYYY-MM-DD): the same forms as ``tabops predict --input``."""

    input: str = Field(
        description="A CSV or Parquet file, a folder or glob of them (relative to tabops.yaml), "
        "or a database URL with 'table' or 'query'; e.g. data/days/{date}.csv."
    )
    table: str | None = Field(
        default=None, description="With a database URL: the table of the day (may use {date})."
    )
    query: str | None = Field(
        default=None,
        description="With a database URL: the query of the day's rows, e.g. select * from tx "
        "where day = '{date}'.",
    )

    @model_validator(mode="after")
    def _dated(self) -> DaySourceSpec:
        if not any(DATE_PLACEHOLDER in (v or "") for v in (self.input, self.table, self.query)):
            raise ValueError(
                "put {date} in 'input' (or 'table'/'query'): each logical date needs its own rows"
            )
        if self.table is not None and self.query is not None:
            raise ValueError("set 'table' or 'query', not both")
        return self


class TaskSettings(_Strict):
    """One task's retries and timeout; unset values come from the section's defaults."""

    retries: int | None = Field(default=None, ge=0, description="Retries after a failure.")
    timeout_s: int | None = Field(default=None, ge=1, description="Seconds before it is killed.")


class RetrainTriggers(_Strict):
    """What asks for a retrain; the guardrails then decide whether one runs."""

    alerts: list[str] | None = Field(
        default=None,
        description="Names of monitor.alerts whose firing asks for a retrain; unset: every "
        "alert, []: none.",
    )
    every_days: int | None = Field(
        default=None, ge=1,
        description="Ask for a retrain when the last one is this many days old (a schedule).",
    )  # fmt: skip
    manual: bool = Field(
        default=True, description="Accept 'tabops pipeline retrain --reason TEXT'."
    )


class RetrainSpec(_Strict):
    """Guarded retraining: a trigger asks, these guardrails decide (each skip is audited with
    the guardrail that stopped it), and the gate alone promotes."""

    triggers: RetrainTriggers = Field(default_factory=RetrainTriggers)
    min_new_labels: int = Field(
        default=500, ge=0,
        description="Labelled production rows not yet trained on needed before a retrain.",
    )  # fmt: skip
    cooldown_days: int = Field(
        default=7, ge=0, description="Days after a retrain before the next may start."
    )
    max_retrains: int = Field(
        default=2, ge=0, description="Most retrains in any 'period_days' (0 disables retraining)."
    )
    period_days: int = Field(default=30, ge=1, description="The window of 'max_retrains'.")


class OrchestrationSpec(_Strict):
    """The daily loop (``tabops pipeline``, or the Airflow DAGs of ``tabops dags write``):
    ingest the day's rows, score them, monitor, and retrain when the guardrails allow."""

    day: DaySourceSpec | None = Field(
        default=None, description="The day's rows; the daily and ingest flows need it."
    )
    output: str = Field(
        default="data/scores",
        description="Where the day's scores go (as tabops predict --output): a folder (one "
        "run_date=D partition per day), a .parquet/.csv file name with {date}, or table:NAME.",
    )
    schedule: str = Field(
        default="@daily", description="When the daily flow runs (Airflow preset or cron)."
    )
    retries: int = Field(default=1, ge=0, description="Retries of every task after a failure.")
    timeout_s: int = Field(default=3600, ge=1, description="Seconds a task may run.")
    tasks: dict[str, TaskSettings] = Field(
        default_factory=dict,
        description="Per-task retries and timeout by task name (ingest, score, monitor, decide, "
        "retrain, dataset, train, gate).",
    )
    monitor_days: int = Field(
        default=7, ge=1,
        description="Days up to the logical date the monitor task measures again, as their "
        "late labels arrive (realized performance).",
    )  # fmt: skip
    retrain: RetrainSpec = Field(default_factory=RetrainSpec)


class ProjectSpec(_Strict):
    """A whole ``tabops.yaml``."""

    name: str = Field(
        pattern=PROJECT_NAME_PATTERN,
        description="Names the project in the store, the registry and the snapshot folder.",
    )
    task: Task = Field(description="What the model predicts: a class or a number.")
    target: str = Field(description="The column to predict; its role must be target.")
    positive_class: str | None = Field(
        default=None, description="The positive label of a binary classification target."
    )
    source: SourceSpec
    columns: dict[str, ColumnSpec]
    contract: ContractSpec = Field(default_factory=ContractSpec)
    ingest: IngestSpec = Field(default_factory=IngestSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    evaluate: EvaluateSpec = Field(default_factory=EvaluateSpec)
    gate: GateSpec = Field(default_factory=GateSpec)
    serve: ServeSpec = Field(default_factory=ServeSpec)
    monitor: MonitorSpec = Field(default_factory=MonitorSpec)
    decision: DecisionSpec | None = Field(
        default=None, description="Combine rules and the model's score into one decision."
    )
    orchestration: OrchestrationSpec = Field(default_factory=OrchestrationSpec)

    _root: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _check_columns(self) -> ProjectSpec:
        self._check_roles()
        self._check_task()
        self._check_evaluate()
        self._check_alerts()
        self._check_orchestration()
        allowed = METRICS[self.task]
        if self.train.metric is not None and self.train.metric not in allowed:
            raise ValueError(
                f"train.metric '{self.train.metric}' does not fit {self.task.value}; "
                f"use one of {', '.join(allowed)}"
            )
        return self

    def _check_roles(self) -> None:
        if not self.columns:
            raise ValueError("'columns' is empty: declare at least the target and one feature")
        if self.target not in self.columns:
            raise ValueError(f"target '{self.target}' is not among the columns")
        for name, col in self.columns.items():
            if (name == self.target) != (col.role == ColumnRole.TARGET):
                raise ValueError(
                    f"column '{name}': role 'target' belongs to exactly the column named by "
                    f"'target' ({self.target})"
                )
        if not any(c.role == ColumnRole.FEATURE for c in self.columns.values()):
            raise ValueError("no column has role 'feature'")

    def _check_task(self) -> None:
        if self.task == Task.REGRESSION:
            if self.columns[self.target].type not in (ColumnType.NUMERIC, ColumnType.INTEGER):
                raise ValueError("a regression target must be a numeric or integer column")
            if self.positive_class is not None:
                raise ValueError("positive_class applies to classification only")
            band = self.decision and (self.decision.reject_at, self.decision.review_at)
            if band and any(v is not None for v in band):
                raise ValueError("decision.reject_at and review_at apply to classification only")
        categories = self.columns[self.target].categories
        if self.positive_class is not None and categories and self.positive_class not in categories:
            raise ValueError(
                f"positive_class '{self.positive_class}' is not one of the target's categories "
                f"{categories}"
            )

    def _check_evaluate(self) -> None:
        for column in [*self.evaluate.slices, *(c.column for c in self.evaluate.checks)]:
            if column not in self.columns:
                raise ValueError(f"evaluate: column '{column}' is not among the columns")
        for check in self.evaluate.checks:
            if self.columns[check.column].role != ColumnRole.FEATURE:
                raise ValueError(f"evaluate.checks '{check.name}': '{check.column}' is no feature")
            numeric = (ColumnType.NUMERIC, ColumnType.INTEGER)
            if check.kind == "directional" and self.columns[check.column].type not in numeric:
                raise ValueError(
                    f"evaluate.checks '{check.name}': directional checks need a numeric column"
                )

    def _check_alerts(self) -> None:
        for name in self.monitor.drift_exclude:
            column = self.columns.get(name)
            if column is None or column.role != ColumnRole.FEATURE:
                raise ValueError(
                    f"monitor.drift_exclude: '{name}' is not one of the spec's feature columns"
                )
        names = [alert.name for alert in self.monitor.alerts]
        if len(set(names)) < len(names):
            raise ValueError("monitor.alerts: alert names must be unique")
        for alert in self.monitor.alerts:
            known = self.monitor_metrics
            if alert.metric not in known:
                raise ValueError(
                    f"monitor.alerts '{alert.name}': unknown metric '{alert.metric}'; "
                    f"use one of {', '.join(known)}"
                )
            per_column = alert.metric in COLUMN_MONITOR_METRICS
            column = self.columns.get(alert.column or "")
            if per_column and (column is None or column.role != ColumnRole.FEATURE):
                raise ValueError(
                    f"monitor.alerts '{alert.name}': '{alert.metric}' is measured per feature; "
                    "set 'column' to one of the spec's feature columns"
                )
            if not per_column and alert.column is not None:
                raise ValueError(
                    f"monitor.alerts '{alert.name}': '{alert.metric}' is not per feature; "
                    "remove 'column'"
                )

    def _check_orchestration(self) -> None:
        unknown = sorted(set(self.orchestration.tasks) - set(ORCHESTRATION_TASKS))
        if unknown:
            raise ValueError(
                f"orchestration.tasks: unknown task(s) {unknown}; use "
                f"{', '.join(ORCHESTRATION_TASKS)}"
            )
        alerts = {alert.name for alert in self.monitor.alerts}
        for name in self.orchestration.retrain.triggers.alerts or []:
            if name not in alerts:
                raise ValueError(
                    f"orchestration.retrain.triggers.alerts: '{name}' is not one of "
                    f"monitor.alerts ({', '.join(sorted(alerts)) or 'none declared'})"
                )

    @property
    def monitor_metrics(self) -> tuple[str, ...]:
        """Every metric ``tabops monitor`` can report (and alerts can watch) for this task."""
        task_metrics = METRICS[self.task]
        if self.task == Task.CLASSIFICATION:
            task_metrics += ("precision", "recall")
        estimated = (
            () if self.task == Task.REGRESSION else tuple(f"estimated_{m}" for m in task_metrics)
        )
        return COLUMN_MONITOR_METRICS + WINDOW_MONITOR_METRICS + task_metrics + estimated

    @property
    def metric(self) -> str:
        """The primary metric: ``train.metric`` or the task's default."""
        return self.train.metric or METRICS[self.task][0]

    @property
    def root(self) -> Path:
        """Folder of the spec file; relative paths in the spec are relative to it."""
        return self._root

    def resolve_path(self, path: str) -> Path:
        """A path from the spec, made absolute against the spec's folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self._root / candidate

    def columns_with_role(self, *roles: ColumnRole) -> list[str]:
        """Names of the columns with any of ``roles``, in spec order."""
        return [name for name, col in self.columns.items() if col.role in roles]

    @property
    def spec_hash(self) -> str:
        """SHA-256 of the canonical spec content; recorded with everything it produces."""
        # The loop's settings make no model: a spec without them keeps its earlier hash.
        plain = self.orchestration == OrchestrationSpec()
        dumped = self.model_dump(mode="json", exclude={"orchestration"} if plain else None)
        canonical = json.dumps(dumped, sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()


def find_spec(path: Path | None) -> Path:
    """The spec file to use: ``path`` (a file or a folder holding one), else ``./tabops.yaml``."""
    candidate = path if path is not None else Path.cwd()
    if candidate.is_dir():
        candidate = candidate / SPEC_FILENAME
    if not candidate.is_file():
        raise SpecError(
            f"No project spec at {candidate}. Run 'tabops init --data FILE --target COLUMN' to "
            "create one, or pass --spec PATH."
        )
    return candidate


def load_spec(path: Path | None = None, overrides: list[str] | None = None) -> ProjectSpec:
    """Read, override and validate a ``tabops.yaml``.

    Args:
        path: The spec file, or a folder holding ``tabops.yaml``; default the current folder.
        overrides: ``key.path=value`` strings; values are parsed as YAML scalars.

    Raises:
        SpecError: naming the file, the key path and what is allowed.
    """
    spec_path = find_spec(path)
    try:
        raw = load_yaml(spec_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where = yaml_error_location(exc)
        raise SpecError(f"{spec_path}{where} is not valid YAML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"Cannot read {spec_path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise SpecError(f"{spec_path} must hold a mapping of settings (name, task, target, ...).")
    for override in overrides or []:
        apply_override(raw, override)
    spec = parse_spec(raw, source=str(spec_path))
    spec._root = spec_path.parent.resolve()
    return spec


def parse_spec(raw: dict[str, Any], source: str = SPEC_FILENAME) -> ProjectSpec:
    """Validate a spec mapping; errors name ``source`` and every failing key path."""
    try:
        return ProjectSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source)) from exc


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per pydantic error: key path, what is wrong, what is allowed."""
    return format_errors(
        exc,
        source,
        root=ProjectSpec,
        footer="Fix the spec (or the --set override) and run the command again.",
        describe=_describe,
    )


def _describe(error: ErrorDetails, loc: list[str]) -> str | None:
    """The spec's own wording: a name pattern's rule in words."""
    if error["type"] != "string_pattern_mismatch":
        return None
    pattern = str((error.get("ctx") or {}).get("pattern", ""))
    return f"{error['input']!r} is not allowed: {_PATTERN_RULES.get(pattern, pattern)}"


_OVERRIDE = re.compile(r"^(?P<key>[A-Za-z_][\w\-]*(?:\.[\w\-]+)*)=(?P<value>.*)$", re.DOTALL)


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Apply one ``key.path=value`` override to a raw spec mapping, in place."""
    match = _OVERRIDE.match(override)
    if match is None:
        raise SpecError(
            f"--set '{override}' is not of the form key.path=value "
            "(for example: --set contract.max_quarantine_rate=0.1)."
        )
    try:
        value = load_yaml(match["value"]) if match["value"] else ""
    except yaml.YAMLError as exc:
        raise SpecError(f"--set '{override}': the value is not valid YAML: {exc}") from exc
    keys = match["key"].split(".")
    node: Any = raw
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            path = ".".join(keys[: depth + 1])
            raise SpecError(f"--set '{override}': '{path}' is a value, not a section.")
        node = child
    node[keys[-1]] = value


def dump_spec(spec: ProjectSpec) -> str:
    """The spec as YAML, defaults left out so the file stays short and readable."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    for name, col in spec.columns.items():
        # Role and nullability always shown: they are the first thing a reader checks.
        entry = data["columns"][name] | {"role": col.role.value, "nullable": col.nullable}
        data["columns"][name] = {k: _tidy(entry[k]) for k in ColumnSpec.model_fields if k in entry}
    ordered = {key: data[key] for key in ProjectSpec.model_fields if key in data}
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)


def _tidy(value: Any) -> Any:
    """Whole floats as ints (min: 0, not min: 0.0), recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    return value
