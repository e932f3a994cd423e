"""The PR loop's fixture: a project whose main holds a trained model, bootstrapped through the gate
like a first pull request, and the steps a pull request takes."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.conftest import REGRESSION_DATA, Project, make_project, regression_frame, small_params

# main's rules: generous on the whole, stricter per colour, so that one slice can fail alone.
RULES = {
    "slices": {"columns": ["colour"], "min_rows": 10},
    "metrics": {
        "rmse": {"better": "lower", "max_regression_pct": 30.0, "slice_max_regression_pct": 40.0},
        "r2": {"better": "higher", "min": 0.5, "max_regression": 0.05},
    },
}


def make(project: Project, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a make target as a user would, using this repository's installed .venv as is."""
    return project.run("make", "--assume-old=.venv/.installed", *args, check=check)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """main holds a trained, committed model; bootstrapped through the gate like a first PR."""
    project = make_project(tmp_path_factory.mktemp("loop") / "project", with_make=True)
    (project.path / ".gitignore").write_text("/reports/pr/\n/mlruns/\n")
    project.write_data(regression_frame())
    project.set_params({**small_params(REGRESSION_DATA), "gate": RULES})
    project.run("dvc", "add", "-q", "data")
    project.commit("project without a model")
    project.git("checkout", "-q", "-b", "first-model")
    project.run("dvc", "repro", "-q")
    project.commit("first model")
    first = make(project, "pr-check", "BASE=main")
    assert "gate: BOOTSTRAP PASS" in first.stdout
    project.git("checkout", "-q", "main")
    project.git("merge", "-q", "--ff-only", "first-model")
    return project


def branch(project: Project, name: str) -> None:
    project.git("checkout", "-q", "-f", "main")
    project.git("clean", "-qfd", "-e", ".venv")
    project.run("dvc", "checkout", "-q", "--force")
    project.git("checkout", "-q", "-b", name)


def set_train(project: Project, **hyperparameters: object) -> None:
    params = project.params
    params["train"]["hyperparameters"].update(hyperparameters)
    project.set_params(params)


def pr_check(project: Project) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = make(project, "pr-check", "BASE=main", check=False)
    return result, json.loads(project.read("reports/pr/gate.json"))


def checks(gate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in gate["checks"]}
