# What only the workflows run, included by the Makefile. A step that is one `python -m ratchet`
# command calls it directly; a target here adds something to it: several commands, an environment,
# an install, a default. The commands read what the run tells them (the PR, the tag, the run's URL,
# where step outputs go) from the environment themselves, in src/ratchet/github/actions.py.

.PHONY: install-pipeline install-serve install-monitor install-release install-docs test-e2e \
	install-cml pr-comment check-drift drift-alert retrain-data retrain-pr \
	check-tag bento container smoke-image github-release deploy-staging deploy-promote

# A job installs only its own dependency group (pyproject.toml), without compiling bytecode: a
# job runs each module once, so compiling every file of every package would cost more than it saves.
# --no-editable installs Ratchet as a package, so the checkout's src/ is never on sys.path: a
# sitecustomize.py, usercustomize.py or .pth file that a pull request adds there is never imported
# (the reproduction refuses them by name as well). The PR check also sets PYTHONSAFEPATH, so that
# `python -m` does not put the checkout's root on sys.path either.
# A static pattern rule: make looks up no implicit rule for a .PHONY target.
install-pipeline install-serve install-monitor install-release: install-%: | $(UV)
	$(UV) sync --locked --no-default-groups --group $* --no-editable

# The docs site (docs.yml): mkdocs-material alone, without Ratchet or its packages.
install-docs: | $(UV)
	$(UV) sync --locked --only-group docs

# CI (ci.yml): the slow end-to-end tests, beside the required `test` job's `make test-fast`.
test-e2e:
	pytest -n auto --dist loadfile -m slow

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

github-release:
	PYTHONPATH=src python3 -m ratchet github-release

# The deploy pull requests (release.yml's `staging` job, promote.yml): the default branch's code on
# the system Python, no install, with the App's token in GH_TOKEN. The release's image goes to
# staging; promotion copies the image staging runs to production.
deploy-staging:
	PYTHONPATH=src python3 -m ratchet deploy-pr --env staging

deploy-promote:
	PYTHONPATH=src python3 -m ratchet deploy-promote --from staging --to production
