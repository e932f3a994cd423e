"""`make run` (`dvc pull`, `dvc repro`, the MLflow run) end to end on a fresh clone."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import (
    MAKE_FILES,
    REGRESSION_DATA,
    ROOT,
    Project,
    make_project,
    regression_frame,
    small_params,
)

pytestmark = pytest.mark.slow


def test_make_run_on_a_fresh_clone_reproduces_and_logs_the_run(
    tmp_path: Path, tracking: None
) -> None:
    upstream = make_project(tmp_path / "upstream")
    for name in [*MAKE_FILES, ".gitignore"]:  # the MLflow store in mlruns/ stays out of git
        shutil.copy2(ROOT / name, upstream.path / name)
    upstream.write_data(regression_frame())
    upstream.set_params(small_params(REGRESSION_DATA))
    upstream.dvc("add", "-q", "data")
    upstream.repro()  # logs no run: the clone's is the one
    upstream.dvc("push", "-q", "data.dvc")  # like the demo remote: the data, no outputs
    upstream.commit("trained")
    subprocess.run(["git", "clone", "-q", upstream.path, tmp_path / "clone"], check=True)
    clone = Project(tmp_path / "clone")
    (clone.path / ".venv").symlink_to(ROOT / ".venv")

    first = clone.run("make", "--assume-old=.venv/.installed", "run")
    # The stages' outputs are in no cache here, so prepare and train run. evaluate's outputs are
    # in git and its deps unchanged (train made the same model), so dvc skips it; summary finds
    # no run of this model in the clone's new MLflow store, and evaluate runs again to log one.
    for stage in ("prepare", "train"):
        assert f"Running stage '{stage}'" in first.stdout
    assert "Stage 'evaluate' didn't change, skipping" in first.stdout
    assert "dvc restored it rather than ran evaluate" in first.stdout
    assert "Running stage 'evaluate'" in first.stdout
    metrics = json.loads(clone.read("reports/metrics.json"))
    assert set(metrics) == {"rmse", "mae", "r2"}
    assert metrics["r2"] > 0.8  # the fixture's target is a near-linear function of its features
    assert clone.read("reports/metrics.json") == upstream.read("reports/metrics.json")
    assert "MLflow: run " in first.stdout and (clone.path / "mlruns/mlflow.db").is_file()

    # Run again, `make run` would find nothing to do: DVC sees every stage up to date, and
    # summary finds the run logged above, so evaluate does not run again to log another.
    clone.dvc("status", "--quiet")  # exits 1, and fails the test, on any change
    again = clone.here("summary")
    assert again.returncode == 0, again.stdout + again.stderr
    logged = first.stdout.split("MLflow: run ")[1].split()[0]
    assert again.stdout.split("MLflow: run ")[1].split()[0] == logged
