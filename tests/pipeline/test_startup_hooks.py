"""No Python startup hook from the checkout runs inside the check: the CI install puts Ratchet in
site-packages (`--no-editable`), so src/ is never on sys.path, and the reproduction refuses the
hooks by name. Installed here as the PR check installs it, from the lock, into a venv of its own."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REGRESSION_DATA, ROOT, make_project, regression_frame, small_params

pytestmark = pytest.mark.slow

HOOK = "import pathlib; pathlib.Path({marker!r}).write_text('imported')\n"


def test_hooks_a_pull_request_adds_are_never_imported_and_are_refused(tmp_path: Path) -> None:
    uv = shutil.which("uv") or ROOT / ".tools/bin/uv"
    if not Path(uv).is_file():
        pytest.skip("uv is neither on PATH nor in .tools/bin: `make install` puts it there")
    project = make_project(tmp_path / "project", with_make=True)
    (project.path / ".venv").unlink()  # not this repository's venv: the job's own
    shutil.copy2(ROOT / "README.md", project.path)  # the package's metadata reads it
    project.write_data(regression_frame())
    project.set_params(small_params(REGRESSION_DATA))
    project.dvc("add", "-q", "data")
    markers = {name: tmp_path / f"{name}-ran" for name in ("sitecustomize", "usercustomize", "pth")}
    (project.path / "src/sitecustomize.py").write_text(
        HOOK.format(marker=str(markers["sitecustomize"]))
    )
    (project.path / "src/usercustomize.py").write_text(
        HOOK.format(marker=str(markers["usercustomize"]))
    )
    (project.path / "src/ratchet.pth").write_text(HOOK.format(marker=str(markers["pth"])))
    # a module at the root, where `python -m` would look first without PYTHONSAFEPATH
    markers["root-module"] = tmp_path / "root-module-ran"
    (project.path / "yaml.py").write_text(HOOK.format(marker=str(markers["root-module"])))
    project.commit("a project whose pull request adds start-up hooks")
    env = {
        "PATH": f"{Path(uv).parent}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": "",
        "UV_PROJECT_ENVIRONMENT": "",
    }
    project.run("make", "install-pipeline", env=env)

    # as the workflow's step runs it: the job's .venv/bin first on PATH (the setup action), and
    # the job's PYTHONSAFEPATH (pr.yml)
    env["PATH"] = f"{project.path / '.venv/bin'}{os.pathsep}{env['PATH']}"
    env["PYTHONSAFEPATH"] = "1"
    result = project.run("python", "-m", "ratchet", "reproduce", env=env, check=False)
    assert result.returncode != 0
    assert "refused before anything ran: src/ratchet.pth, src/sitecustomize.py, " in result.stdout
    assert "src/usercustomize.py: Python startup hooks" in result.stdout
    assert [name for name, marker in markers.items() if marker.exists()] == []
