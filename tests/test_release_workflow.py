"""The release workflow's shape: tag trigger, least privilege per job, no caches, thin steps that
call make targets which exist and call ratchet commands which exist."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from ratchet.__main__ import build_parser
from tests.conftest import ROOT

WORKFLOW = ROOT / ".github/workflows/release.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    loaded["on"] = loaded.pop(True)  # YAML 1.1 reads the key `on` as true
    return loaded


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def make_targets() -> dict[str, str]:
    """Each documented Makefile target and its recipe."""
    targets: dict[str, str] = {}
    current = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        if match := re.match(r"^([\w-]+):.*## ", line):
            current = match.group(1)
            targets[current] = ""
        elif current and line.startswith("\t"):
            targets[current] += line + "\n"
        elif not line.startswith("\t"):
            current = None
    return targets


def test_runs_on_version_tags_only(workflow: dict[str, Any]) -> None:
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    assert workflow["concurrency"]["cancel-in-progress"] is False  # never half a release


def test_each_job_has_only_the_permissions_it_needs(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert jobs["image"]["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
    }
    assert jobs["release"]["permissions"] == {"contents": "write"}
    assert jobs["promote"]["permissions"] == {"contents": "read"}


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    lines = [
        line.split("uses:", 1)[1].strip()
        for line in WORKFLOW.read_text().splitlines()
        if "uses:" in line
    ]
    assert lines
    assert [line for line in lines if not PINNED.match(line)] == []


def test_no_job_uses_a_cache(workflow: dict[str, Any]) -> None:
    for job in workflow["jobs"].values():
        assert "actions/cache" not in uses(job)
        for step in job["steps"]:
            if step.get("uses", "").startswith("astral-sh/setup-uv@"):
                assert step["with"]["enable-cache"] is False
            assert "cache" not in {key for key in step.get("with", {}) if key != "enable-cache"}


def test_checkouts_keep_no_credentials(workflow: dict[str, Any]) -> None:
    for job in workflow["jobs"].values():
        checkout = job["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")
        assert checkout["with"]["persist-credentials"] is False
    assert workflow["jobs"]["image"]["steps"][0]["with"]["fetch-depth"] == 0  # previous tag


def test_the_image_is_built_tested_then_pushed_and_attested(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["image"]
    assert job["env"] == {"TAG": "${{ github.ref_name }}"}
    assert runs(job) == [
        "make check-tag",
        "make install",
        "make pull-model",
        "make bento",
        "make image",
        "make smoke-image",
        "make push-image",
        "make release-notes",
    ]
    names = [step.get("uses", step.get("run", "")).split("@")[0] for step in job["steps"]]
    assert names.index("make smoke-image") < names.index("docker/login-action")
    assert names.index("docker/login-action") < names.index("make push-image")
    assert names.index("make push-image") < names.index("actions/attest-build-provenance")
    attest = next(s for s in job["steps"] if "attest-build-provenance" in s.get("uses", ""))
    assert attest["with"] == {
        "subject-name": "${{ steps.push.outputs.image }}",
        "subject-digest": "${{ steps.push.outputs.digest }}",
        "push-to-registry": True,
    }
    assert job["outputs"]["model-sha256"] == "${{ steps.model.outputs.model-sha256 }}"


def test_the_release_is_published_after_the_image(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["release"]
    assert job["needs"] == "image"
    assert uses(job) == ["actions/checkout", "actions/download-artifact"]
    assert runs(job) == ["make github-release"]
    assert job["steps"][-1]["env"]["GH_TOKEN"] == "${{ github.token }}"


def test_promotion_needs_a_configured_server_and_the_release(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["promote"]
    assert job["needs"] == ["image", "release"]
    assert job["if"] == "${{ vars.MLFLOW_TRACKING_URI != '' }}"
    assert job["environment"] == "release"  # the secrets live in an environment
    step = job["steps"][-1]
    assert step["run"] == "make promote"
    assert step["env"]["MODEL_SHA256"] == "${{ needs.image.outputs.model-sha256 }}"
    assert step["env"]["MLFLOW_TRACKING_URI"] == "${{ vars.MLFLOW_TRACKING_URI }}"
    secrets = [key for key in WORKFLOW.read_text().split() if "secrets." in key]
    assert secrets and all("MLFLOW_TRACKING_" in key for key in secrets)
    assert "secrets." not in yaml.safe_dump(workflow["jobs"]["image"])


def test_scripts_hold_no_expressions(workflow: dict[str, Any]) -> None:
    for job in workflow["jobs"].values():
        for script in runs(job):
            assert "${{" not in script
            assert re.fullmatch(r"make [\w-]+", script)


def test_each_make_target_exists_and_calls_ratchet_commands_that_exist(
    workflow: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    targets = make_targets()
    parser = build_parser()
    for job in workflow["jobs"].values():
        for script in runs(job):
            target = script.removeprefix("make ")
            assert target in targets, f"`{script}` has no documented Makefile target"
            for command in re.findall(r"python -m ratchet ([\w-]+)", targets[target]):
                with pytest.raises(SystemExit) as exit:
                    parser.parse_args([command, "--help"])
                assert exit.value.code == 0, f"make {target} calls unknown `{command}`"
    capsys.readouterr()


def test_the_image_holds_the_model_containerize_adds() -> None:
    """Building the bento's Dockerfile directly would leave the model out."""
    recipe = make_targets()["image"]
    assert "bentoml containerize" in recipe and "--backend buildx" in recipe
    assert "docker build" not in recipe


def test_the_workflow_documents_rollback() -> None:
    header = WORKFLOW.read_text().split("\nname:")[0]
    assert "Rollback" in header and "previous release's image tag" in header
    assert "make pull-model promote" in header
