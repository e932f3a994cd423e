"""The service's HTTP edge, in process: the body limit, JSON only, echoes cut short, refused
requests logged as one line, bounded metric labels, a request timeout that lets go."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import logging
import sys
import time
import weakref
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


async def answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def through_the_timeout(app: Any, timeout: float) -> list[Any]:
    """The messages a request gets back through the service's request timeout."""
    from ratchet.serve.middleware import DisarmedTimeout

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/predict", "method": "POST", "headers": []}
    await DisarmedTimeout(app, timeout=timeout)(scope, None, send)
    return sent


def test_an_answered_request_leaves_nothing_behind() -> None:
    """The request timeout's timer keeps neither the request's context (its tracing spans, in
    the service) nor anything else once the answer went out."""
    request_state: contextvars.ContextVar[object] = contextvars.ContextVar("request_state")

    class State:
        pass

    async def request() -> tuple[list[Any], weakref.ref[State]]:
        state = State()
        request_state.set(state)
        return await through_the_timeout(answer, timeout=60), weakref.ref(state)

    async def scenario() -> None:
        sent, state = await asyncio.create_task(request())  # its own context, gone at its end
        for _ in range(3):  # the loop's turns that finish the task off
            await asyncio.sleep(0)
        gc.collect()
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
        assert state() is None

    asyncio.run(scenario())


def test_the_service_times_requests_out_with_the_disarmed_timeout(regression: Served) -> None:
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    from ratchet.serve.middleware import DisarmedTimeout

    stack = [m.cls for m in regression.app.user_middleware]
    assert DisarmedTimeout in stack and TimeoutMiddleware not in stack


def test_a_request_over_the_timeout_gets_a_504() -> None:
    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(5)
        await answer(scope, receive, send)

    started = time.monotonic()
    start, body = asyncio.run(through_the_timeout(slow, timeout=0.05))
    assert time.monotonic() - started < 2
    assert start["status"] == 504
    assert json.loads(body["body"]) == {"error": "Not able to process the request in 0.05 seconds"}
