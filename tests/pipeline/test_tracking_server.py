"""Against one real `mlflow server` on loopback, started once for these tests: the evaluate stage
logs its run there, and `python -m ratchet promote` registers the run's model and moves the
alias on each release, and back for a rollback. Each test has its own experiment (and registered
model)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import joblib
import mlflow
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from ratchet.core.settings import flatten, load_params
from tests.conftest import REGRESSION_DATA, Project, regression_frame, train_workspace
from tests.servers import mlflow_server as run_mlflow_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlflow_server(
    tmp_path_factory: pytest.TempPathFactory, empty_mlflow_store: Path
) -> Iterator[str]:
    with run_mlflow_server(tmp_path_factory.mktemp("mlflow"), empty_mlflow_store) as url:
        yield url


@pytest.mark.usefixtures("tracking")
def test_training_logs_the_run_to_the_server(
    project: Project, mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = project.git("rev-parse", "HEAD")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "training")
    project.repro(tracking="on")  # the stages as `dvc repro` runs them (tests/pipeline/test_repro)
    summary = project.here("summary")
    run_id = summary.stdout.split("MLflow: run ")[1].split()[0]

    mlflow.set_tracking_uri(mlflow_server)
    run = MlflowClient().get_run(run_id)
    inputs = mlflow.models.get_model_info(f"runs:/{run_id}/model").signature.inputs
    metrics = json.loads(project.read("reports/metrics.json"))
    assert run.data.metrics == pytest.approx(metrics)
    assert run.data.params["train.estimator"] == "hist_gradient_boosting"
    assert run.data.tags["git_commit"] == commit
    assert run.data.tags["data_md5"] == yaml.safe_load(project.read("data.dvc"))["outs"][0]["md5"]
    assert inputs.input_names() == ["size", "age", "colour"]
    assert not (project.path / "mlruns").exists()  # nothing went to the local store

    # What a reviewer opens in `make ui`: the source commit, every param, plots, the data profile.
    assert run.data.tags["mlflow.source.git.commit"] == commit
    assert run.data.tags["git_dirty"] == "false"
    params = flatten(load_params(project.path / "params.yaml").model_dump(mode="json"))
    assert run.data.params == {name: str(value) for name, value in params.items()}
    client = MlflowClient()
    listed = {a.path for folder in ("plots", "data") for a in client.list_artifacts(run_id, folder)}
    assert listed == {
        "plots/residuals.png",
        "plots/predicted_vs_actual.png",
        "data/summary.json",
        "data/features.json",
    }
    residuals = Path(client.download_artifacts(run_id, "plots/residuals.png", str(tmp_path)))
    assert residuals.read_bytes().startswith(b"\x89PNG\r\n")
    summary = client.download_artifacts(run_id, "data/summary.json", str(tmp_path))
    assert json.loads(Path(summary).read_text()) == json.loads(project.read("reports/data.json"))
    features = client.load_table(run.info.experiment_id, "data/features.json", run_ids=[run_id])
    assert features[["feature", "kind", "categories"]].to_dict("records") == [
        {"feature": "size", "kind": "numeric", "categories": ""},
        {"feature": "age", "kind": "numeric", "categories": ""},
        {"feature": "colour", "kind": "categorical", "categories": "blue, green, red"},
    ]


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
