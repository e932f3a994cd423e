"""The comment preview that docs/gate.md documents, run on what a real `make pr-check` wrote."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Project

pytestmark = pytest.mark.slow


def documented_preview() -> list[str]:
    """The preview command of docs/gate.md's "Run the check locally", for the local check."""
    lines = (ROOT / "docs/gate.md").read_text().splitlines()
    command = next(line for line in lines if line.strip() == "python -m ratchet comment --dry-run")
    program, *args = shlex.split(command)
    assert program == "python"
    return [sys.executable, *args]


def test_the_documented_preview_works_on_a_local_pr_checks_output(
    main_with_a_model: Path, tmp_path: Path
) -> None:
    checked = main_with_a_model / "project/reports/pr"  # its first model's `make pr-check`
    shutil.copytree(checked, tmp_path / "reports/pr")
    result = Project(tmp_path).run(*documented_preview(), env={"GITHUB_ACTIONS": "false"})
    report = (checked / "report.md").read_text()
    assert report.splitlines()[0] in result.stdout  # the report, made inert, in the comment
    assert result.stdout.startswith("**`metrics-gate`: ⚠️ unknown**")
    assert "holds `gate.json`, `report.md`, `reproduced/`, `reproduction.json`." in result.stdout
