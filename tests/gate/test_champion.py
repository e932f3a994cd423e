"""A commit's files and model in a real git repository, when the base's files are broken."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from ratchet.gate.champion import find_model
from ratchet.gate.revision import Revision
from tests.conftest import REGRESSION_DATA, small_params


def base_commit(folder: Path, params: str, lock: str) -> None:
    """A git repository whose HEAD holds these params.yaml and dvc.lock texts."""
    (folder / "params.yaml").write_text(params)
    (folder / "dvc.lock").write_text(lock)
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
    ):
        subprocess.run(command, cwd=folder, check=True)


def test_a_broken_base_params_yaml_has_no_data_section(in_tmp: Path) -> None:
    base_commit(in_tmp, "data: [unclosed", "schema: '2.0'\n")
    assert Revision.read("HEAD").data is None


def test_a_broken_base_lock_gives_no_champion(in_tmp: Path) -> None:
    base_commit(in_tmp, yaml.safe_dump(small_params(REGRESSION_DATA)), "stages: {prepare: [")
    base = Revision.read("HEAD")
    assert base.data is not None and base.model_md5 is None  # no model: a bootstrap
    champion = find_model(base)
    assert champion.model is None
    assert champion.source == f"the dvc.lock of {base.short} names no artifacts/model.joblib"
