"""The retraining pull request: the job that holds the token fetches the retraining's commit from
its git bundle, checks it, pushes it to its branch and opens or updates the pull request.

It runs no repository code on data and installs nothing: standard library and git only. The
commit was made by another job of the same run, and is still checked: a child of the base that
changes only what a retraining changes.
"""

from __future__ import annotations

import base64
from pathlib import Path

from ratchet.core.errors import RatchetError
from ratchet.core.git import git
from ratchet.github.actions import Run, TokenSource
from ratchet.github.api import client

BRANCH = "ratchet/retrain"
BUNDLE = "retrain.bundle"
# The paths a retraining commit may change: the data version, the lock, the results dvc.yaml
# leaves to git, and an in-repository DVC remote; never the remote's configuration.
ALLOWED = ("data.dvc", "dvc.lock")
ALLOWED_FOLDERS = ("reports/", ".dvc/")
REFUSED = (".dvc/config", ".dvc/.gitignore")

TOKEN_WARNING = (
    "This pull request was opened with the workflow's GITHUB_TOKEN, and GitHub starts no "
    "workflow for what that token does: the `metrics-gate` check runs only once a person closes "
    "and reopens the pull request. Give the retrain workflow a GitHub App (secrets "
    "RATCHET_APP_CLIENT_ID and RATCHET_APP_PRIVATE_KEY) or a token (secret RATCHET_PR_TOKEN) to "
    "have it run by itself."
)


def current_branch(branch: str = BRANCH) -> str:
    """The branch retraining starts from, which its pull request targets."""
    base = git("rev-parse", "--abbrev-ref", "HEAD")
    if base in ("HEAD", branch):
        raise RatchetError(
            f"retraining must start from the branch it proposes to (e.g. main), not {base!r}: "
            "check that branch out first"
        )
    return base


def fetch(bundle: Path, base: str, branch: str = BRANCH) -> str:
    """The retraining commit from the bundle, checked; returns its id."""
    if not bundle.is_file():
        raise RatchetError(f"{bundle} not found: the retrain job wrote no retraining commit")
    git("bundle", "verify", "--quiet", str(bundle))
    git("fetch", "--quiet", str(bundle), f"refs/heads/{branch}")
    commit = git("rev-parse", "FETCH_HEAD^{commit}")
    parents = git("rev-list", "--parents", "-n", "1", commit).split()[1:]
    if parents != [git("rev-parse", f"{base}^{{commit}}")]:
        raise RatchetError(f"the retraining commit {commit[:12]} is not a child of {base}")
    changed = git("diff", "--name-only", f"{commit}^", commit).splitlines()
    stray = [
        path
        for path in changed
        if path in REFUSED or not (path in ALLOWED or path.startswith(ALLOWED_FOLDERS))
    ]
    if stray:
        raise RatchetError(
            f"the retraining commit changes {', '.join(stray)}, which a retraining never does: "
            "refusing to propose it"
        )
    return commit


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


def push(commit: str, branch: str, run: Run) -> None:
    """Replace the remote retraining branch: it holds only what the last retraining made."""
    env = push_env(run.token, run.server_url)
    git("push", "--quiet", "--force", "origin", f"{commit}:refs/heads/{branch}", env=env)


def propose(
    bundle: Path, base: str, token: TokenSource, run: Run, branch: str = BRANCH
) -> list[str]:
    """Push the bundle's retraining commit to `branch` and open or update its pull request."""
    api, repository = client(run, "retrain-pr")
    commit = fetch(bundle, base, branch)
    title = git("log", "-1", "--format=%s", commit)
    body = git("log", "-1", "--format=%b", commit) + "\n"
    push(commit, branch, run)
    done = [f"pushed {commit[:7]} to {branch}"]
    if token == "github-token":
        body += f"\n> [!WARNING]\n> {TOKEN_WARNING}\n"
    done.append(api.open_or_update_pull(repository, base, branch, title, body))
    return done


def render_markdown(done: list[str], token: TokenSource) -> str:
    """What the retraining did, for the job summary."""
    lines = ["### Retraining", "", *(f"- {line}" for line in done)]
    if token == "github-token":
        lines += ["", f"> [!WARNING]\n> {TOKEN_WARNING}"]
    return "\n".join(lines) + "\n"
