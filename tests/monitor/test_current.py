"""The monitor's current batch: the services' prediction log (monitor.predictions) when its window
holds enough served records, and the CSV at monitor.current until it does; either way it says
which, how many and from when to when."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
import yaml

from ratchet.core.predictions import file_name, sink_key
from ratchet.core.settings import load_params
from ratchet.monitor.current import current_batch
from tests.conftest import REGRESSION_DATA, regression_frame, small_params


def ship_records(sink: Path, count: int, closed: str, broken: int = 0) -> None:
    """A file of `count` served records, as a service ships it to the sink."""
    path = sink / sink_key(file_name(datetime.datetime.fromisoformat(closed)))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = regression_frame(rows=count, seed=7)[["size", "age", "colour"]]
    with path.open("a") as handle:
        for index, features in enumerate(frame.to_dict(orient="records")):
            stamp = f"2026-11-01T00:{index // 60:02d}:{index % 60:02d}+00:00"
            entry = {"time": stamp, "model_version": "v", "features": features, "prediction": 0}
            handle.write(json.dumps(entry) + "\n")
        handle.write('{"time": "2026-11-01T00:00:00+00:00", "feat\n' * broken)


def test_the_log_is_read_once_it_holds_min_rows_records(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = {**small_params(REGRESSION_DATA), "monitor": {"min_rows": 50, "window_rows": 80}}
    (in_tmp / "params.yaml").write_text(yaml.safe_dump(params))
    (in_tmp / "data").mkdir()
    regression_frame(rows=30).to_csv(in_tmp / "data/current.csv", index=False)

    ship_records(in_tmp / "predictions", 40, "2026-11-01T01:00:00+00:00")
    batch = current_batch(load_params().monitor)
    assert (len(batch.frame), batch.source) == (30, "data/current.csv")  # 40 < min_rows
    assert batch.detail == (
        "30 rows of the CSV at data/current.csv (monitor.current, since the prediction log at "
        "predictions holds 40 records, under monitor.min_rows: 50)"
    )

    ship_records(in_tmp / "predictions", 60, "2026-11-01T01:00:01+00:00", broken=2)
    batch = current_batch(load_params().monitor)
    assert len(batch.frame) == 80 and list(batch.frame.columns) == ["size", "age", "colour"]
    assert batch.source == "predictions"
    assert batch.detail == (
        "the newest 80 served records of the prediction log at predictions, logged "
        "2026-11-01T00:00:10+00:00 to 2026-11-01T00:00:59+00:00; 2 unreadable lines skipped"
    )
    # The reading shows progress: plain lines where no terminal watches (here, a capture).
    assert "prediction log: 2 files in " in capsys.readouterr().err


def test_a_window_of_hours_is_named_when_it_holds_too_few(in_tmp: Path) -> None:
    monitor = {"min_rows": 50, "window_hours": 6}
    (in_tmp / "params.yaml").write_text(
        yaml.safe_dump({**small_params(REGRESSION_DATA), "monitor": monitor})
    )
    (in_tmp / "data").mkdir()
    regression_frame(rows=30).to_csv(in_tmp / "data/current.csv", index=False)
    ship_records(in_tmp / "predictions", 60, "2020-01-01T00:00:00+00:00")  # long before
    assert current_batch(load_params().monitor).detail == (
        "30 rows of the CSV at data/current.csv (monitor.current, since the prediction log at "
        "predictions holds 0 records of the last 6 hours, under monitor.min_rows: 50)"
    )
