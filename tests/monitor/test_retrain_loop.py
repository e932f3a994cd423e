"""Monitoring and retraining end to end in temporary git + DVC repositories.

Everything runs for real (the stages, DVC, git branches, a push to a bare origin), the stages and
DVC's commands in this process (`Project.repro`, `Project.dvc`); the pull request is opened
through the fake GitHub API on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    REGRESSION_DATA,
    ROOT,
    Project,
    make_project,
    regression_frame,
    small_params,
)
from tests.fake_github import TOKEN, FakeGitHub
from tests.stand_ins import actions_env

pytestmark = pytest.mark.slow

RUN_URL = "https://github.com/o/r/actions/runs/5"  # what actions_env says


def trained_project(tmp_path: Path) -> Project:
    """The demo's layout on the small dataset, trained and pushed, with a bare `origin`."""
    project = make_project(tmp_path / "project")
    frame = regression_frame(rows=420)
    project.write_data(frame.iloc[:300])
    project.write_data(frame.iloc[300:360], "current.csv")
    (project.path / "data" / "upcoming").mkdir()
    frame.iloc[360:].to_csv(project.path / "data" / "upcoming" / "next.csv", index=False)
    project.set_params(
        {**small_params(REGRESSION_DATA), "monitor": {"current": "data/current.csv"}}
    )
    (project.path / ".gitignore").write_text("/mlruns/\n/reports/drift.*\n")
    project.dvc("add", "-q", "data")
    project.repro()
    project.dvc("push", "-q")
    project.commit("trained on the first window")
    project.run("git", "init", "-q", "--bare", str(tmp_path / "origin.git"))
    project.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    project.git("push", "-q", "origin", "main")
    return project


def retrain(project: Project) -> None:
    """What `make retrain` runs."""
    assert project.here("refresh-data").returncode == 0
    project.dvc("add", "-q", "data")
    project.repro()
    project.dvc("push", "-q")


def committed_files(project: Project, commit: str = "HEAD") -> set[str]:
    return set(project.git("show", "--name-only", "--format=", commit).splitlines())


def propose_from(
    tmp_path: Path, name: str, github: FakeGitHub, token: str = "github-token"
) -> subprocess.CompletedProcess[str]:
    """The propose job: a fresh checkout of main, the bundle downloaded into RUNNER_TEMP, the
    token's command on the system Python with no site-packages. The push goes to the bare
    origin; the fake GitHub holds both branches, as GitHub would after that push."""
    checkout = tmp_path / name
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "-b", "main", str(origin), str(checkout)], check=True)
    runner = actions_env(tmp_path / f"{name}-runner")
    shutil.copytree(tmp_path / "project/reports/retrain", tmp_path / f"{name}-runner/retrain")
    github.git.commit("main", {"data.dvc": "the first window"})
    github.git.commit("ratchet/retrain", {"data.dvc": "the first window and the next"})
    return subprocess.run(
        [sys.executable, "-S", "-m", "ratchet", "retrain-pr"],
        cwd=checkout,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            **runner,
            "PYTHONPATH": str(ROOT / "src"),
            "GITHUB_API_URL": github.api_url,
            "SSL_CERT_FILE": str(github.certificate),
            "GH_TOKEN": TOKEN,
            "RATCHET_TOKEN_SOURCE": token,
        },
    )


