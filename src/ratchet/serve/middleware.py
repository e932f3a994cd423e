"""The service's HTTP edge, as ASGI middlewares and a log filter: a body limit (413), JSON only
(415), a 400 that names the field, bounded metric labels, refused requests logged as one line, and
a request timeout that holds nothing once the request is answered.

BentoML offers no setting for any of these; each is placed where BentoML's own middlewares let it
act first (see RatchetService.to_asgi in service.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
from typing import Any

from bentoml._internal.server.http.traffic import TimeoutMiddleware
from bentoml.exceptions import BentoMLException
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ratchet.core.errors import RatchetError
from ratchet.serve import contract as contracts

# The largest request body accepted, in bytes; larger ones get a 413 before they are read.
MAX_BODY_ENV = "RATCHET_MAX_BODY_BYTES"
MAX_BODY_BYTES = 2**20
# The metrics label of every request to a path that no route serves.
UNMATCHED = "unmatched"


class BodyLimit:
    """Answer 413 to a request body over `limit` bytes, before anything reads it.

    A declared Content-Length is checked at once (uvicorn never passes on more bytes than it
    declares). A chunked body is read here, up to the limit, and handed on only if it fits: the
    service reads whole bodies anyway, and refusing from inside BentoML's reading would be a
    500 with a traceback.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await self.refuse(scope, receive, send)
                return
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            buffered: list[Message] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return
                size += len(message.get("body", b""))
                if size > self.limit:
                    await self.refuse(scope, receive, send)
                    return
                buffered.append(message)
                if not message.get("more_body", False):
                    break

            async def replay() -> Message:
                return buffered.pop(0) if buffered else await receive()

            receive = replay
        await self.app(scope, receive, send)

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = contracts.error_body(
            f"the request body is over {self.limit} bytes",
            f"send at most {contracts.MAX_RECORDS} records per request, or fewer at a time",
        )
        # Connection: close, so that uvicorn does not read the rest of the body to reuse it.
        response = JSONResponse(body, status_code=413, headers={"connection": "close"})
        await response(scope, receive, send)


class RequestErrors:
    """Give every refused request to the predict route a 400 whose message names the field.

    BentoML answers a form or multipart body with a 500, and its validation errors carry a list
    where its own OpenAPI spec promises a string; this puts both right before they leave.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != contracts.PREDICT_ROUTE:
            await self.app(scope, receive, send)
            return
        # BentoML reads a body without a Content-Type as JSON: refuse it here instead.
        content_type = dict(scope["headers"]).get(b"content-type")
        media_type = (content_type or b"").split(b";")[0].strip().lower()
        if scope["method"] == "POST" and media_type != b"application/json":
            shown = contracts.clip(media_type.decode("latin-1"))
            problem = (
                "the request has no Content-Type header"
                if content_type is None
                else f"Content-Type {shown!r} is not accepted"
            )
            body = contracts.error_body(
                problem, "send the records as JSON with the header Content-Type: application/json"
            )
            await JSONResponse(body, status_code=415)(scope, receive, send)
            return

        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] == 400:
                start = message
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await send_rewritten(start, b"".join(chunks))
            else:
                await send(message)

        async def send_rewritten(start: Message, raw: bytes) -> None:
            try:
                original = json.loads(raw)
            except ValueError:
                original = {}
            if isinstance(original, dict) and isinstance(original.get("detail"), list):
                raw = json.dumps(contracts.describe_validation_error(original)).encode()
            kept = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send({**start, "headers": [*kept, (b"content-length", str(len(raw)).encode())]})
            await send({"type": "http.response.body", "body": raw})

        await self.app(scope, receive, rewrite)


class RouteLabel:
    """Just outside BentoML's metrics middleware: label each request by the route serving it.

    BentoML labels its request metrics with the raw path, so a scan of random URLs would add a
    time series per URL. The metrics see instead the route's path (a mount's prefix, e.g.
    /static_content), or UNMATCHED. RestorePath, just inside the metrics, puts the real path
    back for tracing, the access log and routing.
    """

    def __init__(self, app: ASGIApp, routes: list[Any]) -> None:
        self.app = app
        self.routes = routes
        self.exact = {r.path for r in routes if type(r) is Route and "{" not in r.path}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.exact:
            scope = {**scope, "path": self.label(scope), "ratchet.path": scope["path"]}
        await self.app(scope, receive, send)

    def label(self, scope: Scope) -> str:
        for route in self.routes:
            if route.matches(scope)[0] is not Match.NONE:
                return str(getattr(route, "path", "")) or "/"
        return UNMATCHED


class RestorePath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "ratchet.path" in scope:
            scope = {**scope, "path": scope["ratchet.path"]}
        await self.app(scope, receive, send)


class DisarmedTimeout(TimeoutMiddleware):
    """BentoML's request timeout (`traffic.timeout`, a 504), with a timer that lets go of the
    request when it ends.

    BentoML's leaves the timer armed for the whole timeout (60 s) after the answer, holding the
    request's context, its tracing spans included: measured, the worker grew by 130 MB over the
    first minute at 400 requests a second, then stayed there.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        # An empty context: the timer must not keep the request's (asyncio purges cancelled
        # timers only in bulk).
        timer = loop.call_later(
            self.timeout, self._set_timer_out, waiter, context=contextvars.Context()
        )

        async def started(message: Message) -> None:
            if not waiter.done():
                waiter.set_result(None)
            await send(message)

        answering = asyncio.ensure_future(self.app(scope, receive, started))
        try:
            await waiter
        except TimeoutError:
            if answering.cancel():
                body = {"error": f"Not able to process the request in {self.timeout} seconds"}
                await JSONResponse(body, status_code=504)(scope, receive, send)
        else:
            await answering
        finally:
            timer.cancel()


class ClientErrorLog(logging.Filter):
    """BentoML logs each refused request at ERROR with a traceback: make a 4xx one INFO line.

    Installed on the logger BentoML's `log_exception` uses; errors of the service (5xx) keep
    their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ValidationError):
            status = 400
            reason = contracts.describe_validation_error(
                {"detail": exc.errors(include_url=False, include_input=False)}
            )["error"]
        elif isinstance(exc, BentoMLException) and exc.error_code < 500:
            status, reason = int(exc.error_code), contracts.clip(str(exc))
        else:
            return True
        path, method = record.args if isinstance(record.args, tuple) else ("?", "?")
        record.msg, record.args = "%s %s refused with %d: %s", (method, path, status, reason)
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        return True


def quiet_client_errors(logger_name: str = "bentoml._internal.server.http_app") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ClientErrorLog) for f in logger.filters):
        logger.addFilter(ClientErrorLog())


def max_body_bytes() -> int:
    raw = os.environ.get(MAX_BODY_ENV, str(MAX_BODY_BYTES))
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if limit < 1:
        raise RatchetError(f"{MAX_BODY_ENV}={raw!r}: give the largest request body in bytes")
    return limit
