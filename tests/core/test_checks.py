"""Data checks: broken data is refused before training and before it joins the training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ratchet.core import data
from ratchet.core.errors import RatchetError
from ratchet.core.schema import infer_schema
from ratchet.core.settings import ChecksParams, DataParams, Params, load_params
from ratchet.pipeline import stages
from tests.conftest import (
    CLASSIFICATION_DATA,
    REGRESSION_DATA,
    regression_frame,
    small_params,
)

REGRESSION = DataParams.model_validate(REGRESSION_DATA)
SOURCE = Path("data/table.csv")
LIMITS = ChecksParams(min_rows=100, max_null_share=0.05, target_min=-100, target_max=100)
SCHEMA = infer_schema(data.validate(regression_frame(), REGRESSION, SOURCE), REGRESSION)


def with_empty(frame: pd.DataFrame, column: str, rows: int) -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[: rows - 1, column] = np.nan
    return frame


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (regression_frame(rows=60), r"60 rows, fewer than checks.min_rows \(100\)"),
        (
            with_empty(regression_frame(), "size", 24),
            r"column 'size' is 10.0% empty, over checks.max_null_share \(5.0%\); "
            r"first at CSV line\(s\) 2, 3, 4, 5, 6 \.\.\.",
        ),
        (
            regression_frame().assign(price=lambda f: f["price"].where(f.index != 7, -500.0)),
            r"target 'price' is below checks.target_min \(-100\): -500 at CSV line\(s\) 9",
        ),
        (
            regression_frame().assign(price=lambda f: f["price"].where(f.index != 3, 1e6)),
            r"target 'price' is above checks.target_max \(100\): 1e\+06 at CSV line\(s\) 5",
        ),
    ],
    ids=["too-few-rows", "null-share", "target-below", "target-above"],
)
def test_quality_check_names_the_problem(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(RatchetError, match=message) as caught:
        data.check_quality(frame, REGRESSION, LIMITS, SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: ")
    assert str(caught.value).endswith("change the limits under checks: in params.yaml")


def test_quality_check_reports_every_problem_at_once() -> None:
    frame = with_empty(regression_frame(rows=60), "colour", 30)
    with pytest.raises(RatchetError) as caught:
        data.check_quality(frame, REGRESSION, LIMITS, SOURCE)
    assert "fewer than checks.min_rows" in str(caught.value)
    assert "column 'colour' is 50.0% empty" in str(caught.value)


def test_data_within_the_limits_passes() -> None:
    frame = with_empty(regression_frame(), "size", 12)  # 5.0%: at the limit, not over it
    imputing = REGRESSION.model_copy(update={"nulls": "impute"})
    data.check_quality(frame, imputing, LIMITS, SOURCE)
    data.check_batch(frame, SCHEMA, LIMITS, SOURCE)


def test_a_model_that_refuses_empty_values_is_not_trained_on_any() -> None:
    frame = with_empty(regression_frame(), "size", 2)
    with pytest.raises(
        RatchetError,
        match=r"column 'size' has empty values at CSV line\(s\) 2, 3, "
        r"and data.nulls is refuse: drop those rows, or set data.nulls: impute",
    ):
        data.check_quality(frame, REGRESSION, LIMITS, SOURCE)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            regression_frame().drop(columns="age").rename(columns={"colour": "color"}),
            r"lacks the feature column\(s\) 'age', 'colour' \(did you mean 'color'\?\) that the "
            r"model's schema \(artifacts/schema.json\) lists",
        ),
        (
            regression_frame().assign(age=lambda f: f["age"].astype(str) + " years"),
            r"column 'age' held integer values in training but holds string values now "
            r"\(e.g. '\d+ years'\)",
        ),
        (
            regression_frame().assign(
                colour=lambda f: f["colour"].map({"red": 1, "green": 2, "blue": 3})
            ),
            r"column 'colour' held string values in training but holds integer values now",
        ),
        (
            with_empty(regression_frame(), "age", 48),
            r"column 'age' is 20.0% empty, over checks.max_null_share",
        ),
    ],
    ids=["missing-columns", "number-became-text", "text-became-number", "null-share"],
)
def test_new_batch_is_checked_against_the_schema(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(RatchetError, match=message):
        data.check_batch(frame, SCHEMA, LIMITS, SOURCE)


def test_integers_turned_decimals_by_missing_values_are_no_type_change() -> None:
    frame = regression_frame()
    frame.loc[0, "age"] = np.nan  # the CSV reader turns the column into floats
    assert frame["age"].dtype == np.float64
    assert data.type_changes(frame, SCHEMA) == []


def test_batch_without_the_target_is_checked_on_its_features() -> None:
    data.check_batch(regression_frame().drop(columns="price"), SCHEMA, LIMITS, SOURCE)


def write_project(folder: Path, frame: pd.DataFrame, checks: dict[str, object]) -> None:
    (folder / "data").mkdir()
    frame.to_csv(folder / "data" / "table.csv", index=False)
    params = {**small_params(REGRESSION_DATA), "checks": checks}
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def test_prepare_refuses_broken_data_and_writes_nothing(in_tmp: Path) -> None:
    write_project(in_tmp, with_empty(regression_frame(), "size", 30), {"max_null_share": 0.1})
    with pytest.raises(RatchetError, match=r"column 'size' is 12.5% empty"):
        stages.prepare(load_params())
    assert not Path("artifacts").exists()


def test_prepare_applies_the_target_range(in_tmp: Path) -> None:
    write_project(in_tmp, regression_frame(), {"target_min": 0})
    with pytest.raises(RatchetError, match=r"target 'price' is below checks.target_min \(0\)"):
        stages.prepare(load_params())


def test_shipped_checks_section_is_a_dvc_param_of_prepare() -> None:
    from tests.conftest import ROOT

    prepare = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["prepare"]
    assert "checks" in prepare["params"]
    assert "checks" in yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"checks": {"target_min": 0}, "data": CLASSIFICATION_DATA},
            "checks.target_min/target_max apply to regression targets only",
        ),
        (
            {"monitor": {"columns": {"colour": {}, "hue": {"method": "psi"}}}},
            r"monitor.columns names \['hue'\], which are not features",
        ),
        ({"checks": {"max_null_share": 1.5}}, "checks.max_null_share"),
        ({"monitor": {"drift_share": 0}}, "monitor.drift_share"),
    ],
)
def test_params_refuse_checks_and_monitor_settings_that_cannot_apply(
    section: dict[str, object], message: str
) -> None:
    raw = {**small_params(REGRESSION_DATA), **section}
    with pytest.raises(ValueError, match=message):
        Params.model_validate(raw)
