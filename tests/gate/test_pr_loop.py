"""The pull-request loop end to end: real branches, `dvc repro` and `make pr-check`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import (
    REGRESSION_DATA,
    Project,
    make_project,
    regression_frame,
    small_params,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """main holds a trained, committed model; bootstrapped through the gate like a first PR."""
    project = make_project(tmp_path_factory.mktemp("loop") / "project", with_make=True)
    (project.path / ".gitignore").write_text("/reports/pr/\n")
    project.write_data(regression_frame())
    project.set_params(small_params(REGRESSION_DATA))
    project.run("dvc", "add", "-q", "data")
    project.commit("project without a model")
    project.git("checkout", "-q", "-b", "first-model")
    first = make(project, "pr-check", "BASE=main")
    assert "gate: BOOTSTRAP PASS" in first.stdout
    report = project.read("reports/pr/report.md")
    assert report.startswith("## 🟡 Bootstrap: `main` has no metrics yet")
    project.commit("first model")
    project.git("checkout", "-q", "main")
    project.git("merge", "-q", "--ff-only", "first-model")
    return project


def make(project: Project, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a make target as a user would, using this repository's installed .venv as is."""
    return project.run("make", "--assume-old=.venv/.installed", *args, check=check)


def branch(project: Project, name: str) -> None:
    project.git("checkout", "-q", "-f", "main")
    project.git("clean", "-qfd", "-e", ".venv")
    project.run("dvc", "checkout", "-q")
    project.git("checkout", "-q", "-b", name)


def set_train(project: Project, **hyperparameters: object) -> dict[str, object]:
    params = project.params
    params["train"]["hyperparameters"].update(hyperparameters)
    project.set_params(params)
    return params


def test_a_degraded_model_fails_the_gate_even_with_loosened_thresholds(loop: Project) -> None:
    branch(loop, "worse")
    params = set_train(loop, max_iter=3)
    params["gate"]["metrics"]["rmse"]["max_regression_pct"] = 1000  # type: ignore[index]
    loop.set_params(params)
    result = make(loop, "pr-check", "BASE=main", check=False)
    assert result.returncode != 0
    assert "gate: FAIL against main" in result.stdout
    assert "rmse regressed" in result.stdout and "allowed 1 %" in result.stdout

    report = loop.read("reports/pr/report.md")
    assert report.startswith("## ❌ Metrics gate failed against `main`: `rmse`, `r2`")
    assert "thresholds from the base branch's `params.yaml`" in report
    assert "| `train.hyperparameters.max_iter` | `30` | `3` |" in report
    gate = json.loads(loop.read("reports/pr/gate.json"))
    assert gate["verdict"] == "fail"
    assert {check["name"]: check["passed"] for check in gate["checks"]} == {
        "rmse": False,
        "r2": False,
    }


def test_an_improved_model_passes(loop: Project) -> None:
    branch(loop, "better")
    set_train(loop, max_iter=150)
    result = make(loop, "pr-check", "BASE=main")
    assert "gate: PASS against main" in result.stdout
    report = loop.read("reports/pr/report.md")
    assert report.startswith("## ✅ Metrics gate passed against `main`")
    assert "```mermaid" in report and "https://" not in report
    new, base = (
        json.loads(loop.read("reports/metrics.json")),
        json.loads(loop.git("show", "main:reports/metrics.json")),
    )
    assert new["rmse"] < base["rmse"]


def test_failed_training_fails_closed_with_a_report(loop: Project) -> None:
    branch(loop, "broken")
    set_train(loop, max_iter="many")
    assert make(loop, "repro", check=False).returncode != 0
    report = make(loop, "pr-report", "BASE=main", check=False)
    assert report.returncode != 0
    assert "the pipeline is not up to date" in report.stdout
    assert "> [!CAUTION]" in loop.read("reports/pr/report.md")


def test_corrupt_metrics_and_unknown_base_fail_closed(loop: Project) -> None:
    branch(loop, "corrupt")
    (loop.path / "reports/metrics.json").write_text('{"rmse": 1.0,')
    result = loop.ratchet("gate", "--base", "main", check=False)
    assert result.returncode == 1
    assert "reports/metrics.json is not valid JSON" in result.stdout

    loop.run("dvc", "checkout", "-q", "--force")
    loop.git("checkout", "-q", "--", "reports")
    unknown = loop.ratchet("gate", "--base", "no-such-branch", "--json", "gate.json", check=False)
    assert unknown.returncode == 1
    assert "unknown base revision 'no-such-branch'" in unknown.stdout
    assert json.loads(Path(loop.path / "gate.json").read_text())["verdict"] == "fail"
