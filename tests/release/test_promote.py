"""`python -m ratchet promote` against a real `mlflow server` on loopback: register the run's
model, move the alias on each release, and move it back for a rollback."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import joblib
import pandas as pd
import pytest

from tests.conftest import REGRESSION_DATA, Project, regression_frame, train_workspace
from tests.servers import mlflow_server as run_mlflow_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlflow_server(
    tmp_path_factory: pytest.TempPathFactory, empty_mlflow_store: Path
) -> Iterator[str]:
    with run_mlflow_server(tmp_path_factory.mktemp("mlflow"), empty_mlflow_store) as url:
        yield url


def trained_and_logged(workspace: Path, estimator: str) -> str:
    """Train in `workspace` and log the run as `dvc repro` would; returns the model's sha256."""
    from ratchet.pipeline import tracking

    train_workspace(workspace, REGRESSION_DATA, regression_frame(), estimator=estimator)
    sha256 = hashlib.sha256((workspace / "artifacts/model.joblib").read_bytes()).hexdigest()
    with contextlib.chdir(workspace):
        model = joblib.load("artifacts/model.joblib")
        example = pd.read_parquet("artifacts/split/test.parquet")[["size", "age", "colour"]]
        tracking.log_training_run(
            model=model,
            params={"train.estimator": estimator},
            scores={"rmse": 1.0},
            example=example.head(3),
            tags={"model_sha256": sha256},
            plots={},
        )
    return sha256


def promote(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ratchet promote ARGS` in `workspace`, in this process (the last test runs the
    command in its own)."""
    return Project(workspace).here("promote", *args)


def registry(url: str) -> dict[str, object]:
    """The registered model as the server holds it."""
    from mlflow import MlflowClient

    client = MlflowClient(url)
    alias = client.get_model_version_by_alias("ratchet", "production")
    versions = client.search_model_versions("name = 'ratchet'")
    return {"version": alias.version, "tags": alias.tags, "count": len(versions)}


def test_releases_move_the_alias_and_a_rollback_moves_it_back(
    mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    first, second = tmp_path / "v1.0.0", tmp_path / "v1.1.0"
    first_sha = trained_and_logged(first, "hist_gradient_boosting")
    second_sha = trained_and_logged(second, "ridge")

    released = promote(first, "--release", "v1.0.0")
    assert released.returncode == 0, released.stderr
    assert "ratchet version 1 (run " in released.stdout and "@production (new alias)" in (
        released.stdout
    )
    state = registry(mlflow_server)
    assert state["version"] == "1" and state["count"] == 1
    assert state["tags"] == {"release": "v1.0.0", "model_sha256": first_sha}

    # The workflow's way: the model named by its sha256, from a checkout without the model file.
    elsewhere = tmp_path / "checkout"
    elsewhere.mkdir()
    released = promote(elsewhere, "--release", "v1.1.0", "--model-sha256", second_sha)
    assert released.returncode == 0, released.stderr
    assert "version 2" in released.stdout and "(was 1)" in released.stdout
    assert registry(mlflow_server)["version"] == "2"

    rollback = promote(first)
    assert rollback.returncode == 0, rollback.stderr
    assert "version 1" in rollback.stdout and "(was 2)" in rollback.stdout
    state = registry(mlflow_server)
    assert state["version"] == "1" and state["count"] == 2  # no new version for the same model

    again = promote(first)
    assert "(already)" in again.stdout


def test_a_model_no_run_logged_is_not_promoted(
    mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    result = Project(tmp_path).ratchet("promote", "--model-sha256", "0" * 64, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: no MLflow run in {mlflow_server} logged the model with sha256 000000000000: "
    )
