"""Training against a real `mlflow server` on loopback, and reading the run back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from tests.conftest import Project
from tests.servers import mlflow_server as run_mlflow_server

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tracking")]


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    with run_mlflow_server(tmp_path / "mlflow") as url:
        yield url


def test_repro_logs_the_run_to_the_server(project: Project, mlflow_server: str) -> None:
    commit = project.git("rev-parse", "HEAD")
    project.run("dvc", "repro", env={"MLFLOW_TRACKING_URI": mlflow_server})
    summary = project.ratchet("summary", env={"MLFLOW_TRACKING_URI": mlflow_server})
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
