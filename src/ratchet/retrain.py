"""Retraining as a pull request: new data in, the pipeline reproduced, the result proposed.

A retrained model reaches main like any other change, through a pull request that the
`metrics-gate` check judges. `refresh` brings in new data and checks it; `commit_retraining`,
`push` and `open_or_update_pr` put what retraining changed on its own branch and propose it.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ratchet.errors import RatchetError
from ratchet.gh import gh, gh_json

if TYPE_CHECKING:
    from ratchet.settings import Params

UPCOMING = Path("data/upcoming")
BRANCH = "ratchet/retrain"
# What a retraining changes in git besides the outputs dvc.yaml leaves to git: the data version,
# the lock, and .dvc/ (where an in-repository demo remote receives the pushed files).
TRACKED = ("data.dvc", "dvc.lock", ".dvc")

TokenSource = Literal["app", "pat", "github-token"]
TOKEN_WARNING = (
    "This pull request was opened with the workflow's GITHUB_TOKEN, and GitHub starts no "
    "workflow for what that token does: the `metrics-gate` check runs only once a person closes "
    "and reopens the pull request. Give the retrain workflow a GitHub App (secrets RATCHET_APP_ID "
    "and RATCHET_APP_PRIVATE_KEY) or a token (secret RATCHET_PR_TOKEN) to have it run by itself."
)


# --- New data ---------------------------------------------------------------------------------


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise RatchetError(f"{path} not found: run `dvc pull` to fetch the data") from None
    if len(rows) < 2:
        raise RatchetError(f"{path} holds no data rows: there is nothing to add")
    return rows[0], rows[1:]


def roll_forward(params: Params, upcoming: Path = UPCOMING) -> str:
    """Demo refresh: append the monitored batch to the training CSV, then monitor the next batch.

    The batch is checked on its own first (in a combined CSV, numbers among text would read as
    text), and nothing changes unless it passes. Its rows are appended in the training file's
    column order, without re-encoding the existing rows.
    """
    from ratchet import data as data_io
    from ratchet.outputs import text, write_all
    from ratchet.schema import infer_schema

    training, current = params.data.path, params.monitor.current
    batches = sorted(upcoming.glob("*.csv"))
    if not batches:
        raise RatchetError(
            f"{upcoming}/ holds no more batches: the demo data ends here. For your own data, "
            "replace refresh_training_data in src/ratchet/sources.py"
        )
    header, rows = _read_rows(current)
    training_header, _ = _read_rows(training)
    if sorted(header) != sorted(training_header):
        raise RatchetError(
            f"{current} has the columns {header}, but {training} has {training_header}: "
            "fix the export so that both have the same columns"
        )
    schema = infer_schema(
        data_io.validate(data_io.read_csv(training), params.data, training), params.data
    )
    batch = data_io.validate(data_io.read_csv(current), params.data, current)
    data_io.check_batch(batch, schema, params.checks, current)

    order = [header.index(name) for name in training_header]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([row[i] for i in order] for row in rows)
    existing = training.read_text(encoding="utf-8")
    separator = "" if existing.endswith("\n") else "\n"
    write_all(
        {
            training: text(existing + separator + buffer.getvalue()),
            current: text(batches[0].read_text(encoding="utf-8")),
        }
    )
    batches[0].unlink()
    return f"added {len(rows)} rows of {current} to {training}; {current} now holds {batches[0]}"


def refresh(params: Params) -> str:
    """Bring in new training data, then check all of it against the schema of the data before.

    The check after the refresh guards any refresh_training_data, the demo's or a replacement.
    A rejected refresh stays on disk for inspection; `dvc checkout data` restores the data that
    data.dvc records.
    """
    from ratchet import data as data_io
    from ratchet import sources
    from ratchet.schema import infer_schema

    path = params.data.path
    before = infer_schema(data_io.validate(data_io.read_csv(path), params.data, path), params.data)
    message = sources.refresh_training_data(params)
    try:
        frame = data_io.validate(data_io.read_csv(path), params.data, path)
        data_io.check_batch(frame, before, params.checks, path)
        data_io.check_quality(frame, params.data, params.checks, path)
    except RatchetError as exc:
        raise RatchetError(
            f"the refreshed data is rejected: {exc}. `dvc checkout data` restores the previous data"
        ) from None
    return message


# --- The branch and the pull request -------------------------------------------------------------


def git(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env} if env else None,
    )
    if result.returncode != 0:
        said = (result.stderr.strip() or result.stdout.strip()).replace("\n", " ")
        raise RatchetError(f"`git {' '.join(args[:2])}` failed: {said}")
    return result.stdout.strip()


def committed_outputs(dvc_yaml: Path = Path("dvc.yaml")) -> list[str]:
    """The outputs dvc.yaml leaves to git (`cache: false`): metrics, plots and the like."""
    from ratchet.settings import read_yaml

    paths = []
    for stage in (read_yaml(dvc_yaml).get("stages") or {}).values():
        for section in ("outs", "metrics", "plots"):
            for entry in stage.get(section) or []:
                if isinstance(entry, dict):
                    paths += [
                        path
                        for path, options in entry.items()
                        if isinstance(options, dict) and options.get("cache") is False
                    ]
    return paths


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
    from ratchet.paths import METRICS_FILE
    from ratchet.tracking import data_version

    version = data_version()
    try:
        old = json.loads(git("show", f"{base}:{METRICS_FILE}"))
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
