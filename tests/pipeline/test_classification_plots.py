"""docs/pipeline.md's plots for a classification task are the files evaluate writes for one:
with them in dvc.yaml, `dvc plots show` draws each and fails to load none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    CLASSIFICATION_DATA,
    ROOT,
    classification_frame,
    make_project,
    small_params,
)

pytestmark = pytest.mark.slow


def documented_plots() -> list[dict[str, object]]:
    """The YAML block under "## Plots" in docs/pipeline.md."""
    section = (ROOT / "docs/pipeline.md").read_text().split("\n## Plots\n", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert block is not None
    plots: list[dict[str, object]] = yaml.safe_load(block.group(1))["plots"]
    return plots


def test_the_documented_classification_plots_are_what_evaluate_writes(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    dvc_yaml = yaml.safe_load(project.read("dvc.yaml"))
    dvc_yaml["plots"] = documented_plots()
    (project.path / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    project.write_data(classification_frame())
    project.set_params(small_params(CLASSIFICATION_DATA))
    project.dvc("add", "-q", "data")
    project.repro()

    result = project.run("dvc", "plots", "show", "--out", str(tmp_path / "plots"))
    assert "failed to load" not in result.stdout + result.stderr
    page = (tmp_path / "plots/index.html").read_text()
    assert set(re.findall(r'<div id = "(\w+)">', page)) == {"confusion_matrix", "ROC"}
