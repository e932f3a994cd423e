"""The shape of monitor.yml and retrain.yml: triggers, permissions per job, fork guard, pins.

zizmor and the workflow schema run on every workflow in test_workflows.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ratchet.__main__ import build_parser
from tests.conftest import ROOT

MONITOR = ROOT / ".github/workflows/monitor.yml"
RETRAIN = ROOT / ".github/workflows/retrain.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def load(path: Path) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as true
    return workflow


def steps(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step.get("name", step.get("uses", "").split("@")[0]): step for step in job["steps"]}


def test_monitor_runs_weekly_or_by_hand() -> None:
    workflow = load(MONITOR)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    assert workflow["on"]["workflow_dispatch"] is None
    (schedule,) = workflow["on"]["schedule"]
    assert len(schedule["cron"].split()) == 5
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_monitor_permissions_per_job() -> None:
    workflow = load(MONITOR)
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert set(jobs) == {"monitor", "alert"}
    assert jobs["monitor"]["permissions"] == {"contents": "read"}
    assert jobs["alert"]["permissions"] == {
        "actions": "write",
        "contents": "read",
        "issues": "write",
    }


def test_monitor_skips_forks_unless_enabled() -> None:
    guard = load(MONITOR)["jobs"]["monitor"]["if"]
    assert guard == "${{ !github.event.repository.fork || vars.RATCHET_MONITOR == 'true' }}"
    alert = load(MONITOR)["jobs"]["alert"]
    assert alert["needs"] == "monitor"  # skipped with it


def test_monitor_job_hands_the_verdict_to_the_alert_job() -> None:
    jobs = load(MONITOR)["jobs"]
    monitor = jobs["monitor"]
    check = next(step for step in monitor["steps"] if step.get("id") == "monitor")
    assert check["run"] == "make monitor"
    assert "continue-on-error" not in check  # an error fails the job; drift does not
    assert monitor["outputs"] == {"drift": "${{ steps.monitor.outputs.drift }}"}
    upload = steps(monitor)["Upload the report"]
    assert upload["with"]["name"] == "drift-report"
    assert upload["with"]["path"] == "reports/drift.*"
    assert upload["with"]["if-no-files-found"] == "error"

    alert = jobs["alert"]
    assert alert["if"] == "${{ needs.monitor.outputs.drift == 'true' }}"
    download = steps(alert)["Download the report"]
    assert download["with"] == {"name": "drift-report", "path": "reports"}
    file_issue = alert["steps"][-1]
    assert file_issue["run"] == "make drift-alert"
    assert file_issue["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert file_issue["env"]["GH_REPO"] == "${{ github.repository }}"


def test_retrain_runs_only_when_started() -> None:
    workflow = load(RETRAIN)
    assert workflow["on"] == {"workflow_dispatch": None}
    assert workflow["permissions"] == {}
    assert workflow["concurrency"] == {"group": "retrain", "cancel-in-progress": False}


def test_retrain_permissions_and_token_fallback() -> None:
    job = load(RETRAIN)["jobs"]["retrain"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert job["environment"] == "retrain"
    by_name = steps(job)
    app = by_name["Token of the GitHub App"]
    assert app["uses"].startswith("actions/create-github-app-token@")
    assert app["if"] == "${{ env.HAS_APP == 'true' }}"
    assert app["with"]["app-id"] == "${{ secrets.RATCHET_APP_ID }}"
    assert app["with"]["private-key"] == "${{ secrets.RATCHET_APP_PRIVATE_KEY }}"
    assert {key for key in app["with"] if key.startswith("permission-")} == {
        "permission-contents",
        "permission-pull-requests",
    }
    propose = job["steps"][-1]
    assert propose["run"] == "make retrain-pr"
    env = propose["env"]
    assert env["GH_TOKEN"] == (
        "${{ steps.app.outputs.token || secrets.RATCHET_PR_TOKEN || github.token }}"
    )
    assert env["TOKEN_SOURCE"].strip() == (
        "${{ steps.app.outputs.token && 'app' || secrets.RATCHET_PR_TOKEN && 'pat' "
        "|| 'github-token' }}"
    )
    assert env["PUBLISH"] == "1"
    names = [step.get("name") for step in job["steps"]]
    assert names.index("Token of the GitHub App") == len(names) - 2  # minted just before use


def test_retrain_keeps_secrets_and_caches_out_of_the_build() -> None:
    job = load(RETRAIN)["jobs"]["retrain"]
    for step in job["steps"][:-2]:
        assert "secrets." not in yaml.safe_dump(step)
    setup_uv = next(step for step in job["steps"] if "setup-uv" in step.get("uses", ""))
    assert setup_uv["with"]["enable-cache"] is False
    assert "actions/cache" not in RETRAIN.read_text()
    assert (
        steps(job)["Refresh the data, reproduce the pipeline, push to the DVC remote"]["run"]
        == "make retrain"
    )


@pytest.mark.parametrize("path", [MONITOR, RETRAIN], ids=lambda path: path.name)
def test_actions_are_pinned_and_checkouts_keep_no_credentials(path: Path) -> None:
    uses = [
        line.split("uses:", 1)[1].strip()
        for line in path.read_text().splitlines()
        if line.strip().lstrip("- ").startswith("uses:")
    ]
    assert uses and all(PINNED.match(use) for use in uses), uses
    for job in load(path)["jobs"].values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            assert "${{" not in step.get("run", "")


def make_dry_run(target: str) -> str:
    result = subprocess.run(
        ["make", "-n", "-s", "--no-print-directory", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize("target", ["monitor", "drift-alert", "retrain", "retrain-pr"])
def test_the_make_targets_the_workflows_run_call_real_commands(target: str) -> None:
    workflows = MONITOR.read_text() + RETRAIN.read_text()
    assert f"run: make {target}\n" in workflows
    recipe = make_dry_run(target)
    commands = set(re.findall(r"-m ratchet ([\w-]+)", recipe))
    assert commands, recipe
    for command in commands:  # an unknown command would exit with a usage error
        assert build_parser().parse_args([command]).handler.__name__.startswith("cmd_")


def test_the_alert_starts_the_retraining_workflow_that_exists() -> None:
    assert "gh workflow run retrain.yml" in make_dry_run("drift-alert")
    assert "workflow_dispatch" in load(RETRAIN)["on"]
