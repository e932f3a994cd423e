"""The service's HTTP edge, in process: the body limit, JSON only, echoes cut short, refused
requests logged as one line, bounded metric labels."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.serve.conftest import VALID, Served


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({}, "the request has no Content-Type header", id="none"),
        pytest.param({"content-type": "text/plain"}, "'text/plain' is not accepted", id="text"),
        pytest.param(
            {"content-type": "application/x-www-form-urlencoded"},
            "Content-Type 'application/x-www-form-urlencoded' is not accepted",
            id="form",
        ),
        pytest.param(
            {"content-type": "multipart/form-data; boundary=x"},
            "Content-Type 'multipart/form-data' is not accepted",
            id="multipart",
        ),
    ],
)
def test_a_body_not_sent_as_json_gets_a_415(
    regression: Served, headers: dict[str, str], message: str
) -> None:
    body = json.dumps({"records": [VALID]}).encode()
    with regression.client() as client:
        response = client.post("/predict", content=body, headers=headers)
    assert response.status_code == 415
    assert message in response.json()["error"]


def test_an_echoed_value_is_cut_short(regression: Served) -> None:
    long = "x" * 100_000
    with regression.client() as client:
        for record in ({**VALID, "colour": long}, {**VALID, long: 1}):
            response = client.post("/predict", json={"records": [record]})
            assert response.status_code == 400
            assert len(response.content) < 600
            assert "more characters" in response.json()["error"]


def test_a_body_over_the_limit_gets_a_413_unread(
    regression: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ratchet.serve.middleware import MAX_BODY_BYTES

    big = b'{"records": [' + b" " * MAX_BODY_BYTES + b"]}"
    read = 0

    def chunks() -> Iterator[bytes]:
        nonlocal read
        for start in range(0, len(big), 65536):
            read += 65536
            yield big[start : start + 65536]

    headers = {"content-type": "application/json"}
    with regression.client() as client:
        declared = client.post("/predict", content=big, headers=headers)
        chunked = client.post("/predict", content=chunks(), headers=headers)
        fits = client.post("/predict", content=json.dumps({"records": [VALID]}), headers=headers)
    for response in (declared, chunked):
        assert response.status_code == 413
        assert f"over {MAX_BODY_BYTES} bytes" in response.json()["error"]
    assert read <= MAX_BODY_BYTES + 2 * 65536  # the chunked body was not read to its end
    assert fits.status_code == 200


def test_a_refused_request_is_logged_as_one_line(
    regression: Served, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("bentoml")
    logger.setLevel(logging.INFO)
    with caplog.at_level(logging.INFO, logger="bentoml"), regression.client() as client:
        client.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    [record] = [r for r in caplog.records if r.name == "bentoml._internal.server.http_app"]
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    assert record.getMessage().startswith("POST /predict refused with 400: request body: Invalid")


def test_metrics_label_unserved_paths_as_one(regression: Served) -> None:
    from ratchet.serve.middleware import UNMATCHED, RestorePath, RouteLabel

    stack = [m.cls for m in regression.app.user_middleware]
    metrics = next(i for i, cls in enumerate(stack) if cls.__name__.endswith("MetricsMiddleware"))
    assert stack[metrics - 1] is RouteLabel and stack[metrics + 1] is RestorePath
    label = RouteLabel(lambda *_: None, regression.app.routes)

    def scope(path: str) -> dict[str, Any]:
        return {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}

    assert label.label(scope("/no/such/thing")) == UNMATCHED
    assert label.label(scope("/static_content/nope.css")) == "/static_content"
    assert "/predict" in label.exact


def test_a_server_error_keeps_its_traceback() -> None:
    from ratchet.serve.middleware import ClientErrorLog

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord(
            "bentoml._internal.server.http_app", logging.ERROR, __file__, 1,
            "Exception on %s [%s]", ("/predict", "POST"), sys.exc_info(),
        )  # fmt: skip
    assert ClientErrorLog().filter(record)
    assert record.levelno == logging.ERROR and record.exc_info is not None
