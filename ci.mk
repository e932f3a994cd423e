# What only the workflows run: one target per step, included by the Makefile. Each target is one
# command; the commands read what the run tells them (the PR, the tag, the run's URL, where step
# outputs go) from the environment themselves, in src/ratchet/github/actions.py.

.PHONY: install-pipeline install-serve install-monitor install-release test-e2e reproduce gate \
	install-cml pr-comment check-drift drift-alert retrain-data retrain-commit retrain-pr \
	check-tag bento container smoke-image push-image release-notes github-release promote \
	deploy-staging deploy-promote

# A job installs only its own dependency group (pyproject.toml), without compiling bytecode: a
# job runs each module once, so compiling every file of every package would cost more than it saves.
# --no-editable installs Ratchet as a package, so the checkout's src/ is never on sys.path: a
# sitecustomize.py, usercustomize.py or .pth file that a pull request adds there is never imported
# (the reproduction refuses them by name as well).
# A static pattern rule: make looks up no implicit rule for a .PHONY target.
install-pipeline install-serve install-monitor install-release: install-%: | $(UV)
	$(UV) sync --locked --no-default-groups --group $* --no-editable

# CI (ci.yml): the slow end-to-end tests, beside the required `test` job's `make test-fast`.
test-e2e:
	pytest -n auto --dist loadfile -m slow

# The PR check (pr.yml), and the same verification of main (main.yml) and of a release: refuse
# files that would stand in for the check, pull the data and only the data, re-hash it against
# data.dvc, retrain every stage, hold the committed dvc.lock and results against the result.
reproduce:
	python -m ratchet reproduce

# Then judge the reproduced model against the base's, and write the PR report.
gate:
	python -m ratchet gate

# The PR comment (comment.yml): the default branch's code on the system Python, no install.
# CML is built from its own source, checked out at CML_DIR, with a lockfile that holds a hash of
# every package (.github/cml/package-lock.json); it runs no package's install scripts.
CML_DIR ?= .tools/cml
install-cml:
	cp .github/cml/package-lock.json "$(CML_DIR)/package-lock.json"
	npm ci --prefix "$(CML_DIR)" --omit=dev --ignore-scripts --no-audit --no-fund

pr-comment:
	PYTHONPATH=src python3 -m ratchet comment --cml "$(CML_DIR)/bin/cml.js"

# Drift and retraining (monitor.yml, retrain.yml).
check-drift:
	dvc pull data.dvc
	dvc repro prepare
	python -m ratchet monitor

drift-alert:
	PYTHONPATH=src python3 -m ratchet drift-issue

retrain-data:
	dvc pull data.dvc
	python -m ratchet refresh-data
	dvc add data
	dvc repro
	dvc push

retrain-commit:
	python -m ratchet retrain-commit --bundle reports/retrain

# The token's job: the default branch's code on the system Python, no install.
retrain-pr:
	PYTHONPATH=src python3 -m ratchet retrain-pr

# The release (release.yml), on a version tag: TAG is the tag the run is for. The builder
# (`bentoml containerize --backend`), and the smoke test's host port and container name, for a
# machine where port 3000 or the name is taken.
TAG ?= $(or $(GITHUB_REF_NAME),dev)
IMAGE_BACKEND ?= buildx
SMOKE_PORT ?= 3000
SMOKE_NAME ?= ratchet-smoke

check-tag:
	PYTHONPATH=src python3 -m ratchet check-tag

bento:
	python -m ratchet bento --version "$(TAG)"

container:
	python -m ratchet container --tag "$(TAG)" --backend "$(IMAGE_BACKEND)"

smoke-image:
	python -m ratchet smoke-image --tag "$(TAG)" --port "$(SMOKE_PORT)" --name "$(SMOKE_NAME)"

push-image:
	python -m ratchet push-image

release-notes:
	python -m ratchet release-notes --output release-notes.md

github-release:
	PYTHONPATH=src python3 -m ratchet github-release

promote:
	python -m ratchet promote

# The deploy pull requests (release.yml's `staging` job, promote.yml): the default branch's code on
# the system Python, no install, with the App's token in GH_TOKEN. The release's image goes to
# staging; promotion copies the image staging runs to production.
deploy-staging:
	PYTHONPATH=src python3 -m ratchet deploy-pr --env staging

deploy-promote:
	PYTHONPATH=src python3 -m ratchet deploy-promote --from staging --to production
