"""The drift alert: one labelled issue, opened or commented on, through a stand-in for gh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ratchet.monitor.drift import ColumnDrift, DriftSummary
from tests.conftest import ROOT
from tests.stand_ins import actions_env, gh_calls, install_fake_gh


def drift_issue(
    tmp_path: Path, summary: DriftSummary, answers: dict[str, Any]
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run `drift-issue` as the workflow does: system-Python style, no site-packages at all."""
    path = tmp_path / "drift.json"
    path.write_text(json.dumps(summary.to_dict()))
    env, log = install_fake_gh(tmp_path / "bin", answers)
    result = subprocess.run(
        [sys.executable, "-S", "-m", "ratchet", "drift-issue", "--summary", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            **os.environ,
            **actions_env(tmp_path / "runner"),
            **env,
            "PYTHONPATH": str(ROOT / "src"),
        },
    )
    return result, gh_calls(log)


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


def test_drift_opens_one_labelled_issue(tmp_path: Path) -> None:
    result, calls = drift_issue(
        tmp_path, SUMMARY, {"issue list": [], "issue create": "https://github.com/o/r/issues/4"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "drift-issue: opened https://github.com/o/r/issues/4\n"
    assert [call["args"] for call in calls] == [
        [
            "label",
            "create",
            "drift",
            "--force",
            "--color",
            "D93F0B",
            "--description",
            "The monitored data drifted from the training data",
        ],
        [
            "issue",
            "list",
            "--label",
            "drift",
            "--state",
            "open",
            "--json",
            "number",
            "--limit",
            "1",
        ],
        [
            "issue",
            "create",
            "--title",
            "Data drift: the model's inputs have changed",
            "--label",
            "drift",
            "--body-file",
            "-",
        ],
    ]
    body = calls[2]["stdin"]
    assert body.startswith("### Drift check: drift: 2 of 3 features drifted")
    assert "| colour | categorical | chi-square p_value | 0.05 | n/a | **yes** |" in body
    assert "[this run](https://github.com/o/r/actions/runs/5)" in body
    assert "A retraining run was started" in body


def test_drift_while_the_issue_is_open_comments_on_it(tmp_path: Path) -> None:
    result, calls = drift_issue(tmp_path, SUMMARY, {"issue list": [{"number": 12}]})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "drift-issue: commented on the open drift issue #12\n"
    assert calls[-1]["args"] == ["issue", "comment", "12", "--body-file", "-"]
    assert calls[-1]["stdin"].startswith("### Drift check: drift:")
    assert not any(call["args"][:2] == ["issue", "create"] for call in calls)


def test_no_drift_files_nothing(tmp_path: Path) -> None:
    calm = DriftSummary(**{**SUMMARY.__dict__, "drifted_share": 0.0, "columns": ()})
    result, calls = drift_issue(tmp_path, calm, {})
    assert result.returncode == 0, result.stderr
    assert "no drift" in result.stdout and calls == []


def test_a_gh_failure_is_an_error(tmp_path: Path) -> None:
    env, _ = install_fake_gh(tmp_path / "bin", {})
    (tmp_path / "bin" / "gh").write_text(
        "#!/bin/sh\necho 'HTTP 403: Resource not accessible' >&2\nexit 1\n"
    )
    (tmp_path / "drift.json").write_text(json.dumps(SUMMARY.to_dict()))
    result = subprocess.run(
        [sys.executable, "-m", "ratchet", "drift-issue", "--summary", "drift.json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **env},
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: `gh label create drift --force --color D93F0B --description The monitored dat ...`"
        " failed (exit 1): HTTP 403: Resource not accessible\n"
    )
