"""The PR loop's fixture: a project whose main holds a trained model, bootstrapped through the gate
like a first pull request, and the steps a pull request takes. The PR comment's: a fake GitHub
API, CML built as the workflow builds it, and a stand-in for CML where it cannot be built."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    REGRESSION_DATA,
    ROOT,
    Project,
    make_project,
    regression_frame,
    small_params,
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
    project.run("dvc", "remote", "modify", "--local", "-q", "local", "url", str(folder / "remote"))
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
    project.run("dvc", "add", "-q", "data")
    project.commit("project without a model")
    project.git("checkout", "-q", "-b", "first-model")
    project.run("dvc", "repro", "-q")
    project.commit("first model")
    first = make(project, "pr-check", "BASE=main")
    assert "gate: BOOTSTRAP PASS" in first.stdout
    project.git("checkout", "-q", "main")
    project.git("merge", "-q", "--ff-only", "first-model")
    return folder


def branch(project: Project, name: str) -> None:
    project.git("checkout", "-q", "-f", "main")
    project.git("clean", "-qfd", "-e", ".venv")
    project.run("dvc", "checkout", "-q", "--force")
    project.git("checkout", "-q", "-b", name)


def set_train(project: Project, **hyperparameters: object) -> None:
    params = project.params
    params["train"]["hyperparameters"].update(hyperparameters)
    project.set_params(params)


def pr_check(
    project: Project, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result = make(project, "pr-check", "BASE=main", check=False, env=env)
    return result, json.loads(project.read("reports/pr/gate.json"))


def checks(gate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in gate["checks"]}


# --- The PR comment ------------------------------------------------------------------------------

CML_COMMIT = "a3a66c74b218b08710f42bf599b066e37cb4cba7"  # v0.20.6, as comment.yml checks it out
CACHE = Path.home() / ".cache" / "ratchet-tests"


def cml_source() -> Path:
    """A clone of iterative/cml: $RATCHET_CML_GIT, or ~/.cache/ratchet-tests/cml.git."""
    return Path(os.environ.get("RATCHET_CML_GIT") or CACHE / "cml.git")


@pytest.fixture(scope="session")
def cml() -> Path:
    """CML 0.20.6 built as comment.yml builds it (its source at the pinned commit, then
    `make install-cml`), once, into ~/.cache/ratchet-tests/ under the committed lockfile's hash."""
    for tool in ("node", "npm", "git"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not on PATH: CML cannot be built here")
    source = cml_source()
    found = subprocess.run(
        ["git", f"--git-dir={source}", "cat-file", "-e", f"{CML_COMMIT}^{{commit}}"],
        capture_output=True,
    )
    if found.returncode != 0:
        pytest.skip(
            f"no clone of iterative/cml holding {CML_COMMIT[:12]} (v0.20.6) at {source}: "
            "clone it there, or name one in RATCHET_CML_GIT, to test with CML itself"
        )
    lock = hashlib.sha256((ROOT / ".github/cml/package-lock.json").read_bytes()).hexdigest()
    built = CACHE / f"cml-0.20.6-{lock[:12]}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "cml.lock").open("w") as guard:  # one build, however many test workers
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not (built / "node_modules").is_dir():
            building = built.with_name(built.name + ".building")
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            steps = [
                [
                    *("sh", "-c", 'git --git-dir="$0" archive "$1" | tar -x -C "$2"'),
                    *(str(source), CML_COMMIT, str(building)),
                ],
                ["make", "-s", "--no-print-directory", "install-cml", f"CML_DIR={building}"],
            ]
            for step in steps:
                result = subprocess.run(step, cwd=ROOT, capture_output=True, text=True)
                assert result.returncode == 0, f"{step}: {result.stdout}{result.stderr}"
            building.rename(built)
    return built / "bin" / "cml.js"


@pytest.fixture(params=["cml", "stand-in"])
def poster(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """What posts the comment: CML itself (where it can be built), or its stand-in."""
    if request.param == "cml":
        built: Path = request.getfixturevalue("cml")
        return built
    return stand_in(tmp_path / "stand-in")


def stand_in(folder: Path) -> Path:
    """The stand-in as an executable at FOLDER/bin/cml.js; it logs its calls to FOLDER/calls."""
    script = folder / "bin" / "cml.js"
    script.parent.mkdir(parents=True)
    stand_in = Path(__file__).with_name("cml_stand_in.py")
    script.write_text(
        f"#!{sys.executable}\nimport runpy, sys\nsys.argv[1:1] = [{str(folder / 'calls')!r}]\n"
        f"runpy.run_path({str(stand_in)!r}, run_name='__main__')\n"
    )
    script.chmod(0o755)
    return script
