"""The service's HTTP edge, in process: the body limit, JSON only, echoes cut short, refused
requests logged as one line, a Swagger page without trackers. (Bounded metric labels and the
request timeout: test_workarounds.py; the same over HTTP: tests/release/test_bento.py.)"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

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


@pytest.mark.parametrize(
    ("content", "headers", "logged"),
    [
        pytest.param(
            b"{not json",
            {"content-type": "application/json"},
            "POST /predict refused with 400: request body: Invalid JSON",
            id="400",
        ),
        pytest.param(
            b"{}", {"content-type": "text/plain"}, "POST /predict refused with 415: ", id="415"
        ),
        pytest.param(
            b" " * (2**20 + 1),
            {"content-type": "application/json"},
            "POST /predict refused with 413: the request body is over",
            id="413",
        ),
    ],
)
def test_a_refused_request_is_logged_as_one_line(
    regression: Served,
    caplog: pytest.LogCaptureFixture,
    content: bytes,
    headers: dict[str, str],
    logged: str,
) -> None:
    logging.getLogger("bentoml").setLevel(logging.DEBUG)  # its tracebacks would show here
    with caplog.at_level(logging.DEBUG), regression.client() as client:
        caplog.clear()
        response = client.post("/predict", content=content, headers=headers)
    assert response.status_code == int(logged.split()[4].rstrip(":"))
    lines = [r for r in caplog.records if "refused" in r.getMessage() or r.levelno >= logging.ERROR]
    [record] = lines
    assert record.name == "ratchet.serve" and record.levelno == logging.INFO
    assert record.exc_info is None
    assert record.getMessage().startswith(logged)


def test_an_answered_request_is_not_logged(
    regression: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG), regression.client() as client:
        caplog.clear()
        answered = client.post("/predict", json={"records": [VALID]})
    assert answered.status_code == 200
    assert not [r for r in caplog.records if "refused" in r.getMessage()]


def test_the_swagger_page_loads_nothing_from_outside(regression: Served) -> None:
    with regression.client() as client:
        page = client.get("/")
        script = client.get("/static_content/swagger-ui-bundle.js")
    assert page.status_code == 200 and 'id="swagger-ui"' in page.text
    assert "googletagmanager" not in page.text and "https://" not in page.text
    assert script.status_code == 200  # the page's scripts are the service's own


def test_a_long_path_is_cut_short_in_the_log(
    regression: Served, caplog: pytest.LogCaptureFixture
) -> None:
    path = "/" + "p" * 10_000
    with caplog.at_level(logging.INFO), regression.client() as client:
        response = client.post(path, content=b" " * (2**20 + 1))
    assert response.status_code == 413
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "more characters" in line and len(line) < 400
