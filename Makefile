# tabops developer entry points. The quick start is two commands: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Bytecode compiled at install (uv does not by default): where PYTHONDONTWRITEBYTECODE is set
# (CI runners, containers) every tabops process would otherwise compile MLflow, pandas and the
# rest as it starts, about 3 s each.
UV_INSTALL := $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python

.PHONY: help install setup-postgres setup-prometheus setup-spark demo demo-fraud test test-fast lint format quality bench-ingest bench-train clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tabops needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(UV_INSTALL) -e '.[all,dev,docs]'
	$(BIN)/python -m compileall -qq src  # editable: uv compiles only what it copies
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install tabops with its dev tools

setup-postgres:  ## Install PostgreSQL server binaries if missing (tests start their own cluster)
	@bash scripts/setup-postgres.sh

setup-prometheus:  ## Install Prometheus and promtool if missing (tests start their own server)
	@bash scripts/setup-prometheus.sh

demo: install  ## Run the churn example end to end on the embedded default
	@bash scripts/demo.sh

demo-fraud: install  ## The fraud example: generate, train, backtest rules vs model, serve, simulate
	@bash examples/fraud/run.sh

setup-spark: install  ## Install pyspark (the `spark` extra) into .venv if missing; Spark needs Java 17+
	@$(BIN)/python -c 'import pyspark' 2>/dev/null || $(UV_INSTALL) -e '.[spark]'

test: install setup-postgres setup-prometheus setup-spark setup-airflow  ## Run the whole test suite (unit, integration, CLI), with coverage
	$(BIN)/pytest -n 2 --dist loadgroup --durations=20 --cov --cov-report=term:skip-covered

test-fast: install  ## Unit tests only: no services, no subprocesses (about a minute)
	$(BIN)/pytest -n 2 tests/unit -m "not postgres and not slow"

quality: install  ## Train the churn example and fail below the floor in ci/model-quality.json
	$(BIN)/python scripts/model_quality.py

lint: install  ## ruff (lint + format check), mypy and the import-linter layer contracts
	$(BIN)/ruff check src tests benchmarks scripts examples
	$(BIN)/ruff format --check src tests benchmarks scripts examples
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install  ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks scripts examples
	$(BIN)/ruff format src tests benchmarks scripts examples

bench-ingest: install setup-postgres  ## 1M-row CSV into PostgreSQL: tabops vs pandas.to_sql
	$(BIN)/python benchmarks/ingest.py

bench-train: install  ## Wall time and peak memory of tabops run on 100k and 1M generated rows
	$(BIN)/python benchmarks/train.py

.PHONY: setup-loadgen bench-serve bench-soak
setup-loadgen:  ## Install the load generators wrk and hey (Debian packages) if missing
	@bash scripts/setup-loadgen.sh

bench-soak: install setup-loadgen  ## L3: tabops serve at 70% of its knee for 30 minutes
	$(BIN)/python benchmarks/soak.py --minutes 30

bench-serve: install setup-loadgen  ## 1-row requests: tabops serve vs mlflow models serve vs bare ONNX
	$(BIN)/python benchmarks/serve.py

.PHONY: bench-serve-startup
bench-serve-startup: install  ## Import time of the server module and start-to-ready, tabops vs mlflow
	$(BIN)/python benchmarks/serve_startup.py

.PHONY: bench-monitor-scale
bench-monitor-scale: install setup-postgres  ## Peak memory of monitor run --data on 10M rows x 50 columns (Parquet, PostgreSQL)
	$(BIN)/python benchmarks/monitor_scale.py --measure-rows 1000000 --write

.PHONY: bench-synth
bench-synth: install  ## Synthetic fraud generator: transactions per second on one core
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/synth.py

.PHONY: bench-text-model
bench-text-model: install  ## A model with a text column: compiled predictor vs its scikit-learn pipeline
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/text_model.py --write

.PHONY: docs-screenshot
docs-screenshot: install  ## Regenerate docs/images/monitor-report.png (fraud stream, headless Chromium)
	@bash scripts/report_screenshot.sh

.PHONY: bench-monitor-truth
bench-monitor-truth: install  ## The monitor vs the fraud generator's drift calendar: delays, false alarms, CBPE
	$(BIN)/python benchmarks/monitor_truth.py

clean:  ## Remove the virtual environment, demo output and caches
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench-batch
bench-batch: install setup-postgres setup-spark  ## tabops predict: 1M rows vs the raw model and MLflow, CSV to PostgreSQL, Spark on 10M rows
	$(BIN)/python benchmarks/batch.py --write

.PHONY: docs
# NO_MKDOCS_2_WARNING: silences the Material theme's end-of-life banner (not a build warning).
docs: install  ## Build the docs site into site/ (strict; CLI, spec and HTTP references generated)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

.PHONY: lock audit lint-deploy
LOCK := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock"
lock: install  ## Refresh the lock files requirements/{serve,full,dev}.txt from pyproject.toml (newest allowed versions)
	$(LOCK) --upgrade --extra serve -o requirements/serve.txt
	$(LOCK) --upgrade --extra all --extra s3 -o requirements/full.txt
	$(LOCK) --upgrade --extra all --extra dev -o requirements/dev.txt

audit: install  ## pip-audit over the lock files: fails on a known vulnerability with a fix, or a package it could not check
	$(BIN)/python scripts/audit.py

lint-deploy: install  ## hadolint over both Dockerfiles, and the compose file against the Compose Specification schema
	$(BIN)/hadolint deploy/Dockerfile deploy/Dockerfile.serve
	$(BIN)/pytest -p no:cacheprovider -q tests/integration/deploy/test_compose.py tests/integration/deploy/test_dockerfiles.py

.PHONY: setup-airflow
setup-airflow: install  ## Apache Airflow 3 in its own venv, .venv-airflow, from its constraints file (cached)
	@UV=$(BIN)/uv bash scripts/setup-airflow.sh


.PHONY: bench-airflow-parse
bench-airflow-parse: setup-airflow  ## DagBag parse time of every generated DAG file (target < 1 s per file)
	$(BIN)/python benchmarks/airflow_parse.py --write

.PHONY: rehearsal
rehearsal: install setup-postgres setup-prometheus  ## Production on loopback: PostgreSQL, S3 (moto), MLflow server, serve, Prometheus; churn and fraud end to end
	$(BIN)/python scripts/rehearsal.py
