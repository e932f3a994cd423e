"""The PR loop's fixture: a project whose main holds a trained model, bootstrapped through the gate
like a first pull request, and the steps a pull request takes."""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from ratchet.core.paths import DATA_DVC_FILE
from ratchet.pipeline import reproduction
from tests.conftest import (
    REGRESSION_DATA,
    Project,
    dvc_here,
    make_project,
    regression_frame,
    small_params,
    stages_here,
)

# main's rules: generous on the whole, stricter per colour, so that one slice can fail alone.
RULES = {
    "slices": {"columns": ["colour"], "min_rows": 10},
    "metrics": {
        "rmse": {"better": "lower", "max_regression_pct": 30.0, "slice_max_regression_pct": 40.0},
        "r2": {"better": "higher", "min": 0.5, "max_regression": 0.05},
    },
}


def make(
    project: Project, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a make target as a user would, using this repository's installed .venv as is."""
    return project.run("make", "--assume-old=.venv/.installed", *args, check=check, env=env)


@pytest.fixture(scope="module")
def loop(main_with_a_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """main holds a trained, committed model; bootstrapped through the gate like a first PR.

    Each module gets its own copy (with its own DVC remote) to make branches in."""
    folder = tmp_path_factory.mktemp("loop")
    shutil.copytree(main_with_a_model, folder, symlinks=True, dirs_exist_ok=True)
    project = Project(folder / "project")
    # in .dvc/config.local (git ignores it), so that checking out main keeps this module's remote
    project.dvc("remote", "modify", "--local", "-q", "local", "url", str(folder / "remote"))
    return project


@pytest.fixture(scope="session")
def main_with_a_model(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The folder holding `loop`'s project and its DVC remote, built once for all test workers:
    a first model costs a training and a PR check."""
    if worker_id == "master":  # no xdist: this session's own folder
        return build_main_with_a_model(tmp_path_factory.mktemp("main-with-a-model"))
    shared = tmp_path_factory.getbasetemp().parent  # this session's, shared by its workers
    built = shared / "main-with-a-model"
    with (shared / "main-with-a-model.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not (built / "built").is_file():
            shutil.rmtree(built, ignore_errors=True)
            build_main_with_a_model(built)
            (built / "built").touch()
    return built


def build_main_with_a_model(folder: Path) -> Path:
    project = make_project(folder / "project", with_make=True)
    (project.path / ".gitignore").write_text("/reports/pr/\n/mlruns/\n")
    project.write_data(regression_frame())
    project.set_params({**small_params(REGRESSION_DATA), "gate": RULES})
    project.dvc("add", "-q", "data")
    project.commit("project without a model")
    project.git("checkout", "-q", "-b", "first-model")
    project.repro()
    project.commit("first model")
    first = make(project, "pr-check", "BASE=main")
    assert "gate: BOOTSTRAP PASS" in first.stdout
    project.git("checkout", "-q", "main")
    project.git("merge", "-q", "--ff-only", "first-model")
    return folder


def branch(project: Project, name: str) -> None:
    project.git("checkout", "-q", "-f", "main")
    project.git("clean", "-qfd", "-e", ".venv")
    project.dvc("checkout", "-q", "--force")
    project.git("checkout", "-q", "-b", name)


def set_train(project: Project, **hyperparameters: object) -> None:
    params = project.params
    params["train"]["hyperparameters"].update(hyperparameters)
    project.set_params(params)


def pull_here() -> None:
    """The check's `dvc pull data.dvc` (`reproduction.pull_data`) through DVC's entry point in
    this process."""
    dvc_here("pull", "--quiet", str(DATA_DVC_FILE))


def reproduce_here(
    project: Project, env: dict[str, str] | None = None, real_pull: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python -m ratchet reproduce` in this process (`Project.here`), with `stages_here` in place
    of its `dvc repro --force`, and `pull_here` in place of its `dvc pull` unless `real_pull`:
    the tests of what a pull fetches, and of what a failed one says, run the real command."""
    with contextlib.ExitStack() as seams:
        seams.enter_context(mock.patch.object(reproduction, "rerun_stages", stages_here))
        if not real_pull:
            seams.enter_context(mock.patch.object(reproduction, "pull_data", pull_here))
        return project.here("reproduce", env=env)


def pr_check(
    project: Project, env: dict[str, str] | None = None, base: str = "main", real_pull: bool = False
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """What `make pr-check BASE=base` runs, `python -m ratchet reproduce` and then `gate`, each
    in this process (`Project.here`), with `reproduce_here`'s stand-ins for the check's `dvc repro
    --force` and `dvc pull`. The check runs as `make pr-check`, its commands real, where
    `main_with_a_model` trains the first model. Returns the gate's exit code and what the check
    printed."""
    reproduced = reproduce_here(project, env, real_pull)  # the gate fails on what it found
    gate = project.here("gate", "--base", base, env=env)
    result = subprocess.CompletedProcess(
        ["make", "pr-check", f"BASE={base}"],
        gate.returncode,
        reproduced.stdout + gate.stdout,
        reproduced.stderr + gate.stderr,
    )
    return result, json.loads(project.read("reports/pr/gate.json"))


def checks(gate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in gate["checks"]}
