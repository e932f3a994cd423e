"""Where recent inputs come from: the services' prediction log (monitor.predictions) when its window
holds enough served records, and `current_batch` in src/ratchet/sources.py (the demo: the CSV at
monitor.current) until it does."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import yaml

from ratchet.core.predictions import file_name, sink_key
from ratchet.core.settings import load_params
from ratchet.monitor.drift import recent_inputs
from ratchet.sources import current_batch
from tests.conftest import REGRESSION_DATA, regression_frame, small_params


def ship_records(sink: Path, count: int, closed: str) -> None:
    """A file of `count` served records, as a service ships it to the sink."""
    path = sink / sink_key(file_name(datetime.datetime.fromisoformat(closed)))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = regression_frame(rows=count, seed=7)[["size", "age", "colour"]]
    with path.open("a") as handle:
        for index, features in enumerate(frame.to_dict(orient="records")):
            stamp = f"2026-11-01T00:{index // 60:02d}:{index % 60:02d}+00:00"
            entry = {"time": stamp, "model_version": "v", "features": features, "prediction": 0}
            handle.write(json.dumps(entry) + "\n")


def test_the_log_is_read_once_it_holds_min_rows_records(in_tmp: Path) -> None:
    params = {**small_params(REGRESSION_DATA), "monitor": {"min_rows": 50, "window_rows": 80}}
    (in_tmp / "params.yaml").write_text(yaml.safe_dump(params))
    (in_tmp / "data").mkdir()
    regression_frame(rows=30).to_csv(in_tmp / "data/current.csv", index=False)

    ship_records(in_tmp / "predictions", 40, "2026-11-01T01:00:00+00:00")
    frame, source = recent_inputs(load_params())
    assert (len(frame), source) == (30, "data/current.csv")  # 40 < min_rows: the CSV
    assert current_batch(load_params())[1] == "data/current.csv"

    ship_records(in_tmp / "predictions", 60, "2026-11-01T01:00:01+00:00")
    frame, source = recent_inputs(load_params())
    assert len(frame) == 80 and list(frame.columns) == ["size", "age", "colour"]
    assert source == "predictions (the newest 80 served records)"