def test_retraining_is_committed_without_a_token_and_proposed_by_the_job_that_has_one(
    tmp_path: Path, github: FakeGitHub
) -> None:
    project = trained_project(tmp_path)
    base = project.git("rev-parse", "HEAD")
    base_metrics = json.loads(project.read("reports/metrics.json"))
    retrain(project)
    assert len(project.read("data/table.csv").splitlines()) == 361  # header + 300 + 60
    runner = actions_env(tmp_path / "retrain-runner")
    committed = project.ratchet("retrain-commit", "--bundle", "reports/retrain", env=runner)
    head = project.git("rev-parse", "HEAD")
    assert committed.stdout.splitlines()[0] == (
        f"retrain-commit: committed {head[:7]} on ratchet/retrain, from main"
    )
    assert (tmp_path / "retrain-runner/output.txt").read_text() == "changed=true\n"
    assert project.git("rev-parse", "HEAD~1") == base
    files = committed_files(project)
    assert {"data.dvc", "dvc.lock", "reports/metrics.json"} <= files
    assert not {path for path in files if path.startswith(("data/", "artifacts/", "mlruns/"))}
    version = yaml.safe_load(project.read("data.dvc"))["outs"][0]["md5"]
    title = f"Retrain on new data ({version[:8]})"
    assert project.git("log", "-1", "--format=%s") == title

    result = propose_from(tmp_path, "propose", github)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    (pull,) = github.git.pulls
    assert lines[0] == f"retrain-pr: pushed {head[:7]} to ratchet/retrain"
    assert lines[1] == f"retrain-pr: opened {pull['html_url']}"
    assert lines[2].startswith("::warning title=Retraining pull request::This pull request")
    assert project.git("ls-remote", "origin", "refs/heads/ratchet/retrain").split()[0] == head
    assert (pull["base"]["ref"], pull["head"]["ref"], pull["title"]) == (
        "main",
        "ratchet/retrain",
        title,
    )
    body = pull["body"]
    new_metrics = json.loads(project.read("reports/metrics.json"))
    assert f"| rmse | {base_metrics['rmse']} | {new_metrics['rmse']} |" in body
    assert f"[this retraining run]({RUN_URL})" in body
    assert "> [!WARNING]\n> This pull request was opened with the workflow's GITHUB_TOKEN" in body
    summary = (tmp_path / "propose-runner/summary.md").read_text()
    assert summary.startswith("### Retraining\n\n- pushed ") and "[!WARNING]" in summary

    # From main again: nothing to commit, so the propose job does not run.
    project.git("switch", "-q", "main")
    again = project.ratchet("retrain-commit", "--bundle", "reports/retrain", env=runner)
    assert again.stdout.startswith("retrain-commit: nothing to propose: retraining changed")
    assert (tmp_path / "retrain-runner/output.txt").read_text().endswith("changed=false\n")


def test_a_second_retraining_updates_the_open_pull_request(
    tmp_path: Path, github: FakeGitHub
) -> None:
    project = trained_project(tmp_path)
    retrain(project)
    project.ratchet("retrain-commit", "--bundle", "reports/retrain")
    first = propose_from(tmp_path, "first", github)
    assert first.returncode == 0, first.stderr
    again = propose_from(tmp_path, "again", github, token="app")
    assert again.returncode == 0, again.stderr
    (pull,) = github.git.pulls
    assert again.stdout.splitlines()[-1] == f"retrain-pr: updated {pull['html_url']}"
    assert pull["title"] == project.git("log", "-1", "--format=%s")
    assert "[!WARNING]" not in pull["body"]  # an App's token: the checks run by themselves


def test_the_demo_data_drifts_and_rolls_forward(tmp_path: Path) -> None:
    """The shipped data: July's training window against August, then August joins training."""
    project = make_project(tmp_path / "demo", demo_data=True)
    project.dvc("pull", "-q", "data.dvc")  # from the in-repository demo remote
    project.here("prepare")  # the commands in this process: `make monitor` runs them as a user does
    result = project.here("monitor")
    assert result.returncode == 3, result.stderr
    assert "monitor: drift: " in result.stdout
    summary = json.loads(project.read("reports/drift.json"))
    assert summary["verdict"] == "drift"
    assert {"temp", "season", "mnth"} <= set(summary["drifted_columns"])
    assert {"hr", "weekday"}.isdisjoint(summary["drifted_columns"])
    assert summary["current"]["path"] == "data/current.csv"
    assert (project.path / "reports/drift.html").stat().st_size > 1_000_000

    rows = len(project.read("data/bikeshare.csv").splitlines())
    assert project.here("refresh-data").returncode == 0
    assert len(project.read("data/bikeshare.csv").splitlines()) == rows + summary["current"]["rows"]
    assert "Sept" in project.read("data/current.csv").splitlines()[1]
