# Every workflow step and every README command is a target here. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
# Use uv from PATH, or install a pinned one into .tools/ with the machine's Python 3.11.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# Recipes run the project's own tools (python, dvc, mlflow, bentoml) from .venv.
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/.tools/bin:$(PATH)
export UV_PYTHON := 3.11

PYTEST_ARGS ?=

.PHONY: help install run repro ui test test-fast lint format bench

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3.11 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --compile-bytecode
	@touch $@

install: .venv/.installed ## create .venv from uv.lock (bytecode compiled)

run: install ## the main job: pull the data, reproduce the pipeline, print metrics and the MLflow run
	dvc pull
	dvc repro
	python -m ratchet summary

repro: install ## rerun only the pipeline stages whose inputs changed
	dvc repro

ui: install ## open the MLflow UI on the local store (http://127.0.0.1:5000)
	mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000

test: install ## the whole test suite, end-to-end tests included
	pytest $(PYTEST_ARGS)

test-fast: install ## the tests without the slow end-to-end ones
	pytest -m "not slow" $(PYTEST_ARGS)

lint: install ## ruff, formatting and mypy
	ruff check .
	ruff format --check .
	mypy

format: install ## apply ruff's fixes and formatting
	ruff check --fix .
	ruff format .

bench: install ## time repro (cold and no-op), CLI start-up, install and venv size
	python tests/benchmarks/pipeline.py
