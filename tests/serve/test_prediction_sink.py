"""The prediction log leaves the pod: shipped to an S3 API on loopback (moto's server), through
s3fs as a cluster would use it, with the sink up, down, and shared by two real services."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from ratchet.core.predictions import read_logged_features
from ratchet.serve.prediction_log import PredictionLog
from tests.conftest import (
    BIN,
    REGRESSION_DATA,
    ROOT,
    Project,
    regression_frame,
    train_workspace,
)
from tests.serve.conftest import rows
from tests.servers import free_port, s3_env, s3_server, serving


class Record(BaseModel):
    size: float


class Response(BaseModel):
    model_version: str
    predictions: list[float]


def put(log: PredictionLog, count: int) -> float:
    """Log `count` one-record requests; the slowest put, in seconds."""
    slowest = 0.0
    for i in range(count):
        started = time.perf_counter()
        log.put([Record(size=i)], Response(model_version="v1", predictions=[i]))
        slowest = max(slowest, time.perf_counter() - started)
    return slowest


def wait_for(condition: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bucket on moto's S3 server, and s3fs in this process pointed at it."""
    import fsspec
    import s3fs

    with s3_server() as endpoint:
        for name, value in s3_env(endpoint).items():
            monkeypatch.setenv(name, value)
        s3fs.S3FileSystem.clear_instance_cache()  # a cached client knows an older endpoint
        fsspec.filesystem("s3").makedirs("bucket", exist_ok=True)
        yield endpoint
    s3fs.S3FileSystem.clear_instance_cache()


def keys(url: str) -> list[str]:
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    return sorted(fs.find(url.removeprefix("s3://")))


def test_rotated_files_land_in_the_bucket(s3: str, tmp_path: Path) -> None:
    sink = "s3://bucket/predictions"
    log = PredictionLog(sink, tmp_path / "spool", max_bytes=2_000, ship_seconds=0.2)
    put(log, 200)
    wait_for(lambda: len(keys(sink)) >= 5)  # shipped while serving, not only at the end
    log.close()
    shipped = keys(sink)
    assert all(key.startswith("bucket/predictions/20") for key in shipped)
    assert all(key.endswith(".jsonl") for key in shipped)
    features, broken = read_logged_features(sink, rows=1_000)
    assert sorted(row["size"] for row in features) == list(range(200)) and broken == 0
    assert (log.file.written, log.dropped, log.discarded, log.ship_failures) == (200, 0, 0, 0)


def test_a_sink_that_is_down_is_retried_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import fsspec
    import s3fs

    port = free_port()
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's own retries, 6 s a try, not tested
    with s3_server(port) as endpoint:
        for name, value in s3_env(endpoint).items():
            monkeypatch.setenv(name, value)
        s3fs.S3FileSystem.clear_instance_cache()
        fsspec.filesystem("s3").makedirs("bucket", exist_ok=True)
    # the server is stopped: the sink is down
    sink = "s3://bucket/outage"
    caplog.set_level(logging.INFO, logger="ratchet.prediction_log")
    log = PredictionLog(
        sink, tmp_path / "spool", max_bytes=2_000, ship_seconds=0.2, max_retry_seconds=1
    )
    slowest = put(log, 150)
    wait_for(lambda: log.ship_failures >= 3, seconds=60)
    slowest = max(slowest, put(log, 150))
    assert slowest < 0.05  # requests never wait for the sink
    down = [r for r in caplog.records if "cannot ship" in r.getMessage()]
    assert len(down) == 1 and "bucket/outage" in down[0].getMessage()  # one warning an outage

    with s3_server(port):  # back, on the same address
        wait_for(lambda: not list(log.outbox.glob("*.jsonl")), seconds=60)
        log.close()
        features, _ = read_logged_features(sink, rows=1_000)
    assert sorted(row["size"] for row in features) == sorted([*range(150), *range(150)])
    assert log.discarded == 0
    assert [r for r in caplog.records if "again after" in r.getMessage()]


