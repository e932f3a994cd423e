"""The prediction log: what the service writes, how it rotates without ever blocking a request,
and how the monitor reads it back."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from tests.conftest import regression_frame
from tests.serve.conftest import Served, rows


def test_served_predictions_are_logged(regression: Served, prediction_log: Path) -> None:
    records = rows(regression_frame(), 3)
    with regression.client() as client:
        response = client.post("/predict", json={"records": records}).json()
        client.post("/predict", json={"records": [{"size": 1}]})  # refused: not logged
    lines = [json.loads(line) for line in prediction_log.read_text().splitlines()]
    assert [line["features"] for line in lines] == records
    assert [line["prediction"] for line in lines] == response["predictions"]
    assert {line["model_version"] for line in lines} == {response["model_version"]}


def test_the_prediction_log_rotates_and_never_blocks(tmp_path: Path) -> None:
    import threading
    import time

    from pydantic import BaseModel

    from ratchet.serve.prediction_log import PredictionLog

    class Record(BaseModel):
        size: float

    class Response(BaseModel):
        model_version: str
        predictions: list[float]

    def request(i: int) -> tuple[list[BaseModel], BaseModel]:
        return [Record(size=i)], Response(model_version="v1", predictions=[i])

    log = PredictionLog(tmp_path / "p.jsonl", max_bytes=2_000, backups=2)
    for i in range(200):
        log.put(*request(i))
    log.close()
    assert (log.written, log.dropped, log.failed) == (200, 0, 0)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["p.jsonl", "p.jsonl.1", "p.jsonl.2"]
    assert all(path.stat().st_size <= 2_000 for path in tmp_path.iterdir())

    stalled = threading.Event()
    log = PredictionLog(tmp_path / "stalled.jsonl", queue_records=5)
    log._write = lambda lines: stalled.wait()  # type: ignore[method-assign]  # a hung disk
    started = time.perf_counter()
    for i in range(100):
        log.put(*request(i))
    assert time.perf_counter() - started < 0.1
    assert log.dropped >= 94
    stalled.set()
    log.close()


def write_log(path: Path, stamps: list[str], sizes: list[float], extra: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        for stamp, size in zip(stamps, sizes, strict=True):
            entry = {
                "time": stamp,
                "model_version": "v",
                "features": {"size": size},
                "prediction": 1,
            }
            handle.write(json.dumps(entry) + "\n")
        handle.write(extra)


def test_the_monitor_reads_the_newest_records_of_every_worker_and_rotation(tmp_path: Path) -> None:
    from ratchet.serve.prediction_log import read_logged_features

    log = tmp_path / "predictions/predictions.jsonl"
    write_log(log.with_name("predictions.1.jsonl.1"), ["2026-11-01T00:00:00+00:00"], [1.0])
    write_log(
        log.with_name("predictions.1.jsonl"),
        ["2026-11-02T00:00:00+00:00", "2026-11-04T00:00:00+00:00"],
        [2.0, 4.0],
        extra='{"time": "2026-11-05T00:00:00+00:00", "feat',  # cut short by a crash
    )
    write_log(log.with_name("predictions.2.jsonl"), ["2026-11-03T00:00:00+00:00"], [3.0])
    (tmp_path / "predictions/other.jsonl").write_text("not ours\n")

    features, broken = read_logged_features(log, rows=10)
    assert [row["size"] for row in features] == [1.0, 2.0, 3.0, 4.0] and broken == 1
    newest, _ = read_logged_features(log, rows=2)
    assert [row["size"] for row in newest] == [3.0, 4.0]
    now = datetime.datetime(2026, 11, 4, 12, tzinfo=datetime.UTC).timestamp()
    recent, _ = read_logged_features(log, rows=10, hours=36, now=now)
    assert [row["size"] for row in recent] == [3.0, 4.0]
    assert read_logged_features(tmp_path / "none/predictions.jsonl", rows=10) == ([], 0)
