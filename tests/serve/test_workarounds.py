"""The workarounds of src/ratchet/serve/workarounds.py: each BentoML bug is still there in the
installed BentoML (when one of these fails, BentoML fixed it: delete its workaround and its pin),
and the service, as served, does not have it."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import itertools
import json
import time
import weakref
from typing import Any

import bentoml
import httpx
import prometheus_client
import pytest

from ratchet.serve import workarounds
from ratchet.serve.workarounds import LEAKY_TIMEOUT, RAW_PATH_LABELS, UNMATCHED, needed
from tests.serve.conftest import Served

NAMESPACES = itertools.count()  # one metrics namespace per app: the registry is the process's


def plain_app(**config: Any) -> Any:
    """A service of BentoML's public API alone, as BentoML serves it (no workaround), and its
    metrics namespace."""
    namespace = f"plain_{next(NAMESPACES)}"

    @bentoml.service(metrics={"namespace": namespace}, **config)
    class Echo:
        @bentoml.api  # type: ignore[untyped-decorator]
        def echo(self, x: int) -> int:
            return x

    return Echo.to_asgi(), namespace


def held_after_answer(app: Any, path: str, body: Any) -> bool:
    """Whether, once answered, a request still holds what its context held."""
    request_state: contextvars.ContextVar[object] = contextvars.ContextVar("request_state")

    class State:
        pass

    async def scenario() -> bool:
        starlette = app if hasattr(app, "router") else app.app  # under RouteLabel
        async with (
            starlette.router.lifespan_context(starlette),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
        ):

            async def request() -> weakref.ref[State]:
                state = State()
                request_state.set(state)
                response = await c.post(path, json=body)
                assert response.status_code == 200, response.text
                return weakref.ref(state)

            state = await asyncio.create_task(request())  # its own context, gone at its end
            # The thread that ran a sync API lets the context go just after the answer, later
            # on a busy machine: wait up to a second. A request held is held for the timeout.
            deadline = time.monotonic() + 1
            while True:
                gc.collect()
                if state() is None or time.monotonic() > deadline:
                    return state() is not None
                await asyncio.sleep(0.01)

    return asyncio.run(scenario())


def endpoint_labels(namespace: str) -> set[str]:
    return {
        sample.labels["endpoint"]
        for metric in prometheus_client.REGISTRY.collect()
        if metric.name.startswith(namespace)
        for sample in metric.samples
        if "endpoint" in sample.labels
    }


def scan(app: Any) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            for number in range(3):
                assert (await c.get(f"/scan/{number}/admin.php")).status_code == 404

    asyncio.run(scenario())


def test_bentoml_still_holds_an_answered_request_until_its_timeout() -> None:
    app, _ = plain_app(traffic={"timeout": 60})
    assert needed(LEAKY_TIMEOUT), f"BentoML {bentoml.__version__} is not pinned as leaky"
    assert held_after_answer(app, "/echo", {"x": 1}), (
        "BentoML no longer holds an answered request: delete LEAKY_TIMEOUT's workaround"
    )


def test_the_served_app_lets_an_answered_request_go() -> None:
    app, _ = plain_app(traffic={"timeout": 60})
    assert not held_after_answer(workarounds.fix_app(app), "/echo", {"x": 1})


def test_bentoml_still_labels_metrics_with_the_raw_path() -> None:
    app, namespace = plain_app()
    scan(app)
    assert needed(RAW_PATH_LABELS), f"BentoML {bentoml.__version__} is not pinned"
    assert "/scan/0/admin.php" in endpoint_labels(namespace), (
        "BentoML no longer labels metrics with raw paths: delete RAW_PATH_LABELS' workaround"
    )


def test_the_service_labels_unserved_paths_as_one(regression: Served) -> None:
    with regression.client() as client:
        for number in range(3):
            assert client.get(f"/scan/{number}/admin.php").status_code == 404
        assert client.get("/static_content/nope.css").status_code == 404
        assert client.post("/predict", json={"records": [{"size": 1.0}]}).status_code == 400
    labels = endpoint_labels(regression.service.config["metrics"]["namespace"])
    assert {UNMATCHED, "/static_content", "/predict"} <= labels
    assert not any(label.startswith("/scan") for label in labels)


def test_an_answered_prediction_leaves_nothing_behind(regression: Served) -> None:
    """The service's own timeout, as served, with tracing on or off."""
    assert regression.app is not None  # built, with its metrics namespace
    body = {"records": [{"size": 2.5, "age": 7, "colour": "red"}]}
    assert not held_after_answer(regression.app, "/predict", body)


def test_a_version_outside_the_pins_gets_no_workaround() -> None:
    assert needed(("1.2.0", "1.4.39"), "1.4.39")
    assert needed(("1.2.0", "1.4.39"), "1.3.0")
    assert not needed(("1.2.0", "1.4.39"), "1.4.40")
    assert not needed(("1.2.0", "1.4.39"), "1.1.11")


async def answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def through_the_timeout(app: Any, timeout: float) -> list[Any]:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/predict", "method": "POST", "headers": []}
    await workarounds.DisarmedTimeout(app, timeout=timeout)(scope, None, send)
    return sent


def test_a_request_over_the_timeout_gets_bentomls_504() -> None:
    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(5)
        await answer(scope, receive, send)

    started = time.monotonic()
    start, body = asyncio.run(through_the_timeout(slow, timeout=0.05))
    assert time.monotonic() - started < 2
    assert start["status"] == 504
    assert json.loads(body["body"]) == {"error": "Not able to process the request in 0.05 seconds"}


@pytest.mark.parametrize("timeout", [60, 7.5])
def test_the_service_times_out_after_bentomls_setting(timeout: float) -> None:
    app, _ = plain_app(traffic={"timeout": timeout})
    fixed = workarounds.fix_app(app)
    stack = [(m.cls, m.kwargs) for m in app.user_middleware]
    assert (workarounds.DisarmedTimeout, {"timeout": timeout}) in stack
    assert isinstance(fixed, workarounds.RouteLabel) and fixed.app is app
