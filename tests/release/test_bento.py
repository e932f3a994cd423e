"""The bento end to end: train with `dvc repro`, `make bento`, `bentoml serve` it on loopback, and
talk to it over real HTTP: valid and invalid requests, metrics, the smoke test, a fuzzer.

BENTOML_HOME points at a temporary folder, so the user's BentoML store is never touched.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import hashlib
import http.client
import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
import yaml

from tests.conftest import (
    BIN,
    REGRESSION_DATA,
    Project,
    make_project,
    regression_frame,
    small_params,
)
from tests.servers import serving

pytestmark = pytest.mark.slow

VALID = {"size": 2.5, "age": 7, "colour": "red"}


@dataclass
class Served:
    url: str
    project: Project
    home: Path
    bento: str
    env: dict[str, str]
    log: Path  # the server's output

    def post(
        self, body: bytes | dict[str, Any], content_type: str = "application/json"
    ) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/predict", data=data, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def get(self, path: str) -> tuple[int, str]:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as response:
            return response.status, response.read().decode()

    @property
    def model(self) -> Any:
        return joblib.load(self.project.path / "artifacts/model.joblib")

    def bento_model_version(self) -> str:
        model = (self.project.path / "artifacts/model.joblib").read_bytes()
        return hashlib.sha256(model).hexdigest()[:12]


def a_fork(path: Path) -> Project:
    """A trained fork of the template, with what `make bento` needs."""
    project = make_project(path, with_make=True)
    (project.path / ".gitignore").write_text("/src/requirements.txt\n")
    project.write_data(regression_frame())
    project.set_params(small_params(REGRESSION_DATA))
    project.dvc("add", "-q", "data")
    project.repro()
    project.commit("trained")
    return project


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("bento")
    project = a_fork(root / "project")
    env = {
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "TAG": "v0.1.0",
        # where the project's monitor reads it (monitor.predictions), shipped every second
        "RATCHET_PREDICTION_LOG": str(project.path / "predictions"),
        "RATCHET_PREDICTION_SPOOL": str(root / "spool"),
        "RATCHET_PREDICTION_SHIP_SECONDS": "1",
    }
    built = project.run("make", "-s", "--assume-old=.venv/.installed", "bento", env=env)
    bento = built.stdout.strip().splitlines()[-1]
    with serving(
        lambda port: [
            str(BIN / "bentoml"),
            "serve",
            bento,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        "/readyz",
        env={**os.environ, **env},
        cwd=root,
        log=root / "server.log",
    ) as url:
        yield Served(
            url, project, root / "bentoml", bento, {**os.environ, **env}, root / "server.log"
        )


def test_the_bento_names_the_model_and_holds_no_copy(served: Served) -> None:
    assert served.bento == "ratchet:v0.1.0"
    bento = served.home / "bentos/ratchet/v0.1.0"
    manifest = yaml.safe_load((bento / "bento.yaml").read_text())
    sha256 = hashlib.sha256((served.project.path / "artifacts/model.joblib").read_bytes())
    assert manifest["args"] == {"model": f"ratchet:{sha256.hexdigest()[:12]}"}
    assert [m["tag"] for m in manifest["services"][0]["models"]] == [manifest["args"]["model"]]
    assert not (bento / "models").exists()  # `bentoml containerize` adds it from the store
    assert (bento / "src/ratchet/serve/service.py").is_file()
    requirements = (bento / "env/python/requirements.txt").read_text()
    # pinned with their hashes, for `pip install --require-hashes` in the image
    assert f"scikit-learn=={version('scikit-learn')} \\\n    --hash=sha256:" in requirements
    assert f"pandas=={version('pandas')} \\\n    --hash=sha256:" in requirements
    for unserved in ("mlflow", "dvc", "evidently"):
        assert f"\n{unserved}==" not in requirements


def test_a_valid_batch_gets_the_models_predictions(served: Served) -> None:
    records = [VALID, {"size": 9.0, "age": 40, "colour": "blue"}]
    status, body = served.post({"records": records})
    assert status == 200
    expected = served.model.predict(pd.DataFrame(records)).tolist()
    assert body["predictions"] == pytest.approx(expected, rel=1e-12)
    assert body["model_version"] == served.bento_model_version()


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        pytest.param(
            {"records": [{"size": 2.5, "age": 7}]},
            "application/json",
            "records[0].colour: Field required",
            id="missing-field",
        ),
        pytest.param(
            {"records": [{**VALID, "age": "seven"}]},
            "application/json",
            "records[0].age: Input should be a valid integer",
            id="wrong-type",
        ),
        pytest.param(
            {"records": [{**VALID, "colour": "teal"}]},
            "application/json",
            'records[0].colour: unknown category "teal"',
            id="unknown-category",
        ),
        pytest.param(
            {"records": []},
            "application/json",
            "records: List should have at least 1 item",
            id="empty-batch",
        ),
        pytest.param(
            {"records": [VALID] * 1001},
            "application/json",
            "records: List should have at most 1000 items",
            id="oversized-batch",
        ),
        pytest.param(
            b"size=2.5&age=7", "application/json", "request body: Invalid JSON", id="not-json"
        ),
    ],
)
def test_bad_requests_get_a_400_naming_the_problem(
    served: Served, body: bytes | dict[str, Any], content_type: str, message: str
) -> None:
    status, answer = served.post(body, content_type)
    assert status == 400
    assert message in answer["error"]
    assert set(answer) == {"error", "detail"}


def test_a_body_not_json_or_too_large_is_refused(served: Served) -> None:
    status, answer = served.post(b"size=2.5&age=7", "application/x-www-form-urlencoded")
    assert (status, set(answer)) == (415, {"error", "detail"})
    assert "is not accepted" in answer["error"]
    # A 2 MiB body is announced and never sent: the 413 comes from the Content-Length alone.
    # (uvicorn closes the connection after an early answer, so a client that writes a large body
    # before reading, as urllib does, may see the connection reset instead of the 413.)
    host, port = urllib.parse.urlsplit(served.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/predict")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(2**21))
    connection.endheaders()
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert (response.status, set(answer)) == (413, {"error", "detail"})
    assert "over 1048576 bytes" in answer["error"]


def test_concurrent_requests_each_get_their_own_answer(served: Served) -> None:
    frame = regression_frame(rows=48, seed=3)[["size", "age", "colour"]]
    requests = [
        json.loads(frame.iloc[i : i + 3].to_json(orient="records")) for i in range(0, 48, 3)
    ]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda records: served.post({"records": records}), requests))
    model = served.model
    for records, (status, body) in zip(requests, answers, strict=True):
        assert status == 200
        assert body["predictions"] == pytest.approx(
            model.predict(pd.DataFrame(records)).tolist(), rel=1e-12
        )


def test_bentoml_endpoints_answer(served: Served) -> None:
    served.post({"records": [VALID]})
    served.post({"records": []})
    assert served.get("/healthz")[0] == 200
    assert served.get("/livez")[0] == 200
    status, metrics = served.get("/metrics")
    assert status == 200
    for code in ("200", "400"):
        assert (
            f'bentoml_service_request_total{{endpoint="/predict",http_response_code="{code}"'
            in metrics
        )
    status, spec = served.get("/docs.json")
    record = json.loads(spec)["components"]["schemas"]["Record"]
    assert record["required"] == ["size", "age", "colour"]


def test_the_smoke_test_passes_against_the_served_bento(served: Served) -> None:
    result = served.project.here("smoke-test", served.url, "--timeout", "30")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"smoke-test: {served.url} ready after")
    assert f"model {served.bento_model_version()} predicts" in lines[1]
    assert lines[2].startswith("smoke-test: a record without 'size' gets 400: records[0].size")


def test_the_smoke_test_fails_against_another_model(served: Served, tmp_path: Path) -> None:
    other = make_project(tmp_path / "other")
    other.write_data(regression_frame(seed=7))
    other.set_params(small_params(REGRESSION_DATA))
    other.repro()
    result = other.here("smoke-test", served.url, "--timeout", "30")
    assert result.returncode == 1
    assert "error: the service runs model" in result.stderr
    assert "build the image from this commit" in result.stderr


def test_fuzzing_the_openapi_spec_finds_no_server_error(served: Served) -> None:
    result = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            f"{served.url}/docs.json",
            "--checks",
            "all",
            "--max-examples",
            "60",
            "--seed",
            "20261123",
            "--workers",
            "2",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=served.home.parent,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout


def test_an_echoed_value_is_cut_short_in_the_answer_and_the_log(served: Served) -> None:
    huge = "z" * 100_000
    status, answer = served.post({"records": [{**VALID, "colour": huge}]})
    assert status == 400 and len(json.dumps(answer)) < 2_000
    assert "... (" in answer["error"] and "more characters)" in answer["error"]
    time.sleep(0.5)
    assert huge[:2_000] not in served.log.read_text(errors="replace")


def test_a_refused_request_is_one_log_line_without_a_traceback(served: Served) -> None:
    before = served.log.read_text(errors="replace")
    status, _ = served.post(b"{not json")
    assert status == 400
    time.sleep(0.5)
    added = served.log.read_text(errors="replace")[len(before) :]
    refused = [line for line in added.splitlines() if "refused with 400" in line]
    assert len(refused) == 1 and "INFO" in refused[0]
    assert "Traceback" not in added


def test_unserved_paths_share_one_metrics_label(served: Served) -> None:
    for number in range(200):
        with contextlib.suppress(urllib.error.HTTPError):
            served.get(f"/scan/{number}/admin.php")
    _, metrics = served.get("/metrics")
    assert "/scan/" not in metrics and 'endpoint="unmatched"' in metrics
    assert len(metrics) < 200_000


def test_served_records_feed_the_drift_monitor(served: Served) -> None:
    """The loop on one machine: serve, send traffic, monitor what the service saw."""
    shifted = regression_frame(rows=240, seed=9).assign(
        size=lambda f: f["size"] + 8, age=lambda f: f["age"] // 3
    )
    shifted.to_csv(served.project.path / "traffic.csv", index=False)
    logged = served.project.path / "predictions"
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")

    def shipped() -> int:
        """The records served since `started` that reached the sink: not the fuzzer's, whose
        last files may ship while this test waits."""
        return sum(
            json.loads(line)["time"] >= started
            for file in logged.glob("*/*.jsonl")
            for line in file.read_text().splitlines()
        )

    sent = served.project.here("replay", "traffic.csv", "--url", served.url, "--batch", "40")
    assert sent.stdout == f"replay: 240 records answered, 0 refused, by {served.url}\n"
    deadline = time.monotonic() + 10
    while shipped() < 240:
        assert time.monotonic() < deadline, "the prediction log did not catch up"
        time.sleep(0.2)
    line = json.loads(max(logged.glob("*/*.jsonl")).read_text().splitlines()[-1])
    assert set(line) == {"time", "model_version", "features", "prediction"}
    assert line["model_version"] == served.bento_model_version()
    params = served.project.params
    params["monitor"] = {"window_rows": 240, "min_rows": 200}  # these, not the fuzzer's records
    served.project.set_params(params)
    result = served.project.here("monitor")
    assert result.returncode == 3, result.stdout + result.stderr  # drift
    summary = json.loads(served.project.read("reports/drift.json"))
    assert summary["current"]["path"] == "predictions"
    assert summary["current"]["detail"].startswith("the newest 240 served records of the predic")
    assert summary["current"]["rows"] >= 240 and "size" in summary["drifted_columns"]
