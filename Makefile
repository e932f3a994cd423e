# What you run. `make help` lists it; what only the workflows run is in ci.mk.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The one pin of uv: the workflows' setup (.github/actions/setup) reads it with `make uv-version`.
UV_VERSION := 0.13.9
# Use uv from PATH, or install a pinned one into .tools/ with the machine's Python 3.11.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# Recipes run the project's own tools (python, dvc, mlflow, bentoml) from .venv.
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/.tools/bin:$(PATH)
export UV_PYTHON := 3.11
# No usage reports from BentoML (docs/serving.md: how to send them).
export BENTOML_DO_NOT_TRACK ?= True

BASE ?= main
PORT ?= 3000
IN ?= data/current.csv
OUT ?= reports/predictions.csv
PYTEST_ARGS ?=
BENCH ?= pipeline serve predict monitor
ENV ?= staging
VEGA_DIR := .tools/vega
VEGA := vega@5.33.1 vega-lite@5.23.0 vega-embed@6.29.0

.PHONY: help install run test test-fast lint docs format ui plots pr-check serve predict monitor \
	retrain image manifests bench uv-version

##@ Start here

help: ## list these targets
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} \
	  /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' Makefile
	@echo; echo "The workflows' own steps are in ci.mk."

install: .venv/.installed ## create .venv from uv.lock, every group

run: install ## the main job: pull the data, reproduce the pipeline, print metrics and the MLflow run
	dvc pull data.dvc
	dvc repro
	@# dvc restores outputs that dvc.lock already records without running evaluate: on a fresh
	@# clone no run in this machine's MLflow store logged the model, summary exits 3, and
	@# evaluate runs again to log one.
	python -m ratchet summary || { test $$? -eq 3 && dvc repro --force --single-item evaluate && python -m ratchet summary; }

# The suite starts hundreds of Python processes. Each compiles what it imports once and leaves
# the bytecode in .venv for the next, also where the environment says not to: with
# PYTHONDONTWRITEBYTECODE set (as some CI images and containers do) every process compiled
# scikit-learn, pandas and DVC from source again, and a fresh clone's suite took twice as long.
test test-fast: export PYTHONDONTWRITEBYTECODE :=

test: install ## the whole test suite, end-to-end tests included, in parallel
	pytest -n auto --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

##@ Develop

test-fast: install ## the tests without the slow end-to-end ones (the required `test` check)
	pytest -n auto --dist loadfile -m "not slow" $(PYTEST_ARGS)

lint: install docs ## ruff, formatting, mypy, and the docs site's build
	ruff check .
	ruff format --check .
	mypy

docs: install ## build the docs site from docs/ into site/ (strict: a broken link fails)
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict

format: install ## apply ruff's fixes and formatting
	ruff check --fix .
	ruff format .

plots: install $(VEGA_DIR)/vega-embed.min.js ## draw the plots, this branch's beside BASE's: dvc_plots/index.html
	dvc plots diff "$(BASE)" --out dvc_plots

pr-check: install ## the PR check against BASE (default main): retrain from scratch, verify, gate
	@# The gate fails on what reproduce found, with a report: go on to it either way.
	-python -m ratchet reproduce
	python -m ratchet gate --base "$(BASE)"

bench: install ## time the pipeline, the service, batch scoring, the monitor (BENCH=serve: one)
	for bench in $(BENCH); do python -m tests.benchmarks.$$bench; done

##@ Use the model

ui: install ## browse the MLflow runs of the local store on http://127.0.0.1:5000
	mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000

serve: install ## serve the current model on http://127.0.0.1:$PORT (after `make run`)
	@# import-model stops here, in one line, when there is no trained model. Ship the prediction
	@# log to predictions/ every 5 s (not 60), for `make monitor` right after.
	@model="$$(python -m ratchet import-model)"; \
	  echo "make serve: $$model on http://127.0.0.1:$(PORT)"; \
	  RATCHET_PREDICTION_SHIP_SECONDS=$${RATCHET_PREDICTION_SHIP_SECONDS:-5} \
	  bentoml serve ratchet.serve.service:Ratchet --host 127.0.0.1 --port "$(PORT)" \
	  --arg model="$$model"

predict: install ## score a CSV with the current model: make predict IN=records.csv OUT=scored.csv
	python -m ratchet predict "$(IN)" --output "$(OUT)"

monitor: install ## compare recent inputs with the training data: reports/drift.html
	dvc pull data.dvc
	dvc repro prepare
	@# Exit 3 is drift, a finding the command has just printed, not a failure of make's.
	python -m ratchet monitor || test $$? -eq 3

retrain: install retrain-data ## add new data, retrain, commit the result on branch ratchet/retrain
	python -m ratchet retrain-commit

image: install bento container smoke-image ## build the service image of the current model, smoke-test it (Docker)

manifests: install ## print the Kubernetes objects of an overlay: make manifests ENV=production
	kubectl kustomize "deploy/overlays/$(ENV)"

# --- Installing ----------------------------------------------------------------------------------

uv-version:
	@echo "$(UV_VERSION)"

$(CURDIR)/.tools/bin/uv:
	@# With the pip of Python 3.11 if it has one: a venv with a pip of its own takes 5 s more.
	if python3.11 -m pip --version >/dev/null 2>&1; then \
	  python3.11 -m pip install --quiet --target .tools "uv==$(UV_VERSION)"; \
	else python3.11 -m venv .tools && .tools/bin/pip install --quiet "uv==$(UV_VERSION)"; fi

# Vega for the plots' page (.dvc/plots.html reads it from VEGA_DIR, so that it draws offline), from
# the npm registry.
$(VEGA_DIR)/vega-embed.min.js:
	@command -v npm >/dev/null || { echo "npm not found: install Node.js (https://nodejs.org/)"; exit 1; }
	rm -rf $(VEGA_DIR) && mkdir -p $(VEGA_DIR)
	cd $(VEGA_DIR) && npm pack --silent $(VEGA) >/dev/null && for tarball in *.tgz; do \
	  tar -xzf "$$tarball" --strip-components=2 "package/build/$${tarball%-*.tgz}.min.js"; \
	done && rm -- *.tgz

.venv/.installed: uv.lock pyproject.toml | $(UV)
	@# No --compile-bytecode: compiling every file of every package takes most of a minute, while
	@# Python compiles (and keeps) the bytecode of what a run imports the first time it does.
	$(UV) sync --locked
	@touch $@

include ci.mk
