"""The one place where the service works around BentoML's bugs, each pinned to the BentoML
versions known to have it. tests/serve/test_workarounds.py checks that the installed BentoML
still has each bug, and fails once it is fixed: then delete the workaround.

- LEAKY_TIMEOUT: BentoML's request timeout (`traffic.timeout`) leaves its timer armed for the
  whole timeout after the answer, holding the request's context (its tracing spans included):
  with tracing on, 4.5 kB a request for 60 s, measured (the worker grew by 130 MB at 400
  requests a second). The service answers with the same 504 through DisarmedTimeout, which lets
  go when the request ends.
- RAW_PATH_LABELS: BentoML labels its request metrics with the raw path, so a scan of random URLs
  adds a time series per URL. RouteLabel, around BentoML's app, shows the metrics each request's
  route instead (a mount's prefix, or UNMATCHED); RestorePath, one of the service's middlewares,
  puts the real path back for routing.

Both are applied by `fix_app` to the app `Service.to_asgi` returns (service.py), which is what
`bentoml serve` runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
from importlib.metadata import version
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The BentoML versions each workaround is for: from the first with the bug to the newest checked.
LEAKY_TIMEOUT = ("1.2.0", "1.4.39")
RAW_PATH_LABELS = ("1.2.0", "1.4.39")
# The metrics label of every request to a path that no route serves.
UNMATCHED = "unmatched"
# Where RouteLabel keeps the real path for RestorePath.
REAL_PATH = "ratchet.path"


def needed(bug: tuple[str, str], installed: str | None = None) -> bool:
    """Whether the installed BentoML (or `installed`) is one of the versions with `bug`."""

    def numbers(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", text)[:3])

    first, last = bug
    return numbers(first) <= numbers(installed or version("bentoml")) <= numbers(last)


def fix_app(app: Starlette) -> ASGIApp:
    """BentoML's app with the workarounds its version needs."""
    if needed(LEAKY_TIMEOUT):
        stack = app.user_middleware  # built into the app on its first request
        for i, middleware in enumerate(stack):
            # BentoML's request timeout: the one middleware built from `traffic.timeout` alone.
            options: dict[str, Any] = dict(middleware.kwargs)
            if set(options) == {"timeout"}:
                stack[i] = Middleware(DisarmedTimeout, timeout=options["timeout"])
    if needed(RAW_PATH_LABELS):
        return RouteLabel(app, app.routes)
    return app


class DisarmedTimeout:
    """A request not answered within `timeout` seconds gets BentoML's 504; the timer is
    cancelled when the request ends, and never held the request's context."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()

        def time_out() -> None:
            if not waiter.done():
                waiter.set_exception(TimeoutError())

        # An empty context: asyncio purges cancelled timers only in bulk, and a timer keeps its
        # context until then.
        timer = loop.call_later(self.timeout, time_out, context=contextvars.Context())

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


class RouteLabel:
    """Around BentoML's app: each request's path becomes its route's (a mount's prefix, e.g.
    /static_content) or UNMATCHED, for BentoML's metrics, tracing and access log."""

    def __init__(self, app: ASGIApp, routes: list[Any]) -> None:
        self.app = app
        self.routes = routes
        self.exact = {r.path for r in routes if type(r) is Route and "{" not in r.path}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.exact:
            scope = {**scope, "path": self.label(scope), REAL_PATH: scope["path"]}
        await self.app(scope, receive, send)

    def label(self, scope: Scope) -> str:
        for route in self.routes:
            if route.matches(scope)[0] is not Match.NONE:
                return str(getattr(route, "path", "")) or "/"
        return UNMATCHED


class RestorePath:
    """Inside BentoML's metrics: the request's real path again, for routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if REAL_PATH in scope:
            scope = {**scope, "path": scope[REAL_PATH]}
        await self.app(scope, receive, send)
