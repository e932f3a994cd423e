"""The workflows, each fact checked once: first what holds for every workflow (schema, zizmor,
pins, permissions, thin steps that run real targets), then what each workflow alone promises."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ratchet.__main__ import parser
from tests.conftest import ROOT

BIN = Path(sys.executable).parent
WORKFLOWS = {path.name: path for path in sorted((ROOT / ".github/workflows").glob("*.yml"))}
SETUP = "./.github/actions/setup"  # the composite action every job that installs sets up with
ACTION = ROOT / SETUP / "action.yml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
# A step's script runs one target of the Makefile or ci.mk, one `python -m ratchet` command, the
# docs build, or checks the lock: nothing else.
THIN = re.compile(
    r"^(make [\w-]+|python -m ratchet [\w-]+( --[\w-]+ [\w./-]+)*|mkdocs build --strict"
    r"|uv lock --check)$"
)


def load(name: str) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(WORKFLOWS[name].read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as true
    return workflow


def all_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def named(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A job's steps by name (or by action, for unnamed ones)."""
    return {step.get("name", step.get("uses", "").split("@")[0]): step for step in job["steps"]}


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def setups(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The inputs of each use of the setup action in a job."""
    return [step["with"] for step in job["steps"] if step.get("uses") == SETUP]


def make_dry_run(target: str, *options: str) -> str:
    """What `make TARGET` would run, as make itself expands it (nothing is run)."""
    result = subprocess.run(
        ["make", "-n", "-s", "--no-print-directory", *options, target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)},
    )
    assert result.returncode == 0, f"make {target}: {result.stderr}"
    return result.stdout


# --- Every workflow ------------------------------------------------------------------------------


def test_zizmor_finds_nothing() -> None:
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--persona=auditor", "--no-progress", ROOT / ".github"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_every_workflow_is_valid_against_the_github_workflow_schema() -> None:
    """One run for all of them: it names each file that fails."""
    result = subprocess.run(
        [
            BIN / "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *WORKFLOWS.values(),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_dependabot_is_valid_and_lets_releases_settle() -> None:
    path = ROOT / ".github/dependabot.yml"
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.dependabot", path],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    updates = yaml.safe_load(path.read_text())["updates"]
    assert {update["package-ecosystem"] for update in updates} == {"uv", "github-actions"}
    assert all(update["cooldown"]["default-days"] >= 3 for update in updates)


@pytest.mark.parametrize("name", WORKFLOWS)
def test_actions_are_pinned_and_checkouts_keep_no_credentials(name: str) -> None:
    steps = all_steps(load(name))
    uses = [step["uses"] for step in steps if "uses" in step]
    comments = [
        line.split("uses:", 1)[1].strip()
        for line in WORKFLOWS[name].read_text().splitlines()
        if line.strip().removeprefix("- ").startswith("uses:")
    ]
    assert uses and len(comments) == len(uses)
    assert [use for use in comments if use != SETUP and not PINNED.match(use)] == []
    for step in steps:
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("name", WORKFLOWS)
def test_permissions_start_from_none_and_each_job_names_its_own(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job_name, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{job_name} declares no permissions"
        assert "write-all" not in json.dumps(job["permissions"])


# --- The setup action ----------------------------------------------------------------------------


def test_the_setup_action_is_valid_and_pins_its_actions() -> None:
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-actions", ACTION],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    assert {name for name, given in action["inputs"].items() if given["required"]} == {
        "install",
        "cache",
    }
    uses = [step["uses"] for step in action["runs"]["steps"] if "uses" in step]
    comments = [
        line.split("uses:", 1)[1].strip()
        for line in ACTION.read_text().splitlines()
        if line.strip().removeprefix("- ").startswith("uses:")
    ]
    assert uses == [use.split(" #")[0] for use in comments]
    assert [use for use in comments if not PINNED.match(use)] == []


def test_the_setup_action_installs_the_uv_that_make_uv_version_prints() -> None:
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    read, setup_uv = steps[0], steps[1]
    assert "make --no-print-directory uv-version" in read["run"]
    assert setup_uv["uses"].startswith("astral-sh/setup-uv@")
    assert setup_uv["with"]["version"] == "${{ steps.uv.outputs.version }}"
    assert setup_uv["with"]["enable-cache"] == "${{ inputs.cache }}"
    version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert version
    printed = subprocess.run(
        ["make", "--no-print-directory", "uv-version"], cwd=ROOT, capture_output=True, text=True
    )
    assert printed.stdout == f"{version.group(1)}\n"


def test_the_uv_version_is_written_once() -> None:
    """The Makefile's UV_VERSION is the one pin: no other tracked file names that version, and no
    workflow sets up uv but through the setup action."""
    version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert version
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    pins = re.compile(rf"(?<![\d.]){re.escape(version.group(1))}(?![\d.])|uv==|setup-uv@")
    # the pin, the setup action that reads it, the lock (package versions), and this file
    allowed = {"Makefile", ".github/actions/setup/action.yml", "uv.lock"}
    allowed.add(Path(__file__).relative_to(ROOT).as_posix())
    holding = [
        name
        for name in tracked
        if name not in allowed
        and (ROOT / name).is_file()
        and pins.search((ROOT / name).read_text(errors="replace"))
    ]
    assert holding == [], f"a second uv pin: {holding}"


def test_every_job_that_runs_the_projects_python_sets_up_first() -> None:
    for name in WORKFLOWS:
        for key, job in load(name)["jobs"].items():
            scripts = runs(job)
            needs_venv = [s for s in scripts if s.startswith(("python ", "mkdocs "))]
            if not needs_venv:
                continue
            steps = job["steps"]
            setup = [i for i, step in enumerate(steps) if step.get("uses") == SETUP]
            first = min(i for i, step in enumerate(steps) if step.get("run") in needs_venv)
            assert setup and setup[0] < first, f"{name}: {key} runs python before the setup"


@pytest.mark.parametrize("name", WORKFLOWS)
def test_steps_are_thin_and_run_commands_that_exist(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each script is one make target; what make would run calls only real ratchet commands."""
    for step in all_steps(load(name)):
        script = step.get("run", "").strip()
        if not script:
            continue
        assert THIN.match(script), f"{name}: `{script}` is not a make target or a command"
        commands = re.findall(r"^python -m ratchet ([\w-]+)", script)
        if script.startswith("make "):
            recipe = make_dry_run(script.removeprefix("make "))
            # on a fresh runner, where nothing is up to date yet (--always-make)
            fresh = make_dry_run(script.removeprefix("make "), "--always-make")
            assert fresh.strip(), f"{name}: `{script}` would run nothing"
            commands = re.findall(r"-m ratchet ([\w-]+)", recipe)
        for command in commands:
            with pytest.raises(SystemExit) as exit:  # an unknown command exits 2
                parser().parse_args([command, "--help"])
            assert exit.value.code == 0, f"`{script}` runs unknown `ratchet {command}`"
    capsys.readouterr()


@pytest.mark.parametrize("name", WORKFLOWS)
def test_a_step_that_is_one_command_takes_only_options_the_command_has(name: str) -> None:
    for step in all_steps(load(name)):
        words = step.get("run", "").split()
        if words[:3] == ["python", "-m", "ratchet"]:
            args = parser().parse_args(words[3:])  # exits 2 on an unknown option
            assert args.command == words[3]


@pytest.mark.parametrize("name", ["release.yml", "retrain.yml", "docs.yml"])
def test_jobs_that_publish_or_write_restore_no_cache(name: str) -> None:
    steps = all_steps(load(name))
    assert [step for step in steps if step.get("uses") == SETUP]
    for step in steps:
        assert not step.get("uses", "").startswith("actions/cache")
        if step.get("uses") == SETUP:
            assert step["with"]["cache"] is False


def test_the_required_checks_are_jobs_that_github_actions_reports() -> None:
    ruleset = json.loads((ROOT / ".github/rulesets/main.json").read_text())
    (rule,) = [rule for rule in ruleset["rules"] if rule["type"] == "required_status_checks"]
    required = rule["parameters"]["required_status_checks"]
    jobs = {job.get("name", key) for name in WORKFLOWS for key, job in load(name)["jobs"].items()}
    contexts = {check["context"] for check in required}
    assert contexts == {"metrics-gate", "lint", "test"} and contexts <= jobs
    # a status of the same name from anything but GitHub Actions does not count
    assert {check.get("integration_id") for check in required} == {15368}


# --- Each workflow -------------------------------------------------------------------------------


def test_ci_runs_lint_and_fast_tests_and_the_e2e_tests_beside_them() -> None:
    jobs = load("ci.yml")["jobs"]
    assert runs(jobs["lint"]) == ["uv lock --check", "make lint"]
    assert runs(jobs["test"]) == ["make test-fast"]
    assert runs(jobs["e2e"]) == ["make test-e2e"]
    for job in jobs.values():
        assert setups(job) == [{"install": "install", "cache": True}]
    assert "mkdocs build --strict" in make_dry_run("lint")  # a pull request builds the docs
    assert all(job["permissions"] == {"contents": "read"} for job in jobs.values())


def test_the_pr_check_runs_on_every_pull_request_with_a_read_only_token() -> None:
    workflow = load("pr.yml")
    # no path filters, no pull_request_target; a label change (baseline-reset) reruns the check
    assert workflow["on"] == {
        "pull_request": {"types": ["opened", "synchronize", "reopened", "labeled", "unlabeled"]}
    }
    assert workflow["concurrency"]["cancel-in-progress"] is True
    job = workflow["jobs"]["metrics-gate"]
    assert job["name"] == "metrics-gate" and "if" not in job  # never skipped into success
    assert job["permissions"] == {"contents": "read"}
    assert job["env"] == {"PYTHONSAFEPATH": "1"}  # no module at the checkout's root is imported
    assert "secrets" not in json.dumps(workflow)
    assert job["steps"][0]["with"]["fetch-depth"] == 0  # the gate reads the base from git
    assert setups(job) == [{"install": "install-pipeline", "cache": True}]
    assert runs(job) == ["python -m ratchet reproduce", "python -m ratchet gate"]
    steps = named(job)
    assert "if" not in steps["Reproduce the pipeline from scratch"]
    assert steps["Gate and report"]["if"] == "${{ !cancelled() }}"  # a failed repro gets a report
    upload = steps["Upload the report"]
    assert upload["with"]["name"] == "metrics-report" and upload["with"]["path"] == "reports/pr/"
    # no cache of DVC's may stand in for a stage: only uv's package cache is restored
    assert not [step for step in job["steps"] if "actions/cache" in step.get("uses", "")]


def test_every_push_to_main_is_verified_as_a_pull_request_is() -> None:
    workflow = load("main.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    job = workflow["jobs"]["reproduce"]
    assert job["permissions"] == {"contents": "read"}
    assert setups(job) == [{"install": "install-pipeline", "cache": True}]
    assert runs(job) == ["python -m ratchet reproduce"]


def test_the_comment_job_runs_only_the_default_branchs_code() -> None:
    workflow = load("comment.yml")
    assert workflow["on"]["workflow_run"] == {
        "workflows": ["Model PR check"],
        "types": ["completed"],
    }
    assert load("pr.yml")["name"] == "Model PR check"
    job = workflow["jobs"]["comment"]
    assert job["permissions"] == {"actions": "read", "contents": "read", "pull-requests": "write"}
    checkout, steps = job["steps"][0], named(job)
    assert checkout["with"] == {"persist-credentials": False}  # the default branch, never the PR's
    download = steps["Download the report"]
    assert download["with"]["path"] == "${{ runner.temp }}/metrics-report"
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert runs(job) == ["make install-cml", "make pr-comment"]
    assert steps["Post or update the comment"]["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}
    assert "head_branch" not in json.dumps(job)  # an untrusted name stays out of the job


def test_the_comment_job_builds_cml_from_its_source_at_a_pinned_commit() -> None:
    steps = named(load("comment.yml")["jobs"]["comment"])
    assert steps["Check out CML 0.20.6"]["with"] == {
        "repository": "iterative/cml",
        "ref": "a3a66c74b218b08710f42bf599b066e37cb4cba7",
        "path": ".tools/cml",
        "persist-credentials": False,
    }
    assert re.fullmatch(r"\d+\.\d+\.\d+", steps["actions/setup-node"]["with"]["node-version"])
    assert make_dry_run("install-cml").splitlines() == [
        'cp .github/cml/package-lock.json ".tools/cml/package-lock.json"',
        'npm ci --prefix ".tools/cml" --omit=dev --ignore-scripts --no-audit --no-fund',
    ]
    assert make_dry_run("pr-comment").endswith('comment --cml ".tools/cml/bin/cml.js"\n')


def test_the_monitor_runs_weekly_and_hands_drift_to_the_alert_job() -> None:
    workflow = load("monitor.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    (schedule,) = workflow["on"]["schedule"]
    assert len(schedule["cron"].split()) == 5
    monitor, alert = workflow["jobs"]["monitor"], workflow["jobs"]["alert"]
    assert monitor["if"] == "${{ !github.event.repository.fork || vars.RATCHET_MONITOR == 'true' }}"
    assert monitor["permissions"] == {"contents": "read"}
    check = next(step for step in monitor["steps"] if step.get("id") == "monitor")
    assert check["run"] == "make check-drift" and "continue-on-error" not in check
    assert monitor["outputs"] == {"drift": "${{ steps.monitor.outputs.drift }}"}
    assert named(monitor)["Upload the report"]["with"]["if-no-files-found"] == "error"
    assert alert["needs"] == "monitor"
    assert alert["if"] == "${{ needs.monitor.outputs.drift == 'true' }}"
    assert alert["permissions"] == {"actions": "write", "contents": "read", "issues": "write"}
    assert runs(alert) == ["make drift-alert"]
    assert "workflow_dispatch" in load("retrain.yml")["on"]  # what the alert starts


def test_retraining_trains_without_secrets_and_proposes_with_the_token_only() -> None:
    workflow = load("retrain.yml")
    assert workflow["on"] == {"workflow_dispatch": None}
    retrain, propose = workflow["jobs"]["retrain"], workflow["jobs"]["propose"]
    # The job that runs the repository's code on new data holds no secret and can write nothing.
    assert retrain["permissions"] == {"contents": "read"} and "environment" not in retrain
    assert "secrets." not in json.dumps(retrain)
    assert setups(retrain) == [{"install": "install-pipeline", "cache": False}]
    assert runs(retrain) == [
        "make retrain-data",
        "python -m ratchet retrain-commit --bundle reports/retrain",
    ]
    upload = named(retrain)["Upload the commit"]["with"]
    assert upload["path"] == "reports/retrain/"
    assert retrain["outputs"] == {"changed": "${{ steps.commit.outputs.changed }}"}
    # The job with the token runs no repository code on data: git and the system Python.
    assert propose["needs"] == "retrain"
    assert propose["if"] == "${{ needs.retrain.outputs.changed == 'true' }}"
    assert propose["environment"] == "retrain"
    assert propose["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert runs(propose) == ["make retrain-pr"]
    assert setups(propose) == []  # no install
    app = named(propose)["Token of the GitHub App"]
    assert app["with"]["client-id"] == "${{ secrets.RATCHET_APP_CLIENT_ID }}"
    assert "app-id" not in app["with"]  # deprecated
    names = [step.get("name") for step in propose["steps"]]
    assert names.index("Token of the GitHub App") == len(names) - 2  # minted just before use
    assert propose["steps"][-1]["env"]["GH_TOKEN"] == (
        "${{ steps.app.outputs.token || secrets.RATCHET_PR_TOKEN || github.token }}"
    )


def test_a_release_builds_tests_then_pushes_and_attests_the_image_and_its_sbom() -> None:
    workflow = load("release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    assert workflow["concurrency"]["cancel-in-progress"] is False  # never half a release
    jobs = workflow["jobs"]
    image = jobs["image"]
    assert image["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
    }
    assert image["environment"] == "release"  # required reviewers approve it first
    # the tag check runs the default branch's code, checked out before the tagged commit
    checkouts = [s for s in image["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    default, tagged = checkouts
    assert default["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert "ref" not in tagged["with"]  # the tag that triggered the run
    assert default["with"]["fetch-depth"] == tagged["with"]["fetch-depth"] == 0
    steps = image["steps"]
    assert steps.index(default) + 1 == steps.index(
        named(image)["Release only a commit of the default branch (its model passed metrics-gate)"]
    )
    assert steps.index(default) + 2 == steps.index(tagged)
    assert setups(image) == [{"install": "install-release", "cache": False}]
    assert runs(image) == [
        "make check-tag",
        "python -m ratchet reproduce",
        "make bento",
        "make container",
        "make smoke-image",
        "python -m ratchet push-image",
        "python -m ratchet release-notes --output release-notes.md",
    ]
    # the setup runs the tagged commit's Makefile, after the tagged commit is checked out
    assert steps.index(tagged) < [s.get("uses") for s in steps].index(SETUP)
    order = [step.get("uses", step.get("run", "")).split("@")[0] for step in image["steps"]]
    assert order.index("make smoke-image") < order.index("docker/login-action")
    push = "python -m ratchet push-image"
    assert order.index(push) < order.index("actions/attest-build-provenance")
    attest = image["steps"][order.index("actions/attest-build-provenance")]
    assert attest["with"]["subject-digest"] == "${{ steps.push.outputs.digest }}"
    # the SBOM lists the pushed digest itself, and is attested to it
    assert order.index(push) < order.index("anchore/sbom-action")
    assert order.index("anchore/sbom-action") < order.index("actions/attest")
    sbom = image["steps"][order.index("anchore/sbom-action")]["with"]
    assert sbom["image"] == "${{ steps.push.outputs.image }}@${{ steps.push.outputs.digest }}"
    attest_sbom = image["steps"][order.index("actions/attest")]["with"]
    assert attest_sbom["sbom-path"] == sbom["output-file"]
    assert attest_sbom["subject-digest"] == attest["with"]["subject-digest"]
    assert jobs["release"]["needs"] == "image"
    assert jobs["release"]["permissions"] == {"contents": "write"}
    assert runs(jobs["release"]) == ["make github-release"]
    promote = jobs["promote"]
    assert promote["needs"] == ["image", "release"]
    assert promote["if"] == "${{ vars.MLFLOW_TRACKING_URI != '' }}"
    assert promote["environment"] == "release" and promote["permissions"] == {"contents": "read"}
    assert setups(promote) == [{"install": "install-pipeline", "cache": False}]
    # the image job logs no run (no secret there): promote reproduces with the server's URI set
    assert runs(promote) == ["python -m ratchet reproduce", "python -m ratchet promote"]
    for step in promote["steps"][-2:]:
        assert step["env"]["MLFLOW_TRACKING_URI"] == "${{ vars.MLFLOW_TRACKING_URI }}"
    # MLflow's secrets for promote, the App's for the staging pull request, none for the image
    secrets = re.findall(r"secrets\.(\w+)", json.dumps(promote))
    assert secrets and all(name.startswith("MLFLOW_TRACKING_") for name in secrets)
    assert set(re.findall(r"secrets\.(\w+)", json.dumps(jobs["staging"]))) == APP_SECRETS
    assert "secrets." not in json.dumps(image) + json.dumps(jobs["release"])


APP_SECRETS = {"RATCHET_APP_CLIENT_ID", "RATCHET_APP_PRIVATE_KEY", "RATCHET_PR_TOKEN"}


def check_deploy_pr_job(job: dict[str, Any], target: str) -> None:
    """A job that opens a deploy pull request: the default branch's code, no install, the App's
    token minted just before the one step that uses it."""
    assert job["environment"] == "deploy"
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}  # the fallback
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert setups(job) == []  # no install
    assert runs(job) == [f"make {target}"]
    assert make_dry_run(target).startswith("PYTHONPATH=src python3 -m ratchet deploy-")
    app = named(job)["Token of the GitHub App"]
    assert app["uses"].startswith("actions/create-github-app-token@")
    assert app["with"]["client-id"] == "${{ secrets.RATCHET_APP_CLIENT_ID }}"
    assert app["with"]["permission-contents"] == app["with"]["permission-pull-requests"] == "write"
    names = [step.get("name") for step in job["steps"]]
    assert names.index("Token of the GitHub App") == len(names) - 2  # minted just before use
    assert job["steps"][-1]["env"]["GH_TOKEN"] == (
        "${{ steps.app.outputs.token || secrets.RATCHET_PR_TOKEN || github.token }}"
    )


def test_a_release_opens_the_staging_pull_request_for_the_pushed_digest() -> None:
    jobs = load("release.yml")["jobs"]
    image, staging = jobs["image"], jobs["staging"]
    assert staging["needs"] == "image"
    assert image["outputs"]["image"] == "${{ steps.push.outputs.image }}"
    assert image["outputs"]["digest"] == "${{ steps.push.outputs.digest }}"
    check_deploy_pr_job(staging, "deploy-staging")
    step = staging["steps"][-1]
    assert step["env"]["RATCHET_IMAGE"] == "${{ needs.image.outputs.image }}"
    assert step["env"]["RATCHET_DIGEST"] == "${{ needs.image.outputs.digest }}"
    notes = named(staging)["Download the release notes"]["with"]
    assert notes == {"name": "release-notes", "path": "${{ runner.temp }}/release-notes"}
    # the App's token is in this job alone
    others = [json.dumps(job) for name, job in jobs.items() if name != "staging"]
    assert not [job for job in others if "RATCHET_APP" in job or "RATCHET_PR_TOKEN" in job]


def test_promotion_runs_by_hand_or_on_a_published_release_from_the_default_branch() -> None:
    workflow = load("promote.yml")
    assert workflow["on"] == {"workflow_dispatch": None, "release": {"types": ["published"]}}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    (job,) = workflow["jobs"].values()
    assert job["if"] == "${{ github.event_name != 'release' || !github.event.release.prerelease }}"
    check_deploy_pr_job(job, "deploy-promote")
    assert make_dry_run("deploy-promote").endswith("--from staging --to production\n")


def test_no_workflow_that_runs_a_pull_requests_code_can_write_or_holds_the_app() -> None:
    for name, path in WORKFLOWS.items():
        workflow = load(name)
        if not {"pull_request", "pull_request_target", "workflow_run"} & set(workflow["on"]):
            continue
        text = path.read_text()
        assert "RATCHET_APP" not in text and "create-github-app-token" not in text
        for job_name, job in workflow["jobs"].items():
            writes = {k for k, v in job["permissions"].items() if v == "write"}
            if name == "comment.yml":  # the default branch's code, which posts the report
                assert writes == {"pull-requests"}
            else:
                assert writes == set(), f"{name}: {job_name} can write {writes}"


@pytest.mark.parametrize(
    ("name", "job"),
    [
        ("pr.yml", "metrics-gate"),
        ("main.yml", "reproduce"),
        ("retrain.yml", "retrain"),
        ("release.yml", "image"),
    ],
)
def test_the_training_jobs_run_on_the_runner_a_repository_variable_names(
    name: str, job: str
) -> None:
    assert load(name)["jobs"][job]["runs-on"] == "${{ vars.RATCHET_RUNNER || 'ubuntu-latest' }}"


def test_only_the_training_jobs_follow_the_runner_variable() -> None:
    """The jobs that comment, publish, promote or hold the App's token stay on GitHub's runners."""
    training = {("pr.yml", "metrics-gate"), ("main.yml", "reproduce"), ("retrain.yml", "retrain")}
    training.add(("release.yml", "image"))
    for name in WORKFLOWS:
        for key, job in load(name)["jobs"].items():
            if (name, key) not in training:
                assert job["runs-on"] == "ubuntu-latest", f"{name}: {key}"


def test_only_maintainers_create_release_tags_and_nobody_moves_one() -> None:
    create = json.loads((ROOT / ".github/rulesets/release-tags.json").read_text())
    final = json.loads((ROOT / ".github/rulesets/release-tags-final.json").read_text())
    for ruleset in (create, final):
        assert ruleset["target"] == "tag" and ruleset["enforcement"] == "active"
        assert ruleset["conditions"]["ref_name"] == {"include": ["refs/tags/v*"], "exclude": []}
    assert [rule["type"] for rule in create["rules"]] == ["creation"]
    # repository roles 5 (admin) and 2 (maintain) may create v* tags; nobody else
    bypass = {(a["actor_type"], a["actor_id"]) for a in create["bypass_actors"]}
    assert bypass == {("RepositoryRole", 5), ("RepositoryRole", 2)}
    # a bypass would cover every rule of its ruleset: moving and deleting stand alone, with none
    assert sorted(rule["type"] for rule in final["rules"]) == ["deletion", "update"]
    assert final["bypass_actors"] == []


def test_the_docs_site_is_built_read_only_and_only_the_deploy_job_writes_to_pages() -> None:
    workflow = load("docs.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read"}
    assert setups(build) == [{"install": "install-docs", "cache": False}]
    assert runs(build) == ["mkdocs build --strict"]
    upload = next(s for s in build["steps"] if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"] == {"path": "site/"}  # where mkdocs.yml builds to (the default)
    assert "site_dir" not in (ROOT / "mkdocs.yml").read_text()
    # the job that can write runs no repository code: no checkout, one action
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    (step,) = deploy["steps"]
    assert step["uses"].startswith("actions/deploy-pages@")
    assert make_dry_run("install-docs").strip().endswith("sync --locked --only-group docs")


# --- What the workflows and docs name ------------------------------------------------------------

# A repository path as the workflows, the setup action, the Makefile and the docs write one.
REPO_PATH = re.compile(
    r"(?<![\w./-])((?:\.github|\.devcontainer|docs|src|tests|deploy)/[\w./-]*\w/?)"
)
NAMING_FILES = [
    *WORKFLOWS.values(),
    ACTION,
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "README.md",
    ROOT / "Makefile",
    ROOT / "ci.mk",
    ROOT / "mkdocs.yml",
    ROOT / ".pre-commit-config.yaml",
]


@pytest.mark.parametrize("path", NAMING_FILES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_path_a_workflow_or_doc_names_exists(path: Path) -> None:
    """A file named in a comment or a doc is there (or is an output git ignores)."""
    named_paths = {match.group(1) for match in REPO_PATH.finditer(path.read_text())}
    missing = [name for name in sorted(named_paths) if not (ROOT / name).exists()]
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *missing], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert [name for name in missing if name not in ignored] == []
