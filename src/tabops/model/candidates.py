"""Model families by name: how to build each estimator and its default search space."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tabops.errors import SpecError
from tabops.spec import CandidateSpec, SearchRange, Task


@dataclass(frozen=True)
class Family:
    """A model family for one task: a factory and the parameters worth tuning."""

    build: Callable[[dict[str, Any], int], Any]  # (params, seed) -> unfitted estimator
    search: dict[str, SearchRange]


log = logging.getLogger(__name__)


def fit(pipeline: Any, x: Any, y: Any) -> Any:
    """``pipeline`` fitted. A linear model that stops at its iteration limit says so with
    scikit-learn's ConvergenceWarning; its score already says how good it is, so the warning
    goes to the debug log, not to the user's terminal."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fitted = pipeline.fit(x, y)
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            log.debug("%s", warning.message)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)  # fmt: skip
    return fitted


def _logistic(params: dict[str, Any], seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**{"max_iter": 2000, "random_state": seed, **params})


def _elasticnet(params: dict[str, Any], seed: int) -> Any:
    from sklearn.linear_model import ElasticNet

    return ElasticNet(**{"max_iter": 5000, "random_state": seed, **params})


def _lightgbm(task: Task) -> Callable[[dict[str, Any], int], Any]:
    def build(params: dict[str, Any], seed: int) -> Any:
        import lightgbm

        model = lightgbm.LGBMClassifier if task == Task.CLASSIFICATION else lightgbm.LGBMRegressor
        # One thread: predictable on small machines and reproducible for a seed.
        defaults = {"random_state": seed, "verbose": -1, "n_jobs": 1}
        return model(**{**defaults, **params})

    return build


def _random_forest(task: Task) -> Callable[[dict[str, Any], int], Any]:
    def build(params: dict[str, Any], seed: int) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        model = RandomForestClassifier if task == Task.CLASSIFICATION else RandomForestRegressor
        return model(**{"random_state": seed, "n_jobs": 1, **params})

    return build


def _xgboost(task: Task) -> Callable[[dict[str, Any], int], Any]:
    def build(params: dict[str, Any], seed: int) -> Any:
        try:
            import xgboost
        except ImportError as exc:
            raise SpecError(
                "The xgboost candidate needs the xgboost package: pip install 'tabops[xgboost]'."
            ) from exc
        if task == Task.CLASSIFICATION:
            # XGBClassifier wants labels 0..k-1 and tabops keeps the spec's labels in the
            # pipeline (serving answers with them); until a label-keeping wrapper exists,
            # refuse clearly instead of failing every trial.
            raise SpecError(
                "The xgboost candidate supports regression only for now; for classification "
                "use lightgbm (a gradient-boosted tree model of the same kind)."
            )
        return xgboost.XGBRegressor(**{"random_state": seed, "n_jobs": 1, **params})

    return build


def _range(low: float, high: float, log: bool = False, integer: bool = False) -> SearchRange:
    return SearchRange(low=low, high=high, log=log, integer=integer)


_BOOSTING = {
    "n_estimators": _range(50, 500, integer=True),
    "learning_rate": _range(0.01, 0.3, log=True),
    "num_leaves": _range(8, 128, log=True, integer=True),
    "min_child_samples": _range(5, 100, log=True, integer=True),
    "subsample": _range(0.5, 1.0),
    "subsample_freq": SearchRange(choices=[1]),
    "colsample_bytree": _range(0.5, 1.0),
    "reg_lambda": _range(1e-3, 10.0, log=True),
}
_FOREST = {
    "n_estimators": _range(100, 400, integer=True),
    "max_depth": _range(3, 20, integer=True),
    "min_samples_leaf": _range(1, 50, log=True, integer=True),
    "max_features": SearchRange(choices=["sqrt", 0.5, 1.0]),
}
_XGB = {
    "n_estimators": _range(50, 500, integer=True),
    "learning_rate": _range(0.01, 0.3, log=True),
    "max_depth": _range(2, 10, integer=True),
    "subsample": _range(0.5, 1.0),
    "colsample_bytree": _range(0.5, 1.0),
    "reg_lambda": _range(1e-3, 10.0, log=True),
}

FAMILIES: dict[Task, dict[str, Family]] = {
    Task.CLASSIFICATION: {
        "linear": Family(_logistic, {"C": _range(1e-3, 100.0, log=True)}),
        "lightgbm": Family(_lightgbm(Task.CLASSIFICATION), _BOOSTING),
        "random_forest": Family(_random_forest(Task.CLASSIFICATION), _FOREST),
        "xgboost": Family(_xgboost(Task.CLASSIFICATION), _XGB),
    },
    Task.REGRESSION: {
        "linear": Family(
            _elasticnet,
            {"alpha": _range(1e-4, 10.0, log=True), "l1_ratio": _range(0.0, 1.0)},
        ),
        "lightgbm": Family(_lightgbm(Task.REGRESSION), _BOOSTING),
        "random_forest": Family(_random_forest(Task.REGRESSION), _FOREST),
        "xgboost": Family(_xgboost(Task.REGRESSION), _XGB),
    },
}


def family(candidate: CandidateSpec, task: Task, index: int) -> Family:
    """The family a candidate names, with its search space (the spec's, else the default)."""
    known = FAMILIES[task]
    if candidate.estimator not in known:
        raise SpecError(
            f"train.candidates[{index}].estimator '{candidate.estimator}' is not known for "
            f"{task.value}; use one of {', '.join(known)}."
        )
    chosen = known[candidate.estimator]
    if candidate.search is None:  # the default space, minus what the spec fixes
        search = {k: v for k, v in chosen.search.items() if k not in candidate.params}
    else:
        search = candidate.search
    clash = sorted(set(search) & set(candidate.params))
    if clash:
        raise SpecError(
            f"train.candidates[{index}]: {', '.join(clash)} is both fixed in 'params' and tuned "
            "in 'search'; keep it in one of them."
        )
    accepted = set(chosen.build({}, 0).get_params())
    unknown = sorted((set(search) | set(candidate.params)) - accepted)
    if unknown:
        raise SpecError(
            f"train.candidates[{index}] ({candidate.estimator}): unknown parameter(s) "
            f"{', '.join(unknown)}. Accepted: {', '.join(sorted(accepted))}."
        )
    return Family(chosen.build, search)
