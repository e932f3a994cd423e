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
CML_VERSION := 0.20.6

.PHONY: help install run repro ui test test-fast lint format bench pr-report pr-check \
	install-cml pr-comment

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3.11 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --compile-bytecode
	@touch $@

install: .venv/.installed ## create .venv from uv.lock (bytecode compiled)

run: repro ## the main job: pull the data, reproduce the pipeline, print metrics and the MLflow run
	@# dvc restores outputs that dvc.lock already records without running evaluate: on a fresh
	@# clone, evaluate again so that this machine's MLflow store holds the run.
	python -m ratchet summary --check || dvc repro --force --single-item evaluate
	python -m ratchet summary

repro: install ## pull the data (and any outputs the DVC remote has), rerun the stages that changed
	dvc pull data.dvc
	dvc repro --pull

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

# The pull-request loop. The workflow sets BASE, PR_NUMBER, HEAD_SHA and RUN_URL in the environment;
# locally `make pr-check BASE=my-base-branch` (default: main). Recipes read them as shell variables.
pr-report: install ## the merge gate and the PR report against $BASE, in reports/pr/ (exit 1: gate fails)
	python -m ratchet report --base "$${BASE:-main}" --out reports/pr \
	  $${PR_NUMBER:+--pr-number "$$PR_NUMBER"} $${HEAD_SHA:+--head-sha "$$HEAD_SHA"} \
	  $${RUN_URL:+--run-url "$$RUN_URL"} $${REPORT_IMAGES:+--images}

pr-check: repro pr-report ## run exactly what the PR workflow runs: repro, then gate and report against BASE

install-cml: ## install the CML CLI, pinned, from npm (the PR comment job runs it)
	npm install --global --no-fund --no-audit "@dvcorg/cml@$(CML_VERSION)"

pr-comment: ## post $ARTIFACT's report as the PR's one comment (system Python, no install)
	PYTHONPATH=src python3 -m ratchet comment --artifact "$$ARTIFACT" \
	  --run-head-sha "$$RUN_HEAD_SHA" $${PUBLISH_IMAGES:+--publish}

# Drift monitoring and retraining: monitor.yml and retrain.yml run these. In a workflow, GitHub's
# GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are set: `monitor` then records the verdict as the step
# output `drift` (and exits 0 on drift) and adds its summary to the job summary. Alone,
# `python -m ratchet monitor` exits 3 on drift. The workflows set RUN_URL, PUBLISH, TOKEN_SOURCE.
.PHONY: monitor drift-alert refresh-data retrain retrain-pr bench-monitor

monitor: install ## compare monitor.current with the training split: reports/drift.html, drift.json
	dvc pull data.dvc
	dvc repro --pull prepare
	python -m ratchet monitor $${GITHUB_OUTPUT:+--github-output "$$GITHUB_OUTPUT"} \
	  $${GITHUB_STEP_SUMMARY:+--markdown "$$GITHUB_STEP_SUMMARY"} $${RUN_URL:+--run-url "$$RUN_URL"}

drift-alert: ## on drift: open or update the `drift` issue, start retrain.yml (system Python, gh)
	PYTHONPATH=src python3 -m ratchet drift-issue $${RUN_URL:+--run-url "$$RUN_URL"}
	gh workflow run retrain.yml

refresh-data: install ## add new rows to the training data (src/ratchet/sources.py), checked; dvc add
	python -m ratchet refresh-data
	dvc add data

retrain: install ## pull the data, refresh it, reproduce the pipeline, push data and outputs to DVC
	dvc pull data.dvc
	$(MAKE) refresh-data
	dvc repro
	dvc push

retrain-pr: install ## commit the retraining on ratchet/retrain; PUBLISH=1: push it, open or update the PR
	python -m ratchet retrain-pr $${PUBLISH:+--publish} \
	  $${TOKEN_SOURCE:+--token-source "$$TOKEN_SOURCE"} $${RUN_URL:+--run-url "$$RUN_URL"} \
	  $${GITHUB_STEP_SUMMARY:+--markdown "$$GITHUB_STEP_SUMMARY"}

