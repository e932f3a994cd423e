"""`make monitor` in a project: drift is a finding the command prints, not a failure of make's;
an error still fails. The workflow's `make check-drift` is untouched: there the verdict is a step
output (test_drift.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REGRESSION_DATA, make_project, regression_frame, small_params
from tests.monitor.test_drift import REFERENCE, shifted

pytestmark = pytest.mark.slow


def test_make_monitor_says_drift_without_a_make_error(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", with_make=True)
    project.write_data(REFERENCE)
    project.set_params({**small_params(REGRESSION_DATA), "monitor": {"current": "recent.csv"}})
    project.dvc("add", "-q", "data")
    project.commit("a small regression project")
    make = ("make", "--no-print-directory", "--assume-old=.venv/.installed", "monitor")

    shifted().to_csv(project.path / "recent.csv", index=False)
    drift = project.run(*make)
    assert "monitor: compared 300 rows of the CSV at recent.csv (monitor.current" in drift.stdout
    assert "monitor: drift found, so the exit code is 3: a finding, not an error" in drift.stdout
    assert "Error" not in drift.stderr

    regression_frame(rows=300, seed=3).drop(columns="age").to_csv(project.path / "recent.csv")
    broken = project.run(*make, check=False)
    assert broken.returncode != 0
    assert "lacks the feature column(s) 'age'" in broken.stderr
    assert "Error 1" in broken.stderr
