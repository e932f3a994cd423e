"""Retraining, committed: what a retraining changed, as one commit on its own branch.

A retrained model reaches main like any other change, through a pull request that the
`metrics-gate` check judges. The job that retrains holds no secrets: it commits here and hands
the commit on as a git bundle; `propose` (another job, with the token) opens the pull request.
"""

from __future__ import annotations

import json
from pathlib import Path

from ratchet.core.dvc import committed_outputs, data_version
from ratchet.core.errors import RatchetError
from ratchet.core.git import git, show
from ratchet.core.metrics import parse_metrics
from ratchet.core.paths import DATA_DVC_FILE, LOCK_FILE, METRICS_FILE
from ratchet.monitor.propose import BRANCH, BUNDLE, current_branch

# What a retraining changes in git besides the outputs dvc.yaml leaves to git: the data version,
# the lock, and .dvc/ (where an in-repository demo remote receives the pushed files).
TRACKED = (str(DATA_DVC_FILE), str(LOCK_FILE), ".dvc")


def commit_retraining(branch: str, title: str, body: str) -> bool:
    """Commit what retraining changed on `branch`, made afresh from the current commit.

    Returns False, committing nothing, when retraining changed nothing that git tracks.
    """
    paths = [path for path in (*TRACKED, *committed_outputs()) if Path(path).exists()]
    if not git("status", "--porcelain", "--", *paths):
        return False
    git("switch", "--quiet", "-C", branch)
    git("add", "--", *paths)
    git("commit", "--quiet", "-m", title, "-m", body)
    return True


def describe(base: str, run_url: str | None) -> tuple[str, str]:
    """The commit and pull-request title and body: the data version, metrics before and after."""
    version = data_version()
    try:
        old = json.loads(show(base, METRICS_FILE) or "{}")
    except (RatchetError, json.JSONDecodeError):
        old = {}
    new = {}
    if METRICS_FILE.is_file():
        new = parse_metrics(METRICS_FILE.read_text(), str(METRICS_FILE))
    lines = [
        f"Retrained on new data: data.dvc now records `{version}`; `dvc repro` reproduced the "
        "pipeline and `dvc push` stored its outputs.",
        "",
        f"| metric | {base} (its own test rows) | retrained (the new test rows) |",
        "|---|---:|---:|",
        *(f"| {name} | {old.get(name, 'n/a')} | {value} |" for name, value in new.items()),
        "",
        f"The `metrics-gate` check scores both models on the new test rows and judges them by "
        f"{base}'s gate.",
    ]
    if run_url:
        lines += ["", f"Made by [this retraining run]({run_url})."]
    return f"Retrain on new data ({version[:8]})", "\n".join(lines) + "\n"


def commit(run_url: str | None, bundle: Path | None = None, branch: str = BRANCH) -> list[str]:
    """Commit the retraining on its branch; with `bundle`, also write the commit to that folder
    as a git bundle, for the job that proposes it. Returns what was done, one line each."""
    base = current_branch(branch)
    title, body = describe(base, run_url)
    if not commit_retraining(branch, title, body):
        return []
    done = [f"committed {git('rev-parse', '--short', 'HEAD')} on {branch}, from {base}"]
    if bundle is not None:
        bundle.mkdir(parents=True, exist_ok=True)
        git("bundle", "create", "--quiet", str(bundle / BUNDLE), f"{base}..{branch}")
        done.append(f"wrote {bundle / BUNDLE}")
    return done
