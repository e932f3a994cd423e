"""The prediction log: what the service writes, how it rotates and ships without ever blocking a
request, and how the monitor reads it back from the sink."""

from __future__ import annotations

import datetime
import json
import threading
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from ratchet.core.errors import RatchetError
from ratchet.core.predictions import file_name, read_logged_features, sink_key
from ratchet.serve.prediction_log import PredictionLog, pieces
from tests.conftest import ROOT, regression_frame
from tests.serve.conftest import Served, rows


class Record(BaseModel):
    size: float


class Response(BaseModel):
    model_version: str
    predictions: list[float]


def request(i: int) -> tuple[list[BaseModel], BaseModel]:
    return [Record(size=i)], Response(model_version="v1", predictions=[i])


def shipped_lines(sink: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted(sink.glob("*/*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_served_predictions_are_logged(regression: Served, prediction_log: Path) -> None:
    records = rows(regression_frame(), 3)
    with regression.client() as client:
        response = client.post("/predict", json={"records": records}).json()
        client.post("/predict", json={"records": [{"size": 1}]})  # refused: not logged
    # leaving the client shuts the service down, which ships its log
    lines = shipped_lines(prediction_log)
    assert [line["features"] for line in lines] == records
    assert [line["prediction"] for line in lines] == response["predictions"]
    assert {line["model_version"] for line in lines} == {response["model_version"]}


def test_the_prediction_log_rotates_ships_and_never_blocks(tmp_path: Path) -> None:
    sink = tmp_path / "sink"
    log = PredictionLog(str(sink), tmp_path / "spool", max_bytes=2_000, ship_seconds=0.1)
    for i in range(200):
        log.put(*request(i))
    deadline = time.monotonic() + 10
    while len(shipped_lines(sink)) < 150:  # shipped while it runs, not only at the end
        assert time.monotonic() < deadline, "nothing was shipped"
        time.sleep(0.05)
    log.close()
    assert (log.file.written, log.dropped, log.file.failed) == (200, 0, 0)
    files = list(sink.glob("*/*.jsonl"))
    assert len(files) > 5 and all(path.stat().st_size < 2_000 for path in files)
    assert sorted(line["features"]["size"] for line in shipped_lines(sink)) == list(range(200))  # type: ignore[index]
    assert not list((tmp_path / "spool").rglob("*.jsonl"))  # nothing left behind

    stalled = threading.Event()
    log = PredictionLog(str(sink), tmp_path / "spool", queue_requests=5)
    emit = log.file.emit
    log.file.emit = lambda record: (stalled.wait(), emit(record))  # type: ignore[method-assign,func-returns-value]  # a hung disk
    started = time.perf_counter()
    for i in range(100):
        log.put(*request(i))
    assert time.perf_counter() - started < 0.1
    assert log.dropped >= 94
    stalled.set()
    log.close()


def test_requests_that_arrive_together_are_written_together(tmp_path: Path) -> None:
    """The writer wakes once for a burst (one batch, one write), and close writes the last one."""
    log = PredictionLog(str(tmp_path / "sink"), tmp_path / "spool", ship_seconds=3600)
    batches: list[int] = []
    emit = log.file.emit
    log.file.emit = lambda batch: (batches.append(len(batch.served)), emit(batch))  # type: ignore[method-assign,attr-defined,func-returns-value]
    for i in range(50):
        log.put(*request(i))
    log.close()
    assert sum(batches) == 50 and len(batches) <= 2, batches
    assert log.file.written == 50
    assert sorted(line["features"]["size"] for line in shipped_lines(tmp_path / "sink")) == list(  # type: ignore[index]
        range(50)
    )


class Odd(BaseModel):
    size: set[int]  # not JSON


def test_a_request_that_cannot_be_written_is_counted_and_the_rest_are_written(
    tmp_path: Path,
) -> None:
    log = PredictionLog(str(tmp_path / "sink"), tmp_path / "spool", ship_seconds=3600)
    log.put(*request(1))
    log.put([Odd(size={1}), Odd(size={2})], Response(model_version="v1", predictions=[1, 2]))
    log.put(*request(2))
    log.close()
    assert (log.file.written, log.file.failed) == (2, 2)
    assert [line["features"] for line in shipped_lines(tmp_path / "sink")] == [
        {"size": 1.0},
        {"size": 2.0},
    ]


def test_a_batch_is_cut_into_pieces_that_a_file_takes_whole() -> None:
    text = ["a" * 9] * 5 + ["b" * 30, "c"]
    runs = pieces(text, 25)
    assert [line for run in runs for line in run] == text  # all, in order
    assert runs == [["a" * 9] * 2, ["a" * 9] * 2, ["a" * 9], ["b" * 30], ["c"]]
    assert all(sum(len(line) + 1 for line in run) < 25 for run in runs if len(run) > 1)


KILLED = """
import os, signal, sys, time
from pathlib import Path
from tests.serve.test_prediction_log import PredictionLog, request
log = PredictionLog(sys.argv[1], Path(sys.argv[2]), ship_seconds=3600)
for i in range(50):
    log.put(*request(i))
while log.file.written < 50:
    time.sleep(0.01)
os.kill(os.getpid(), signal.SIGKILL)  # no close, no atexit: as the out-of-memory killer does
"""


def test_the_file_of_a_killed_process_is_shipped_by_the_next_one(tmp_path: Path) -> None:
    import subprocess
    import sys

    sink, spool = tmp_path / "sink", tmp_path / "spool"
    killed = subprocess.run([sys.executable, "-c", KILLED, str(sink), str(spool)], cwd=ROOT)
    assert killed.returncode == -9
    assert len(list(spool.glob("*/writing/*.jsonl"))) == 1 and not sink.exists()
    log = PredictionLog(str(sink), spool, ship_seconds=0.1)  # the restarted container, say
    wait = time.monotonic() + 10
    while len(shipped_lines(sink)) < 50:
        assert time.monotonic() < wait, "the orphan was not shipped"
        time.sleep(0.05)
    log.close()
    assert sorted(line["features"]["size"] for line in shipped_lines(sink)) == list(range(50))  # type: ignore[index]
    assert not list(spool.rglob("*.jsonl")) and not list(spool.glob("*/writing/*"))


def test_names_are_unique_per_process_and_sort_by_time() -> None:
    now = datetime.datetime(2026, 12, 1, 23, 59, 59, 999_999, tzinfo=datetime.UTC)
    names = {file_name(now) for _ in range(100)}
    assert len(names) == 100
    name = names.pop()
    assert name.startswith("20261201T235959.999999Z-") and name.endswith(".jsonl")
    assert sink_key(name) == f"2026-12-01/{name}"


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


def shipped(sink: Path, closed: str) -> Path:
    """Where a file closed at `closed` (an ISO time) lands in the sink."""
    name = file_name(datetime.datetime.fromisoformat(closed))
    return sink / sink_key(name)


def test_the_monitor_reads_the_newest_records_of_every_process(tmp_path: Path) -> None:
    sink = tmp_path / "predictions"
    write_log(shipped(sink, "2026-11-01T00:00:01+00:00"), ["2026-11-01T00:00:00+00:00"], [1.0])
    write_log(
        shipped(sink, "2026-11-04T00:00:01+00:00"),
        ["2026-11-02T00:00:00+00:00", "2026-11-04T00:00:00+00:00"],
        [2.0, 4.0],
        extra='{"time": "2026-11-05T00:00:00+00:00", "feat',  # cut short by a crash
    )
    write_log(shipped(sink, "2026-11-03T00:00:01+00:00"), ["2026-11-03T00:00:00+00:00"], [3.0])
    (sink / "notes.txt").write_text("not ours\n")

    features, broken = read_logged_features(str(sink), rows=10)
    assert [row["size"] for row in features] == [1.0, 2.0, 3.0, 4.0] and broken == 1
    newest, _ = read_logged_features(str(sink), rows=2)
    assert [row["size"] for row in newest] == [3.0, 4.0]
    now = datetime.datetime(2026, 11, 4, 12, tzinfo=datetime.UTC).timestamp()
    recent, _ = read_logged_features(str(sink), rows=10, hours=36, now=now)
    assert [row["size"] for row in recent] == [3.0, 4.0]
    assert read_logged_features(str(tmp_path / "none"), rows=10) == ([], 0)


def test_a_sink_that_cannot_be_read_is_one_clear_error() -> None:
    with pytest.raises(RatchetError, match=r"monitor.predictions is nope://bucket/x.*install"):
        read_logged_features("nope://bucket/x", rows=10)


def test_the_environment_sets_the_log_and_bad_settings_are_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATCHET_PREDICTION_LOG", "off")
    assert PredictionLog.from_env() is None
    monkeypatch.setenv("RATCHET_PREDICTION_LOG", str(tmp_path / "sink"))
    monkeypatch.setenv("RATCHET_PREDICTION_SHIP_SECONDS", "soon")
    with pytest.raises(RatchetError, match="RATCHET_PREDICTION_SHIP_SECONDS=soon is not a posit"):
        PredictionLog.from_env()
    monkeypatch.setenv("RATCHET_PREDICTION_SHIP_SECONDS", "5")
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("RATCHET_PREDICTION_SPOOL", str(tmp_path / "file"))
    with pytest.raises(RatchetError, match="spool .*file cannot be written.*RATCHET_PREDICTION_SP"):
        PredictionLog.from_env()
    monkeypatch.setenv("RATCHET_PREDICTION_SPOOL", str(tmp_path / "spool"))
    log = PredictionLog.from_env()
    assert log is not None and (log.sink, log.ship_seconds) == (str(tmp_path / "sink"), 5.0)
    log.close()
