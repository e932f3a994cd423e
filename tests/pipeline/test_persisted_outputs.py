"""DVC keeps the stages' output folders as they were while a stage runs (`persist: true`), so each
stage, once it has written its outputs, drops what it did not write: a stray file never reaches
dvc.lock as part of a reproduced output."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.core.settings import load_params
from ratchet.pipeline import stages
from tests.conftest import REGRESSION_DATA, regression_frame, small_params
from tests.pipeline.test_stages import setup


def test_a_stage_leaves_only_what_it_wrote_in_its_output_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    setup(tmp_path, regression_frame(), small_params(REGRESSION_DATA))
    params = load_params()
    stages.prepare(params)
    stages.train(params)
    stages.evaluate(params)
    for stray in ["artifacts/split/old.parquet", "reports/plots/roc.csv", "reports/plots/a/b.txt"]:
        Path(stray).parent.mkdir(parents=True, exist_ok=True)
        Path(stray).write_text("not written by the stage\n")

    stages.prepare(params)
    stages.evaluate(params)
    assert sorted(path.name for path in Path("artifacts/split").iterdir()) == [
        "test.parquet",
        "train.parquet",
    ]
    assert [path.name for path in Path("reports/plots").iterdir()] == ["predictions.csv"]
