"""`dvc repro` end to end in a temporary git repository."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.conftest import Project

pytestmark = pytest.mark.slow


def model_hash(project: Project) -> str:
    return hashlib.sha256((project.path / "artifacts/model.joblib").read_bytes()).hexdigest()


def test_repro_runs_every_stage_then_nothing(project: Project) -> None:
    first = project.run("dvc", "repro")
    for stage in ("prepare", "train", "evaluate"):
        assert f"Running stage '{stage}'" in first.stdout
    metrics = json.loads(project.read("reports/metrics.json"))
    assert set(metrics) == {"rmse", "mae", "r2"}
    assert metrics["r2"] > 0.8  # the fixture's target is a near-linear function of its features

    second = project.run("dvc", "repro")
    assert "Running stage" not in second.stdout
    assert "Data and pipelines are up to date" in second.stdout


def test_forced_repro_is_deterministic(project: Project) -> None:
    project.run("dvc", "repro", "--force")
    first = (project.read("reports/metrics.json"), model_hash(project))
    project.run("dvc", "repro", "--force")
    assert (project.read("reports/metrics.json"), model_hash(project)) == first
