"""The drift alert: retraining started and one labelled issue, opened or commented on, against
the fake GitHub API on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ratchet.monitor.drift import ColumnDrift, DriftSummary
from tests.conftest import ROOT
from tests.fake_github import TOKEN, FakeGitHub
from tests.stand_ins import actions_env


def drift_issue(
    tmp_path: Path, summary: DriftSummary, github: FakeGitHub
) -> subprocess.CompletedProcess[str]:
    """Run `drift-issue` as the workflow does: system-Python style, no site-packages at all."""
    path = tmp_path / "drift.json"
    path.write_text(json.dumps(summary.to_dict()))
    return subprocess.run(
        [sys.executable, "-S", "-m", "ratchet", "drift-issue", "--summary", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            **os.environ,
            **actions_env(tmp_path / "runner"),
            "GITHUB_REF_NAME": "main",
            "GITHUB_API_URL": github.api_url,
            "GH_TOKEN": TOKEN,
            "PYTHONPATH": str(ROOT / "src"),
        },
    )


SUMMARY = DriftSummary(
    reference="artifacts/split/train.parquet",
    reference_rows=450,
    current="data/current.csv",
    current_rows=300,
    drift_share=0.5,
    drifted_share=2 / 3,
    columns=(
        ColumnDrift("size", "numeric", "K-S p_value", 0.05, 1e-30, True),
        ColumnDrift("age", "numeric", "K-S p_value", 0.05, 0.4, False),
        ColumnDrift("colour", "categorical", "chi-square p_value", 0.05, None, True),
    ),
)


def test_drift_starts_retraining_and_opens_one_labelled_issue(
    tmp_path: Path, github: FakeGitHub, trust: None
) -> None:
    result = drift_issue(tmp_path, SUMMARY, github)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "drift-issue: started retrain.yml on main\n"
        "drift-issue: opened https://github.example/o/r/issues/1\n"
    )
    assert github.dispatches == [{"workflow": "retrain.yml", "ref": "main"}]
    assert github.labels["drift"] == {
        "name": "drift",
        "color": "D93F0B",
        "description": "The monitored data drifted from the training data",
    }
    (issue,) = github.issues
    assert issue["title"] == "Data drift: the model's inputs have changed"
    assert issue["labels"] == [{"name": "drift"}]
    body = issue["body"]
    assert body.startswith("### Drift check: drift: 2 of 3 features drifted")
    assert "| colour | categorical | chi-square p_value | 0.05 | n/a | **yes** |" in body
    assert "[this run](https://github.com/o/r/actions/runs/5)" in body
    assert "A retraining run was started" in body
    assert TOKEN not in result.stdout + result.stderr


def test_drift_while_the_issue_is_open_comments_on_it(
    tmp_path: Path, github: FakeGitHub, trust: None
) -> None:
    first = drift_issue(tmp_path, SUMMARY, github)
    assert first.returncode == 0, first.stderr
    again = drift_issue(tmp_path, SUMMARY, github)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "drift-issue: commented on the open drift issue #1"
    (issue,) = github.issues
    assert len(issue["comments"]) == 1
    assert issue["comments"][0].startswith("### Drift check: drift:")
    assert len(github.dispatches) == 2  # each drift starts a retraining


def test_no_drift_files_nothing(tmp_path: Path, github: FakeGitHub, trust: None) -> None:
    calm = DriftSummary(**{**SUMMARY.__dict__, "drifted_share": 0.0, "columns": ()})
    result = drift_issue(tmp_path, calm, github)
    assert result.returncode == 0, result.stderr
    assert "no drift" in result.stdout and github.calls == []


def test_a_refusal_by_github_is_an_error(tmp_path: Path, github: FakeGitHub, trust: None) -> None:
    github.writable = False  # a token without `actions: write` and `issues: write`
    result = drift_issue(tmp_path, SUMMARY, github)
    assert result.returncode == 1
    assert result.stderr == (
        "error: POST /repos/o/r/actions/workflows/retrain.yml/dispatches answered 403: "
        "Resource not accessible by integration\n"
    )
    assert github.issues == []


def test_outside_a_workflow_it_says_what_it_needs(tmp_path: Path) -> None:
    (tmp_path / "drift.json").write_text(json.dumps(SUMMARY.to_dict()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))}
    result = subprocess.run(
        [sys.executable, "-m", "ratchet", "drift-issue", "--summary", "drift.json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: drift-issue writes to GitHub: run it in a workflow")
