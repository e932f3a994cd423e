"""What DVC records: read from the project's own dvc.yaml, and checked against the bytes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from ratchet.core.dvc import committed_outputs, verify_tracked
from ratchet.core.errors import RatchetError
from tests.conftest import ROOT, Project


def test_the_outputs_left_to_git_come_from_dvc_yaml() -> None:
    outputs = committed_outputs(ROOT / "dvc.yaml")
    assert {"reports/metrics.json", "reports/plots"} <= set(outputs)
    assert "artifacts/model.joblib" not in outputs and "artifacts/split" not in outputs


def test_pulled_data_is_rehashed_against_its_dvc_file(project: Project) -> None:
    """What `dvc add` recorded is what dvc_md5 computes from the bytes; other bytes under the
    same names fail, naming the file."""
    with contextlib.chdir(project.path):
        verify_tracked(Path("data.dvc"))
        table = Path("data/table.csv")
        table.chmod(0o644)
        table.write_text(table.read_text().replace("red", "blue", 1))
        with pytest.raises(RatchetError, match=r"data does not hash .* data/table.csv changed"):
            verify_tracked(Path("data.dvc"))
        Path("data/extra.csv").write_text("a\n1\n")
        with pytest.raises(RatchetError, match=r"data/extra.csv, data/table.csv changed"):
            verify_tracked(Path("data.dvc"))
