"""Telemetry is off in what the template runs: DVC's analytics by the project's .dvc/config (the
monitor's own run is checked in test_drift.py: no connection, no program started)."""

from __future__ import annotations

import subprocess

from tests.conftest import BIN, ROOT


def test_dvc_analytics_are_off_in_the_project_config() -> None:
    value = subprocess.run(
        [str(BIN / "dvc"), "config", "--project", "core.analytics"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert value.strip() == "false"
