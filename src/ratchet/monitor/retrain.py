"""Retraining as a pull request: new data in, the pipeline reproduced, the result proposed.

A retrained model reaches main like any other change, through a pull request that the
`metrics-gate` check judges. `commit_retraining`, `push` and `open_or_update_pr` put what
retraining changed on its own branch and propose it.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Literal

from ratchet.core.dvc import committed_outputs, data_version
from ratchet.core.errors import RatchetError
from ratchet.core.git import git, show
from ratchet.core.paths import DATA_DVC_FILE, LOCK_FILE, METRICS_FILE
from ratchet.github.gh import gh, gh_json

BRANCH = "ratchet/retrain"
# What a retraining changes in git besides the outputs dvc.yaml leaves to git: the data version,
# the lock, and .dvc/ (where an in-repository demo remote receives the pushed files).
TRACKED = (str(DATA_DVC_FILE), str(LOCK_FILE), ".dvc")

TokenSource = Literal["app", "pat", "github-token"]
TOKEN_WARNING = (
    "This pull request was opened with the workflow's GITHUB_TOKEN, and GitHub starts no "
    "workflow for what that token does: the `metrics-gate` check runs only once a person closes "
    "and reopens the pull request. Give the retrain workflow a GitHub App (secrets RATCHET_APP_ID "
    "and RATCHET_APP_PRIVATE_KEY) or a token (secret RATCHET_PR_TOKEN) to have it run by itself."
)


def token_source(value: str | None) -> TokenSource:
    """What GH_TOKEN is, as the workflow says in RATCHET_TOKEN_SOURCE (default: an App's token)."""
    if value in (None, "", "app"):
        return "app"
    if value == "pat":
        return "pat"
    if value == "github-token":
        return "github-token"
    raise RatchetError(f"RATCHET_TOKEN_SOURCE is {value!r}: set it to app, pat or github-token")


# --- The branch and the pull request -------------------------------------------------------------


def current_branch(branch: str) -> str:
    """The branch retraining starts from, which its pull request targets."""
    base = git("rev-parse", "--abbrev-ref", "HEAD")
    if base in ("HEAD", branch):
        raise RatchetError(
            f"retraining must start from the branch it proposes to (e.g. main), not {base!r}: "
            "check that branch out first"
        )
    return base


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


def push_env(token: str | None, server: str = "https://github.com") -> dict[str, str]:
    """Git configuration that sends `token` to `server`, passed by environment, not argv.

    The checkout keeps no credentials (persist-credentials: false), so the push brings its own.
    """
    if not token:
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{server.rstrip('/')}/.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def push(branch: str) -> None:
    """Replace the remote retraining branch: it holds only what the last retraining made."""
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    git(
        "push",
        "--quiet",
        "--force",
        "origin",
        f"HEAD:refs/heads/{branch}",
        env=push_env(os.environ.get("GH_TOKEN"), server),
    )


def pr_create_args(base: str, branch: str, title: str) -> list[str]:
    return ["pr", "create", "--base", base, "--head", branch, "--title", title, "--body-file", "-"]


def open_or_update_pr(base: str, branch: str, title: str, body: str) -> str:
    """Open the retraining pull request, or refresh the open one; returns what was done."""
    found = gh_json(
        "pr",
        "list",
        "--head",
        branch,
        "--base",
        base,
        "--state",
        "open",
        "--json",
        "url",
        "--limit",
        "1",
    )
    if found:
        url = str(found[0]["url"])
        gh("pr", "edit", url, "--title", title, "--body-file", "-", stdin=body)
        return f"updated {url}"
    return f"opened {gh(*pr_create_args(base, branch, title), stdin=body).strip()}"


def describe(base: str, run_url: str | None) -> tuple[str, str]:
    """The commit and pull-request title and body: the data version, metrics before and after."""
    version = data_version()
    try:
        old = json.loads(show(base, METRICS_FILE) or "{}")
    except (RatchetError, json.JSONDecodeError):
        old = {}
    new = json.loads(METRICS_FILE.read_text()) if METRICS_FILE.is_file() else {}
    lines = [
        f"Retrained on new data: data.dvc now records `{version}`; `dvc repro` reproduced the "
        "pipeline and `dvc push` stored its outputs.",
        "",
        f"| metric | {base} | retrained |",
        "|---|---:|---:|",
        *(f"| {name} | {old.get(name, 'n/a')} | {value} |" for name, value in new.items()),
        "",
        f"The `metrics-gate` check judges these against `{base}` with the gate in params.yaml.",
    ]
    if run_url:
        lines += ["", f"Made by [this retraining run]({run_url})."]
    return f"Retrain on new data ({version[:8]})", "\n".join(lines) + "\n"


def propose(
    *, publish: bool, token_source: TokenSource, run_url: str | None, branch: str = BRANCH
) -> list[str]:
    """Commit the retraining on its branch; with `publish`, push it and open or update its PR.

    Returns what was done, one line each.
    """
    base = current_branch(branch)
    title, body = describe(base, run_url)
    if not commit_retraining(branch, title, body):
        return ["nothing to propose: retraining changed nothing that git tracks"]
    done = [f"committed {git('rev-parse', '--short', 'HEAD')} on {branch}, from {base}"]
    if publish:
        push(branch)
        if token_source == "github-token":
            body += f"\n> [!WARNING]\n> {TOKEN_WARNING}\n"
        done.append(open_or_update_pr(base, branch, title, body))
    return done


def render_markdown(done: list[str], token_source: TokenSource) -> str:
    """What the retraining did, for the job summary."""
    lines = ["### Retraining", "", *(f"- {line}" for line in done)]
    if token_source == "github-token":
        lines += ["", f"> [!WARNING]\n> {TOKEN_WARNING}"]
    return "\n".join(lines) + "\n"