def test_past_the_spool_bound_the_oldest_records_are_deleted_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import s3fs

    for name, value in s3_env(f"http://127.0.0.1:{free_port()}").items():  # nothing answers
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()
    caplog.set_level(logging.INFO, logger="ratchet.prediction_log")
    log = PredictionLog(
        "s3://bucket/never",
        tmp_path / "spool",
        max_bytes=1_000,
        ship_seconds=0.1,
        spool_bytes=3_000,
        max_retry_seconds=0.1,
    )
    put(log, 200)
    wait_for(lambda: log.discarded > 0 and log.file.written == 200)
    log.close(timeout=5)
    kept = [
        json.loads(line)["features"]["size"]
        for path in sorted(log.outbox.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    assert sum(path.stat().st_size for path in log.outbox.glob("*.jsonl")) <= 3_000
    assert len(kept) + log.discarded == 200  # every record is shipped, kept or counted
    assert sorted(kept) == list(range(200 - len(kept), 200))  # the newest are kept
    assert len([r for r in caplog.records if "deleting its oldest" in r.getMessage()]) == 1


# --- Two real services, one sink, and the monitor -------------------------------------------------


def post(url: str, records: list[dict[str, object]]) -> None:
    request = urllib.request.Request(
        f"{url}/predict",
        data=json.dumps({"records": records}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


@pytest.mark.slow
def test_two_services_share_one_sink_and_the_monitor_reads_all(
    s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The done-when: two `bentoml serve` processes (two pods) log to one S3 prefix; each ships
    on SIGTERM; `python -m ratchet monitor` reads every record."""
    workspace = tmp_path / "project"
    train_workspace(workspace, REGRESSION_DATA, regression_frame())
    env = {
        **os.environ,
        **s3_env(s3),
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "RATCHET_PREDICTION_LOG": "s3://bucket/fleet",
        "RATCHET_PREDICTION_SHIP_SECONDS": "3600",  # nothing ships before SIGTERM
        # one process a pod (BentoML's setting, as docs/serving.md says to change it)
        "BENTOML_CONFIG_OPTIONS": "services.ratchet.workers=1",
    }
    tag = subprocess.run(
        [sys.executable, "-m", "ratchet", "import-model"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    records = rows(regression_frame(rows=240, seed=5), 240)

    def service(pod: str) -> object:
        return serving(
            lambda port: [
                str(BIN / "bentoml"),
                "serve",
                "ratchet.serve.service:Ratchet",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--arg",
                f"model={tag}",
            ],
            "/readyz",
            env={**env, "RATCHET_PREDICTION_SPOOL": str(tmp_path / f"spool-{pod}")},
            cwd=ROOT,
            log=tmp_path / f"{pod}.log",
        )

    with service("a") as first, service("b") as second:  # type: ignore[attr-defined]
        for start in range(0, 240, 20):
            post(first if start % 40 else second, records[start : start + 20])
        assert keys("s3://bucket/fleet") == []  # still in each pod's spool
    # both stopped with SIGTERM: each shipped its tail
    shipped = keys("s3://bucket/fleet")
    assert len({key.rsplit("-", 2)[-2] for key in shipped}) == 2, shipped  # two processes' files

    (workspace / "params.yaml").write_text(
        yaml.safe_dump(
            {
                **yaml.safe_load((workspace / "params.yaml").read_text()),
                "monitor": {"predictions": "s3://bucket/fleet", "min_rows": 200},
            }
        )
    )
    monitor = Project(workspace).here("monitor")  # s3fs here already uses the S3 API above
    assert monitor.returncode in (0, 3), monitor.stdout + monitor.stderr
    current = json.loads((workspace / "reports/drift.json").read_text())["current"]
    assert (current["path"], current["rows"]) == ("s3://bucket/fleet", 240)
    assert current["detail"].startswith(
        "the newest 240 served records of the prediction log at s3://bucket/fleet, logged "
    )
