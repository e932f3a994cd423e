"""What DVC records: read from the project's own dvc.yaml."""

from __future__ import annotations

from ratchet.core.dvc import committed_outputs
from tests.conftest import ROOT


def test_the_outputs_left_to_git_come_from_dvc_yaml() -> None:
    outputs = committed_outputs(ROOT / "dvc.yaml")
    assert {"reports/metrics.json", "reports/plots"} <= set(outputs)
    assert "artifacts/model.joblib" not in outputs and "artifacts/split" not in outputs
