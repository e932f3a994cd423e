"""`python -m ratchet params` refuses, before any stage runs, what the stages would refuse: a
column the data lacks, an estimator or hyperparameter the recipe does not know; it names the
field, suggests the fix, and says when the data is not here to check.

Each refusal is checked in this process (`Project.here`); the command itself runs as a user runs
it in the last test."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REGRESSION_DATA, Project, regression_frame, small_params


def changed(section: str, **values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda params: params[section].update(values)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            changed("data", target="prise"),
            "params.yaml: data.target names column 'prise', which data/table.csv does not have "
            "(did you mean 'price'?)",
        ),
        (
            changed("data", numeric=["size", "ages"]),
            "data.numeric names column 'ages', which data/table.csv does not have (did you "
            "mean 'age'?)",
        ),
        (
            changed("split", time_column="wehn"),
            "split.time_column 'wehn' is not a column of the data (did you mean 'when'?)",
        ),
        (
            changed("train", hyperparameters={"max_iterations": 30}),
            "train.hyperparameters ['max_iterations'] are not parameters of "
            "HistGradientBoostingRegressor (did you mean 'max_iter'?)",
        ),
        (changed("train", estimator="ridge_regression"), "train.estimator 'ridge_regression'"),
    ],
    ids=["target", "feature", "time-column", "hyperparameter", "estimator"],
)
def test_params_names_the_field_at_fault_and_suggests_the_fix(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], said: str
) -> None:
    params = small_params(REGRESSION_DATA)
    change(params)
    folder = Project(tmp_path)  # params.yaml and the data are all the command reads
    folder.set_params(params)
    folder.write_data(regression_frame())
    result = folder.here("params")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and said in result.stderr
    assert result.stderr.count("\n") == 1


def test_params_checks_the_data_when_it_is_here_and_says_when_it_is_not(project: Project) -> None:
    here = project.here("params")
    assert json.loads(here.stdout)["data"]["target"] == "price"
    assert "data/table.csv has the columns and values it names" in here.stderr

    (project.path / "data/table.csv").unlink()  # as on a clone before `dvc pull`
    missing = project.here("params")
    assert json.loads(missing.stdout) == json.loads(here.stdout)
    assert "data/table.csv is not here, so the columns it names were not checked" in (
        missing.stderr
    )
    assert "dvc pull data.dvc" in missing.stderr
