"""The PR comment's fixtures: CML built as the workflow builds it, and a stand-in for CML where it
cannot be built. The fake GitHub API they post to is `tests/fake_github.py`."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

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
