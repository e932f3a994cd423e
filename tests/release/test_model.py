"""`python -m ratchet pull-model`, the release's first step, in fresh clones of a trained
repository: it fetches what dvc.lock names, retrains only what the DVC remote lacks, and refuses
a lock that retraining cannot reproduce."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from tests.conftest import REGRESSION_DATA, Project, make_project, regression_frame, small_params
from tests.stand_ins import actions_env

pytestmark = pytest.mark.slow


def clone(origin: Project, path: Path) -> Project:
    origin.run("git", "clone", "-q", str(origin.path), str(path))
    return Project(path)


def test_pull_model_fetches_or_retrains_exactly_what_dvc_lock_names(tmp_path: Path) -> None:
    origin = make_project(tmp_path / "origin")
    origin.write_data(regression_frame())
    origin.set_params(small_params(REGRESSION_DATA))
    origin.run("dvc", "add", "-q", "data")
    origin.run("dvc", "push", "-q")  # the data only: nothing is trained yet
    origin.run("dvc", "repro")
    origin.commit("trained")
    model = (origin.path / "artifacts/model.joblib").read_bytes()
    sha256 = hashlib.sha256(model).hexdigest()

    # The remote lacks the outputs: the clone retrains, and gets the very model dvc.lock names.
    first = clone(origin, tmp_path / "first")
    result = first.ratchet("pull-model", env=actions_env(tmp_path / "runner"))
    assert "Running stage 'train'" in result.stdout
    assert (first.path / "artifacts/model.joblib").read_bytes() == model
    assert (tmp_path / "runner/output.txt").read_text() == f"model-sha256={sha256}\n"
    assert first.git("status", "--porcelain") == ""

    # Once pushed, a clone fetches them and retrains nothing.
    origin.run("dvc", "push", "-q")
    second = clone(origin, tmp_path / "second")
    result = second.ratchet("pull-model")
    assert "Running stage" not in result.stdout
    assert f"(model sha256 {sha256})" in result.stdout

    # A dvc.lock naming a model that neither the remote has nor training makes is refused.
    lock = yaml.safe_load(second.read("dvc.lock"))
    for out in lock["stages"]["train"]["outs"]:
        out["md5"] = "0" * 32
    (second.path / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    second.commit("a lock no training reproduces")
    refused = second.ratchet("pull-model", check=False)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1].startswith(
        "error: `dvc repro` changed dvc.lock: the outputs this commit names are not in the DVC "
        "remote and retraining made different ones"
    )