bench-monitor: install ## time the monitor on the demo data, and the start-up it adds elsewhere
	python -m tests.benchmarks.monitor

bench: install ## time repro (cold and no-op), CLI start-up, install and venv size
	python -m tests.benchmarks.pipeline

# Serving and releases. `make serve` serves the current model; release.yml runs the rest on a
# version tag, with TAG (e.g. v1.2.0) and GITHUB_REPOSITORY in the environment.
.PHONY: check-tag import-model bento serve bench-serve pull-model image smoke-image push-image \
	release-notes github-release promote

import-model: install ## put the current model into the BentoML store as ratchet:<version>
	python -m ratchet import-model

bento: install ## build the BentoML service around the current model (bento version $TAG if set)
	python -m ratchet bento $${TAG:+--version "$$TAG"}

serve: install ## serve the current model on http://127.0.0.1:3000 (after `make run`)
	model="$$(python -m ratchet import-model)"; \
	bentoml serve ratchet.service:Ratchet --host 127.0.0.1 --port "$${PORT:-3000}" --arg model="$$model"

bench-serve: install ## served latency and throughput vs in-process predict and bare FastAPI
	python -m tests.benchmarks.serve

check-tag: ## fail unless the tagged commit is on $DEFAULT_BRANCH (so its model passed the gate)
	git merge-base --is-ancestor HEAD "origin/$${DEFAULT_BRANCH:-main}" || { echo "error: $${TAG:-HEAD}\
	 is not on $${DEFAULT_BRANCH:-main}, so its model never passed metrics-gate: tag a commit of\
	 $${DEFAULT_BRANCH:-main}" >&2; exit 1; }

pull-model: install ## fetch the outputs dvc.lock names, retrain only what the remote lacks
	python -m ratchet pull-model $${GITHUB_OUTPUT:+--github-output "$$GITHUB_OUTPUT"}

image: install ## containerize the bento ratchet:$TAG with the model into the image ratchet:$TAG
	bentoml containerize "ratchet:$$TAG" --backend buildx --image-tag "ratchet:$$TAG"

smoke-image: install ## start the image ratchet:$TAG, smoke-test it on port 3000, stop it
	docker run --detach --rm --name ratchet-smoke --publish 127.0.0.1:3000:3000 "ratchet:$$TAG"
	python -m ratchet smoke-test http://127.0.0.1:3000 || { docker logs ratchet-smoke; \
	  docker stop ratchet-smoke; exit 1; }
	docker stop ratchet-smoke

push-image: install ## push ratchet:$TAG to ghcr.io/$GITHUB_REPOSITORY with its semver tags
	refs="$$(python -m ratchet image-tags "$$TAG" --repository "$$GITHUB_REPOSITORY")"; \
	for ref in $$refs; do docker tag "ratchet:$$TAG" "$$ref"; docker push --quiet "$$ref"; done; \
	pushed="$$(docker inspect --format '{{index .RepoDigests 0}}' "ratchet:$$TAG")"; \
	echo "pushed $$pushed"; \
	if [ -n "$${GITHUB_OUTPUT:-}" ]; then \
	  printf 'image=%s\ndigest=%s\n' "$${pushed%@*}" "$${pushed#*@}" >> "$$GITHUB_OUTPUT"; fi

release-notes: install ## write release-notes.md for $TAG (metrics, model card; $IMAGE, $DIGEST)
	python -m ratchet release-notes --tag "$$TAG" --output release-notes.md \
	  $${IMAGE:+--image "$$IMAGE"} $${DIGEST:+--digest "$$DIGEST"}

github-release: ## publish the GitHub Release $TAG with release-notes.md (-rc tags: pre-release)
	prerelease="$$([[ "$$TAG" == *-* ]] && echo --prerelease || true)"; \
	gh release create "$$TAG" --verify-tag --title "$$TAG" --notes-file release-notes.md $$prerelease

promote: install ## point the MLflow alias `production` at the current model (or $MODEL_SHA256's)
	python -m ratchet promote $${TAG:+--release "$$TAG"} \
	  $${MODEL_SHA256:+--model-sha256 "$$MODEL_SHA256"}
