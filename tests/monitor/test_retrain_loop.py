"""Monitoring and retraining end to end in temporary git + DVC repositories.

Everything runs for real (dvc repro, dvc push, git branches, a push to a bare origin) except the
GitHub side: a stand-in `gh` records the exact command lines it is given.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    REGRESSION_DATA,
    Project,
    make_project,
    regression_frame,
    small_params,
)
from tests.stand_ins import actions_env, gh_calls, install_fake_gh

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
    project.run("dvc", "add", "-q", "data")
    project.run("dvc", "repro", "-q")
    project.run("dvc", "push", "-q")
    project.commit("trained on the first window")
    project.run("git", "init", "-q", "--bare", str(tmp_path / "origin.git"))
    project.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    project.git("push", "-q", "origin", "main")
    return project


def retrain(project: Project) -> None:
    """What `make retrain` runs."""
    project.ratchet("refresh-data")
    project.run("dvc", "add", "-q", "data")
    project.run("dvc", "repro", "-q")
    project.run("dvc", "push", "-q")


def committed_files(project: Project, commit: str = "HEAD") -> set[str]:
    return set(project.git("show", "--name-only", "--format=", commit).splitlines())


def test_retraining_becomes_one_commit_on_its_branch_and_a_pull_request(tmp_path: Path) -> None:
    project = trained_project(tmp_path)
    base = project.git("rev-parse", "HEAD")
    base_metrics = json.loads(project.read("reports/metrics.json"))
    retrain(project)
    assert len(project.read("data/table.csv").splitlines()) == 361  # header + 300 + 60
    env, log = install_fake_gh(
        tmp_path / "bin",
        {
            "pr list": [],
            "pr create": "https://github.com/o/r/pull/8",
        },
    )
    runner = actions_env(tmp_path / "runner")
    result = project.ratchet(
        "retrain-pr",
        "--publish",
        env={**runner, **env, "GH_TOKEN": "t0ken", "RATCHET_TOKEN_SOURCE": "github-token"},
    )

    head = project.git("rev-parse", "HEAD")
    lines = result.stdout.splitlines()
    assert lines[0] == f"retrain-pr: committed {head[:7]} on ratchet/retrain, from main"
    assert lines[1] == "retrain-pr: opened https://github.com/o/r/pull/8"
    assert lines[2].startswith("::warning title=Retraining pull request::This pull request")
    assert project.git("branch", "--show-current") == "ratchet/retrain"
    assert project.git("rev-parse", "HEAD~1") == base
    files = committed_files(project)
    assert {"data.dvc", "dvc.lock", "reports/metrics.json"} <= files
    assert not {path for path in files if path.startswith(("data/", "artifacts/", "mlruns/"))}
    assert project.git("ls-remote", "origin", "refs/heads/ratchet/retrain").split()[0] == head
    assert project.git("status", "--porcelain", "--untracked-files=no") == ""

    version = yaml.safe_load(project.read("data.dvc"))["outs"][0]["md5"]
    title = f"Retrain on new data ({version[:8]})"
    assert project.git("log", "-1", "--format=%s") == title
    calls = gh_calls(log)
    assert [call["args"] for call in calls] == [
        [
            "pr",
            "list",
            "--head",
            "ratchet/retrain",
            "--base",
            "main",
            "--state",
            "open",
            "--json",
            "url",
            "--limit",
            "1",
        ],
        [
            "pr",
            "create",
            "--base",
            "main",
            "--head",
            "ratchet/retrain",
            "--title",
            title,
            "--body-file",
            "-",
        ],
    ]
    body = calls[1]["stdin"]
    new_metrics = json.loads(project.read("reports/metrics.json"))
    assert f"| rmse | {base_metrics['rmse']} | {new_metrics['rmse']} |" in body
    assert f"[this retraining run]({RUN_URL})" in body
    assert "> [!WARNING]\n> This pull request was opened with the workflow's GITHUB_TOKEN" in body
    summary = (tmp_path / "runner/summary.md").read_text()
    assert summary.startswith("### Retraining\n\n- committed ") and "[!WARNING]" in summary

    # From main again: nothing to propose, no gh call.
    project.git("switch", "-q", "main")
    again = project.ratchet("retrain-pr", "--publish", env=env)
    assert again.stdout.startswith("retrain-pr: nothing to propose: retraining changed nothing")
    assert len(gh_calls(log)) == 2


def test_a_second_retraining_updates_the_open_pull_request(tmp_path: Path) -> None:
    project = trained_project(tmp_path)
    retrain(project)
    env, log = install_fake_gh(tmp_path / "bin", {"pr list": [], "pr create": "https://x/pull/1"})
    project.ratchet("retrain-pr", "--publish", env=env)

    project.git("switch", "-q", "main")
    project.git("checkout", "-q", "ratchet/retrain", "--", "data.dvc", "dvc.lock", "reports")
    env, log = install_fake_gh(tmp_path / "bin2", {"pr list": [{"url": "https://x/pull/1"}]})
    result = project.ratchet("retrain-pr", "--publish", env=env)
    assert result.stdout.splitlines()[-1] == "retrain-pr: updated https://x/pull/1"
    second = project.git("rev-parse", "HEAD")
    assert project.git("rev-parse", "HEAD~1") == project.git("rev-parse", "main")  # made afresh
    assert project.git("ls-remote", "origin", "refs/heads/ratchet/retrain").split()[0] == second
    edit = gh_calls(log)[-1]
    assert edit["args"][:3] == ["pr", "edit", "https://x/pull/1"]
    assert edit["args"][3:] == [
        "--title",
        project.git("log", "-1", "--format=%s"),
        "--body-file",
        "-",
    ]
    assert "[!WARNING]" not in edit["stdin"]  # an App or PAT token: the checks run by themselves


def test_the_demo_data_drifts_and_rolls_forward(tmp_path: Path) -> None:
    """The shipped data: July's training window against August, then August joins training."""
    project = make_project(tmp_path / "demo", demo_data=True)
    project.run("dvc", "pull", "-q", "data.dvc")  # from the in-repository demo remote
    project.ratchet("prepare")
    result = project.ratchet("monitor", check=False)
    assert result.returncode == 3, result.stderr
    assert "monitor: drift: " in result.stdout
    summary = json.loads(project.read("reports/drift.json"))
    assert summary["verdict"] == "drift"
    assert {"temp", "season", "mnth"} <= set(summary["drifted_columns"])
    assert {"hr", "weekday"}.isdisjoint(summary["drifted_columns"])
    assert summary["current"]["path"] == "data/current.csv"
    assert (project.path / "reports/drift.html").stat().st_size > 1_000_000

    rows = len(project.read("data/bikeshare.csv").splitlines())
    project.ratchet("refresh-data")
    assert len(project.read("data/bikeshare.csv").splitlines()) == rows + summary["current"]["rows"]
    assert "Sept" in project.read("data/current.csv").splitlines()[1]
