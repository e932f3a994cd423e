"""Every workflow: pinned, least-privilege, schema-valid, zizmor-clean and thin; the PR loop."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

BIN = Path(sys.executable).parent
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
# A step's script may call the project's own entry points, and nothing else.
THIN = re.compile(r"^(make [\w-]+( [A-Z_]+=\"\$[A-Z_]+\")*|uv lock --check)$")


def load(path: Path) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as true
    return workflow


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_there_are_workflows() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {"pr.yml", "comment.yml", "ci.yml"} <= names


def test_zizmor_finds_nothing() -> None:
    result = subprocess.run(
        [
            str(BIN / "zizmor"),
            "--offline",
            "--persona=auditor",
            "--no-progress",
            str(ROOT / ".github"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_valid_against_the_github_workflow_schema(path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_config_is_valid_and_cools_down() -> None:
    path = ROOT / ".github/dependabot.yml"
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    updates = yaml.safe_load(path.read_text())["updates"]
    assert {update["package-ecosystem"] for update in updates} == {"uv", "github-actions"}
    assert all(update["cooldown"]["default-days"] >= 3 for update in updates)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    uses = [
        line.split("uses:", 1)[1].strip()
        for line in path.read_text().splitlines()
        if line.strip().lstrip("- ").startswith("uses:")
    ]
    assert uses
    assert [use for use in uses if not PINNED.match(use)] == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_least_privilege(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} must declare its permissions"
        assert "write-all" not in json.dumps(job["permissions"])
    for step in steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_every_workflow_uses_the_makefiles_uv() -> None:
    version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert version
    pinned = [
        step["with"]["version"]
        for path in WORKFLOWS
        for step in steps(load(path))
        if step.get("uses", "").startswith("astral-sh/setup-uv@")
    ]
    assert len(pinned) >= 5 and set(pinned) == {version.group(1)}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_steps_are_thin(path: Path) -> None:
    scripts = [step["run"].strip() for step in steps(load(path)) if "run" in step]
    assert [script for script in scripts if not THIN.match(script)] == []


def test_pr_check_is_the_required_gate() -> None:
    workflow = load(ROOT / ".github/workflows/pr.yml")
    assert workflow["on"] == {"pull_request": None}  # no path filters, no pull_request_target
    assert workflow["concurrency"]["cancel-in-progress"] is True
    job = workflow["jobs"]["metrics-gate"]
    assert job["name"] == "metrics-gate" and "if" not in job  # never skipped into success
    assert job["permissions"] == {"contents": "read"}
    by_name = {step.get("name"): step for step in job["steps"]}
    assert by_name["Reproduce the pipeline"]["run"] == "make repro"
    assert "if" not in by_name["Reproduce the pipeline"]
    report = by_name["Gate and report"]
    assert report["run"] == "make pr-report" and report["if"] == "${{ !cancelled() }}"
    assert report["env"]["BASE"] == "origin/${{ github.base_ref }}"
    checkout = job["steps"][0]
    assert checkout["with"]["fetch-depth"] == 0
    upload = by_name["Upload the report"]
    assert upload["with"]["name"] == "metrics-report" and upload["with"]["path"] == "reports/pr/"
    assert "secrets." not in (ROOT / ".github/workflows/pr.yml").read_text()


def test_comment_job_runs_no_pr_code() -> None:
    text = (ROOT / ".github/workflows/comment.yml").read_text()
    workflow = load(ROOT / ".github/workflows/comment.yml")
    assert workflow["on"]["workflow_run"] == {
        "workflows": ["Model PR check"],
        "types": ["completed"],
    }
    assert load(ROOT / ".github/workflows/pr.yml")["name"] == "Model PR check"
    job = workflow["jobs"]["comment"]
    assert job["permissions"] == {"actions": "read", "contents": "read", "pull-requests": "write"}
    checkout, download = job["steps"][0], job["steps"][1]
    assert "ref" not in checkout.get("with", {})  # the default branch, never the PR's head
    assert download["with"]["path"] == "${{ runner.temp }}/metrics-report"
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert job["steps"][-1]["run"] == "make pr-comment"
    assert "head_branch" not in text.split("jobs:")[1]  # untrusted names stay out of the job


def test_ruleset_requires_the_gate() -> None:
    ruleset = json.loads((ROOT / ".github/rulesets/main.json").read_text())
    checks = [rule for rule in ruleset["rules"] if rule["type"] == "required_status_checks"]
    contexts = {check["context"] for check in checks[0]["parameters"]["required_status_checks"]}
    jobs = {job.get("name", key) for path in WORKFLOWS for key, job in load(path)["jobs"].items()}
    assert contexts == {"metrics-gate", "lint-and-test"} and contexts <= jobs
    # only GitHub Actions may report them: a status of the same name from elsewhere does not count
    apps = {
        check.get("integration_id") for check in checks[0]["parameters"]["required_status_checks"]
    }
    assert apps == {15368}
