"""New training data: the rows `new_rows` (src/ratchet/sources.py) returns, checked once and
appended; the demo's months roll forward only once a month is added."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from ratchet.core.errors import RatchetError
from ratchet.core.settings import load_params
from ratchet.monitor.refresh import refresh
from tests.conftest import REGRESSION_DATA, regression_frame, small_params


@pytest.fixture
def demo_layout(in_tmp: Path) -> Path:
    """The demo's data layout on the small dataset: training rows, a current batch, two more."""
    frame = regression_frame(rows=400)
    data = in_tmp / "data"
    (data / "upcoming").mkdir(parents=True)
    frame.iloc[:240].to_csv(data / "table.csv", index=False)
    frame.iloc[240:300].to_csv(data / "current.csv", index=False)
    frame.iloc[300:350].to_csv(data / "upcoming" / "b-2.csv", index=False)
    frame.iloc[350:].to_csv(data / "upcoming" / "a-1.csv", index=False)  # comes first by name
    params = {**small_params(REGRESSION_DATA), "monitor": {"current": "data/current.csv"}}
    (in_tmp / "params.yaml").write_text(yaml.safe_dump(params))
    return data


def test_roll_forward_appends_the_batch_and_promotes_the_next(demo_layout: Path) -> None:
    before = (demo_layout / "table.csv").read_text()
    message = refresh(load_params())
    assert message == (
        "added 60 rows to data/table.csv; data/current.csv now holds data/upcoming/a-1.csv"
    )
    after = (demo_layout / "table.csv").read_text()
    assert after.startswith(before)  # the existing rows are kept byte for byte
    expected = regression_frame(rows=400).iloc[:300].reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_csv(demo_layout / "table.csv"), expected)
    pd.testing.assert_frame_equal(
        pd.read_csv(demo_layout / "current.csv"),
        regression_frame(rows=400).iloc[350:].reset_index(drop=True),
    )
    assert sorted(p.name for p in (demo_layout / "upcoming").iterdir()) == ["b-2.csv"]


def test_blank_lines_in_a_batch_hold_no_records(demo_layout: Path) -> None:
    with (demo_layout / "current.csv").open("a") as batch:
        batch.write("\n\n")
    assert refresh(load_params()).startswith("added 60 rows to data/table.csv")
    pd.testing.assert_frame_equal(
        pd.read_csv(demo_layout / "table.csv"),
        regression_frame(rows=400).iloc[:300].reset_index(drop=True),
    )


def test_roll_forward_follows_the_training_column_order(demo_layout: Path) -> None:
    batch = pd.read_csv(demo_layout / "current.csv")
    batch[list(reversed(batch.columns))].to_csv(demo_layout / "current.csv", index=False)
    refresh(load_params())
    table = pd.read_csv(demo_layout / "table.csv")
    pd.testing.assert_frame_equal(
        table, regression_frame(rows=400).iloc[:300].reset_index(drop=True)
    )


def test_the_end_of_the_demo_data_changes_nothing(demo_layout: Path) -> None:
    for batch in (demo_layout / "upcoming").iterdir():
        batch.unlink()
    before = {p.name: p.read_bytes() for p in demo_layout.glob("*.csv")}
    with pytest.raises(RatchetError, match=r"data/upcoming/ holds no more batches.*sources.py"):
        refresh(load_params())
    assert {p.name: p.read_bytes() for p in demo_layout.glob("*.csv")} == before


def test_a_batch_with_other_columns_changes_nothing(demo_layout: Path) -> None:
    pd.read_csv(demo_layout / "current.csv").drop(columns="age").to_csv(
        demo_layout / "current.csv", index=False
    )
    before = (demo_layout / "table.csv").read_bytes()
    with pytest.raises(
        RatchetError,
        match=r"^the new rows \(new_rows in src/ratchet/sources.py\) have the columns .* but "
        r"data/table.csv has",
    ):
        refresh(load_params())
    assert (demo_layout / "table.csv").read_bytes() == before
    assert sorted(p.name for p in (demo_layout / "upcoming").iterdir()) == ["a-1.csv", "b-2.csv"]


def test_a_batch_whose_types_changed_is_rejected(demo_layout: Path) -> None:
    batch = pd.read_csv(demo_layout / "current.csv")
    batch["colour"] = batch["colour"].map({"red": 1, "green": 2, "blue": 3})
    batch.to_csv(demo_layout / "current.csv", index=False)
    before = (demo_layout / "table.csv").read_bytes()
    with pytest.raises(
        RatchetError,
        match=r"^the new rows \(new_rows in src/ratchet/sources.py\): column 'colour' held "
        r"string values in training but holds integer values now \(e.g. \d\)",
    ):
        refresh(load_params())
    assert (demo_layout / "table.csv").read_bytes() == before


def test_the_rows_of_a_replacement_new_rows_are_checked_once(
    demo_layout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever new_rows returns is checked against the schema and limits once, before it joins
    (not again after); the training data, which passed the prepare stage, only gives the schema."""
    from ratchet import sources
    from ratchet.core import data as data_io

    def export(params: object) -> pd.DataFrame:
        frame = regression_frame(rows=400).iloc[240:300]
        frame["size"] = frame["size"].astype(str) + " cm"
        return frame

    validated: list[int] = []
    validate = data_io.validate

    def counted(frame: pd.DataFrame, *args: Any) -> pd.DataFrame:
        validated.append(len(frame))
        return validate(frame, *args)

    monkeypatch.setattr(sources, "new_rows", export)
    monkeypatch.setattr(data_io, "validate", counted)
    before = (demo_layout / "table.csv").read_bytes()
    with pytest.raises(RatchetError) as caught:
        refresh(load_params())
    message = str(caught.value)
    assert message.startswith(
        "the new rows (new_rows in src/ratchet/sources.py): column 'size' is listed under "
        "data.numeric but holds non-numeric values"
    )
    assert validated == [60]  # the new rows, once; nothing else
    assert (demo_layout / "table.csv").read_bytes() == before
    assert (demo_layout / "current.csv").exists()  # the demo's month did not roll forward


def test_a_batch_with_broken_targets_is_rejected(demo_layout: Path) -> None:
    batch = pd.read_csv(demo_layout / "current.csv")
    batch.loc[batch.index[:3], "price"] = None
    batch.to_csv(demo_layout / "current.csv", index=False)
    with pytest.raises(
        RatchetError,
        match=r"^the new rows \(new_rows in src/ratchet/sources.py\): target 'price' is empty at "
        r"CSV line\(s\) 2, 3, 4 ",
    ):
        refresh(load_params())


def test_no_new_rows_change_nothing(demo_layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ratchet import sources

    monkeypatch.setattr(sources, "new_rows", lambda params: pd.DataFrame())
    before = {p.name: p.read_bytes() for p in demo_layout.rglob("*.csv")}
    assert refresh(load_params()) == "no new rows: data/table.csv is unchanged"
    assert {p.name: p.read_bytes() for p in demo_layout.rglob("*.csv")} == before
