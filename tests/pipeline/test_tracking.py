"""Training against a real `mlflow server` on loopback, and reading the run back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from ratchet.core.settings import flatten, load_params
from tests.conftest import Project
from tests.servers import mlflow_server as run_mlflow_server

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tracking")]


@pytest.fixture
def mlflow_server(tmp_path: Path, empty_mlflow_store: Path) -> Iterator[str]:
    with run_mlflow_server(tmp_path / "mlflow", empty_mlflow_store) as url:
        yield url


def test_training_logs_the_run_to_the_server(
    project: Project, mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = project.git("rev-parse", "HEAD")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
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
