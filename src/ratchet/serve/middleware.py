"""The service's HTTP edge, as ASGI middlewares added through BentoML's public hook
(`Service.add_asgi_middleware`): a body limit (413), JSON only (415), a 400 that names the field
and repeats at most ECHO_LIMIT characters of what the client sent, each refusal logged as one
line, and the Swagger UI page without the tag manager BentoML's page loads.

BentoML has no setting for any of these. Its own settings (timeout, workers, access log,
tracing, metrics) are in service.py; its bugs are worked around in workarounds.py.
"""

from __future__ import annotations

import logging
import os

from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ratchet.core.errors import RatchetError
from ratchet.serve import contract as contracts

# Refused requests, one INFO line each: "POST /predict refused with 400: records[0].age: ...".
logger = logging.getLogger("ratchet.serve")

# The largest request body accepted, in bytes; larger ones get a 413 before they are read.
MAX_BODY_ENV = "RATCHET_MAX_BODY_BYTES"
MAX_BODY_BYTES = 2**20


async def refuse(scope: Scope, send: Send, status: int, body: dict[str, str]) -> None:
    """Answer with an error and log it as one line (what a client sent is clipped in `body`)."""
    path = contracts.clip(scope["path"])
    logger.info("%s %s refused with %d: %s", scope["method"], path, status, body["error"])
    # Connection: close on a 413, so that uvicorn does not read the rest of the body to reuse it.
    headers = {"connection": "close"} if status == 413 else None
    await JSONResponse(body, status_code=status, headers=headers)(scope, empty, send)


async def empty() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


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
                await self.refuse(scope, send)
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
                    await self.refuse(scope, send)
                    return
                buffered.append(message)
                if not message.get("more_body", False):
                    break

            async def replay() -> Message:
                return buffered.pop(0) if buffered else await receive()

            receive = replay
        await self.app(scope, receive, send)

    async def refuse(self, scope: Scope, send: Send) -> None:
        body = contracts.error_body(
            f"the request body is over {self.limit} bytes",
            f"send at most {contracts.MAX_RECORDS} records per request, or fewer at a time",
        )
        await refuse(scope, send, 413, body)


class ValidRequests:
    """Refuse a predict request that is not JSON (415) or not valid (400, naming each field),
    before BentoML reads it: BentoML would answer a form with a 500, log a refusal at ERROR with
    a traceback, and give the errors as a list where its OpenAPI spec promises a string.

    A valid body is handed on as it came; BentoML parses it again (a few microseconds a record).
    """

    def __init__(self, app: ASGIApp, route: str, request: type[BaseModel]) -> None:
        self.app = app
        self.route = route
        self.request = request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.route or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        content_type = Headers(scope=scope).get("content-type")
        media_type = (content_type or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            problem = (
                "the request has no Content-Type header"
                if content_type is None
                else f"Content-Type {contracts.clip(media_type)!r} is not accepted"
            )
            fix = "send the records as JSON with the header Content-Type: application/json"
            await refuse(scope, send, 415, contracts.error_body(problem, fix))
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            messages.append(message)
            if not message.get("more_body", False):
                break
        try:
            self.request.model_validate_json(b"".join(m.get("body", b"") for m in messages))
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False, include_context=False)
            await refuse(scope, send, 400, contracts.describe_validation_error({"detail": errors}))
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>{title}</title>
    <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" />
    <link rel="stylesheet" type="text/css" href="./static_content/index.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="./static_content/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="./static_content/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"""


class SwaggerPage:
    """The Swagger UI at /, from the files BentoML serves, without the Google Tag Manager that
    BentoML's own page loads: the service's pages call nothing outside it."""

    def __init__(self, app: ASGIApp, title: str) -> None:
        self.app = app
        self.page = HTMLResponse(SWAGGER_PAGE.format(title=title))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "GET":
            await self.page(scope, receive, send)
            return
        await self.app(scope, receive, send)


def max_body_bytes() -> int:
    raw = os.environ.get(MAX_BODY_ENV, str(MAX_BODY_BYTES))
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if limit < 1:
        raise RatchetError(f"{MAX_BODY_ENV}={raw!r}: give the largest request body in bytes")
    return limit
