"""The comment's preview works on what a local `make pr-check` writes: reports/pr/ without the
pull request's number and head commit, which only a pull request's run has. Given the run's head
commit, the artifact is checked as strictly as the job checks it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ratchet.comment.post import compose
from tests.fake_github import HEAD

REPORT = "## ✅ Metrics gate passed against `main`\n\nrmse 49.27\n"
# What `python -m ratchet reproduce` and `python -m ratchet gate` write outside a pull request.
LOCAL = ("gate.json", "report.md", "reproduced/", "reproduction.json")


def local_check(root: Path) -> Path:
    folder = root / "reports/pr"
    (folder / "reproduced").mkdir(parents=True)
    (folder / "reproduced/dvc.lock").write_text("schema: '2.0'\n")
    (folder / "gate.json").write_text("{}\n")
    (folder / "reproduction.json").write_text("{}\n")
    (folder / "report.md").write_text(REPORT)
    return folder


def comment(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ratchet", "comment", *args],
        cwd=root,
        env={**os.environ, "GITHUB_ACTIONS": "false"},
        capture_output=True,
        text=True,
    )


def test_the_preview_reads_a_local_pr_check_from_reports_pr(tmp_path: Path) -> None:
    local_check(tmp_path)
    result = comment(tmp_path, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == compose(REPORT, "", None, LOCAL) + "\n"
    assert result.stdout.startswith("**`metrics-gate`: ⚠️ unknown**")


def test_given_the_runs_head_commit_the_preview_checks_the_artifact_as_the_job_does(
    tmp_path: Path,
) -> None:
    folder = local_check(tmp_path)
    result = comment(tmp_path, "--dry-run", "--artifact", str(folder), "--run-head-sha", HEAD)
    assert result.returncode == 1
    assert result.stderr.startswith("error: the report artifact in") and "pr-number" in (
        result.stderr
    )


def test_before_any_local_check_the_preview_says_to_run_one(tmp_path: Path) -> None:
    result = comment(tmp_path, "--dry-run")
    assert result.returncode == 1
    assert result.stderr == (
        "error: reports/pr holds no report.md: run `make pr-check` first, or pass the artifact "
        "(--artifact)\n"
    )
