"""Reading, validating and splitting the raw CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ratchet.core import data
from ratchet.core.errors import RatchetError
from ratchet.core.schema import DataSchema, infer_schema
from ratchet.core.settings import DataParams, SplitParams
from tests.conftest import (
    CLASSIFICATION_DATA,
    REGRESSION_DATA,
    classification_frame,
    regression_frame,
)

REGRESSION = DataParams.model_validate(REGRESSION_DATA)
CLASSIFICATION = DataParams.model_validate(CLASSIFICATION_DATA)
SOURCE = Path("data/table.csv")


def test_read_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(RatchetError, match="dvc pull.*or set data.path in params.yaml"):
        data.read_csv(tmp_path / "missing.csv")
    with pytest.raises(RatchetError, match="or set monitor.current in params.yaml"):
        data.read_csv(tmp_path / "missing.csv", "monitor.current")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(RatchetError, match="is empty"):
        data.read_csv(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(RatchetError, match="no data rows"):
        data.read_csv(tmp_path / "header.csv")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n1,2,3,4\n")
    with pytest.raises(RatchetError, match="not a readable CSV"):
        data.read_csv(tmp_path / "ragged.csv")


def test_truncated_csv_is_caught_by_the_empty_target(tmp_path: Path) -> None:
    text = regression_frame().to_csv(index=False)
    cut = text[: text.rindex("\n", 0, len(text) - 1) + 6]  # the last row cut after a few bytes
    (tmp_path / "table.csv").write_text(cut)
    frame = data.read_csv(tmp_path / "table.csv")
    with pytest.raises(RatchetError, match=r"target 'price' is empty at CSV line\(s\) 241"):
        data.validate(frame, REGRESSION, SOURCE)


def test_missing_column_suggests_the_close_one() -> None:
    frame = regression_frame().rename(columns={"colour": "color"})
    with pytest.raises(
        RatchetError, match=r"data.categorical names column 'colour'.*did you mean 'color'"
    ):
        data.validate(frame, REGRESSION, SOURCE)


def test_non_numeric_values_in_a_numeric_column() -> None:
    frame = regression_frame()
    frame["size"] = frame["size"].astype(object)
    frame.loc[7, "size"] = "big"
    with pytest.raises(
        RatchetError, match=r"'size'.*non-numeric values \('big' at CSV line\(s\) 9\)"
    ):
        data.validate(frame, REGRESSION, SOURCE)


def test_target_must_suit_the_task() -> None:
    with pytest.raises(RatchetError, match="not numeric, but data.task is regression"):
        data.validate(classification_frame().rename(columns={"label": "price"}), REGRESSION, SOURCE)
    single = classification_frame().assign(label="high")
    with pytest.raises(RatchetError, match="single class"):
        data.validate(single, CLASSIFICATION, SOURCE)


def test_validate_keeps_only_target_and_features() -> None:
    frame = data.validate(regression_frame(), REGRESSION, SOURCE)
    assert list(frame.columns) == ["price", "size", "age", "colour"]


def test_time_split_holds_out_the_latest_rows() -> None:
    raw = regression_frame().sample(frac=1.0, random_state=3)  # file order is not time order
    frame = data.validate(raw, REGRESSION, SOURCE)
    params = SplitParams(method="time", time_column="when", test_size=0.25)
    train, test = data.split(frame, raw, params, "regression", "price")
    assert (len(train), len(test)) == (180, 60)
    latest = set(raw.loc[raw["when"] >= 180, "price"])
    assert set(test["price"]) == latest


def test_random_split_is_seeded() -> None:
    raw = regression_frame()
    frame = data.validate(raw, REGRESSION, SOURCE)
    params = SplitParams(method="random", test_size=0.2, seed=5)
    first = data.split(frame, raw, params, "regression", "price")
    again = data.split(frame, raw, params, "regression", "price")
    other = data.split(frame, raw, params.model_copy(update={"seed": 6}), "regression", "price")
    pd.testing.assert_frame_equal(first[1], again[1])
    assert not first[1].equals(other[1])


def test_split_that_empties_a_side() -> None:
    raw = regression_frame(rows=3)
    frame = data.validate(raw, REGRESSION, SOURCE)
    with pytest.raises(RatchetError, match="leaves the training set empty"):
        data.split(frame, raw, SplitParams(method="random", test_size=0.9), "regression", "price")


def test_time_column_must_exist() -> None:
    raw = regression_frame()
    frame = data.validate(raw, REGRESSION, SOURCE)
    params = SplitParams(method="time", time_column="wen", test_size=0.25)
    with pytest.raises(RatchetError, match="did you mean 'when'"):
        data.split(frame, raw, params, "regression", "price")


def test_schema_describes_each_feature() -> None:
    schema = infer_schema(
        data.validate(classification_frame(), CLASSIFICATION, SOURCE), CLASSIFICATION
    )
    kinds = {feature.name: (feature.kind, feature.dtype) for feature in schema.features}
    assert kinds == {
        "size": ("numeric", "number"),
        "age": ("numeric", "integer"),
        "colour": ("categorical", "string"),
    }
    assert schema.features[2].categories == ["blue", "green", "red"]
    assert schema.classes == ["high", "low"]


@pytest.mark.parametrize("text", ["{not json", '{"features": "none"}', ""])
def test_a_corrupt_schema_file_names_the_fix(tmp_path: Path, text: str) -> None:
    (tmp_path / "schema.json").write_text(text)
    with pytest.raises(RatchetError, match=r"schema.json is corrupt .*dvc repro --force prepare"):
        DataSchema.load(tmp_path / "schema.json")
