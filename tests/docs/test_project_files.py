"""The files around the code a new user meets first: the licence, the commit hooks, the dev
container (its JSON against the Dev Container schema, and its post-create command run in a fresh
clone), and mypy's settings."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, ROOT

DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
SCHEMA = Path(__file__).parent / "schemas" / "devContainer.base.schema.json"


def test_the_licence_is_the_one_pyproject_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    licence = (ROOT / "LICENSE").read_text().splitlines()
    assert project["license"] == "MIT" and licence[0] == "MIT License"
    assert "Copyright (c) 2026 The Ratchet contributors" in licence


def test_mypy_skips_only_packages_that_src_never_imports() -> None:
    """mypy follows no import into the packages pyproject.toml lists with `follow_imports =
    "skip"`: code in src/ that imported one would be checked against Any."""
    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    skipped = {
        module.removesuffix(".*")
        for override in overrides
        if override.get("follow_imports") == "skip"
        for module in override["module"]
    }
    assert "sqlalchemy" in skipped  # really read
    imported = set()
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert "mlflow" in imported
    assert sorted(skipped & imported) == []


def test_the_commit_hooks_run_offline_from_the_lock() -> None:
    """Every hook is local: pre-commit clones no repository to read the config. The hooks that
    run on a commit use .venv's tools; the one that downloads its binary runs only on request."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    for hook in config["repos"][0]["hooks"]:
        if hook["language"] != "system":
            assert hook["stages"] == ["manual"], hook["id"]
        else:
            assert hook["entry"].startswith(".venv/bin/"), hook["id"]
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    assert any(str(package).startswith("pre-commit>=") for package in dev)


def test_pre_commit_reads_the_config_and_runs_a_hook(tmp_path: Path) -> None:
    result = subprocess.run(
        [BIN / "pre-commit", "run", "zizmor", "--all-files"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PRE_COMMIT_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout


def test_the_devcontainer_follows_the_dev_container_schema() -> None:
    result = subprocess.run(
        [BIN / "check-jsonschema", "--schemafile", SCHEMA, DEVCONTAINER],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    container = json.loads(DEVCONTAINER.read_text())
    # the Python pyproject.toml requires, and the Makefile's own install
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11,<3.12" and ":1-3.11-" in container["image"]
    assert container["postCreateCommand"] == "make install"


def uv_on_path() -> str:
    """The directory of this machine's uv, so that the clone's install needs no download of it."""
    uv = shutil.which("uv") or shutil.which("uv", path=str(ROOT / ".tools" / "bin"))
    if uv is None:
        pytest.skip("no uv on PATH or in .tools/bin: run `make install` once")
    return str(Path(uv).parent)


@pytest.mark.slow
def test_the_post_create_command_sets_up_a_fresh_clone(tmp_path: Path) -> None:
    """What `make run` then does is the pipeline's own end-to-end tests' business."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", ROOT, clone], check=True)
    command = json.loads((clone / ".devcontainer" / "devcontainer.json").read_text())
    env = {**os.environ, "PATH": f"{uv_on_path()}:/usr/local/bin:/usr/bin:/bin"}
    env.pop("VIRTUAL_ENV", None)
    created = subprocess.run(
        ["bash", "-c", command["postCreateCommand"]],
        cwd=clone,
        capture_output=True,
        text=True,
        env=env,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    for tool in ("python", "dvc", "mlflow", "bentoml", "pytest"):
        assert (clone / ".venv" / "bin" / tool).exists(), tool
    # The project is installed, with what reads params.yaml. (An import of scikit-learn or DVC
    # here would spend seconds compiling them in the new .venv, and prove nothing more.)
    imported = subprocess.run(
        [clone / ".venv" / "bin" / "python", "-c", "import ratchet.core.settings"],
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True)
    assert status.stdout == b""  # setting up writes nothing git would see
