"""New training data: the demo's refresh (src/ratchet/sources.py), and the checks after any."""

from __future__ import annotations

from pathlib import Path

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
        "added 60 rows of data/current.csv to data/table.csv; data/current.csv now holds "
        "data/upcoming/a-1.csv"
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
    assert refresh(load_params()).startswith("added 60 rows of data/current.csv")
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
        match=r"data/current.csv has the columns .* but "
        r"data/table.csv has",
    ):
        refresh(load_params())
    assert (demo_layout / "table.csv").read_bytes() == before


def test_a_batch_whose_types_changed_is_rejected(demo_layout: Path) -> None:
    batch = pd.read_csv(demo_layout / "current.csv")
    batch["colour"] = batch["colour"].map({"red": 1, "green": 2, "blue": 3})
    batch.to_csv(demo_layout / "current.csv", index=False)
    before = (demo_layout / "table.csv").read_bytes()
    with pytest.raises(
        RatchetError,
        match=r"^data/current.csv: column 'colour' held string values in training but holds "
        r"integer values now \(e.g. \d\)",
    ):
        refresh(load_params())
    assert (demo_layout / "table.csv").read_bytes() == before


def test_a_replacement_refresh_is_checked_after_the_fact(
    demo_layout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever refresh_training_data does, the result must still fit the schema and limits."""
    from ratchet import sources

    def export(params: object) -> str:
        frame = pd.read_csv(demo_layout / "table.csv")
        frame["size"] = frame["size"].astype(str) + " cm"
        frame.to_csv(demo_layout / "table.csv", index=False)
        return "exported"

    monkeypatch.setattr(sources, "refresh_training_data", export)
    with pytest.raises(RatchetError) as caught:
        refresh(load_params())
    message = str(caught.value)
    assert message.startswith("the refreshed data is rejected: data/table.csv: column 'size' ")
    assert "holds non-numeric values" in message
    assert message.endswith("`dvc checkout data` restores the previous data")


def test_a_batch_with_broken_targets_is_rejected(demo_layout: Path) -> None:
    batch = pd.read_csv(demo_layout / "current.csv")
    batch.loc[batch.index[:3], "price"] = None
    batch.to_csv(demo_layout / "current.csv", index=False)
    with pytest.raises(
        RatchetError, match=r"^data/current.csv: target 'price' is empty at CSV line\(s\) 2, 3, 4 "
    ):
        refresh(load_params())
