"""Training against a real `mlflow server` on loopback, and reading the run back."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from tests.conftest import BIN, Project

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path}/server.db",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


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
