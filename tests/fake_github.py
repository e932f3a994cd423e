"""GitHub's REST API as far as the comment job and CML 0.20.6 use it, served on loopback over TLS.

It holds one pull request and its comments, pages them as GitHub does (30 a page unless
`per_page` says otherwise, up to 100, with absolute `Link` URLs), refuses a body over GitHub's
65,536 characters, lets the job's token edit anyone's comment (as a token with
`pull-requests: write` may) and records every request. It answers GraphQL's `viewer { login }`
(at /api/graphql, beside /api/v3) with `login`: whoever the token is, who writes the comments it
creates (`github-actions[bot]` for a job's GITHUB_TOKEN, `NAME[bot]` for an App's). A second,
plain-HTTP listener stands in for CML's asset store, so that a test sees any file that CML would
upload.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HEAD = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "ghs_the_jobs_token"
PREFIX = "/api/v3"  # GitHub Enterprise Server's layout: GITHUB_API_URL ends in /api/v3
GRAPHQL = "/api/graphql"  # and its GraphQL endpoint
VIEWER = "query { viewer { login } }"
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
USERS = {
    "github-actions[bot]": BOT,
    "ratchet-app[bot]": {"login": "ratchet-app[bot]", "id": 200001, "type": "Bot"},  # an App
    "alice": {"login": "alice", "id": 101, "type": "User"},
    "mallory": {"login": "mallory", "id": 666, "type": "User"},
}


def cml_watermark(sha: str = "cafe" * 10) -> str:
    """The watermark exactly as CML 0.20.6 writes it for the title ratchet-metrics-gate."""
    return f'![](https://cml.dev/watermark.png#{sha} "CML watermark ratchet-metrics-gate")'


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int = 0
    payload: Any = None


@dataclass
class FakeGitHub:
    certificate: Path
    key: Path
    repository: str = "o/r"
    pr: int = 42
    head: str = HEAD
    comments: list[dict[str, Any]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    uploads: list[bytes] = field(default_factory=list)
    link_host: str | None = None  # write `Link` URLs for this host instead of ours
    writable: bool = True  # False: the token may not write to pull requests
    login: str = BOT["login"]  # whoever the token is
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seed(
        self, count: int, *, ours: tuple[int, ...] = (), foreign: tuple[int, ...] = ()
    ) -> None:
        """`count` comments, ids 1001 on; at the 1-based positions `ours`, an earlier report by
        the bot; at `foreign`, someone else's comment quoting the watermark."""
        for position in range(1, count + 1):
            if position in ours:
                self.add(self.login, f"Earlier report {position}\n\n{cml_watermark()}")
            elif position in foreign:
                self.add("mallory", f"Quoting the marker at {position}\n\n{cml_watermark()}")
            else:
                self.add("alice", f"Discussion {position}")

    def add(self, login: str, body: str) -> dict[str, Any]:
        number = 1001 + len(self.comments)
        comment = {
            "id": number,
            "body": body,
            "user": dict(USERS[login]),
            "html_url": f"https://github.example/{self.repository}/pull/{self.pr}#issuecomment-{number}",
        }
        self.comments.append(comment)
        return comment

    def by_id(self) -> dict[int, dict[str, Any]]:
        return {comment["id"]: comment for comment in self.comments}

    def writes(self) -> list[Call]:
        return [call for call in self.calls if call.method != "GET" and call.path != GRAPHQL]

    # --- serving ---------------------------------------------------------------------------------

    def __enter__(self) -> FakeGitHub:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, self.key)
        self.api = ThreadingHTTPServer(("127.0.0.1", 0), api_handler(self))
        self.api.socket = context.wrap_socket(self.api.socket, server_side=True)
        self.assets = ThreadingHTTPServer(("127.0.0.1", 0), asset_handler(self))
        for server in (self.api, self.assets):
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self.api, self.assets):
            server.shutdown()
            server.server_close()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.api.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"https://{self.host}{PREFIX}"

    @property
    def upload_url(self) -> str:
        return f"http://127.0.0.1:{self.assets.server_address[1]}/upload"

    # --- the API ---------------------------------------------------------------------------------

    def answer(self, method: str, url: str, authorization: str, raw: bytes) -> tuple[int, Any, str]:
        """Status, JSON and `Link` header for one request."""
        if authorization.rsplit(" ", 1)[-1] != TOKEN:
            return 401, {"message": "Bad credentials"}, ""
        parts = urlsplit(url)
        if method == "POST" and parts.path == GRAPHQL:
            return self.graphql(raw)
        path = parts.path.removeprefix(PREFIX)
        if method == "GET":
            return self.read(path, parts.path, parse_qs(parts.query))
        return self.write(method, path, raw)

    def write(self, method: str, path: str, raw: bytes) -> tuple[int, Any, str]:
        if not self.writable:
            return 403, {"message": "Resource not accessible by integration"}, ""
        body = str((json.loads(raw) if raw else {}).get("body"))
        if len(body) > 65_536:
            return 422, {"message": "Body is too long (maximum is 65536 characters)"}, ""
        if method == "POST" and path == f"/repos/{self.repository}/issues/{self.pr}/comments":
            return 201, self.add(self.login, body), ""
        found = re.fullmatch(rf"/repos/{self.repository}/issues/comments/(\d+)", path)
        comment = self.by_id().get(int(found.group(1))) if found else None
        if method == "PATCH" and comment is not None:
            comment["body"] = body
            return 200, comment, ""
        return 404, {"message": "Not Found"}, ""

    def graphql(self, raw: bytes) -> tuple[int, Any, str]:
        """The one query the comment job asks: who the token is (GitHub answers 200 either way)."""
        query = " ".join(str(json.loads(raw or b"{}").get("query")).split())
        if query != VIEWER:
            return 200, {"errors": [{"message": f"not served here: {query}"}]}, ""
        return 200, {"data": {"viewer": {"login": self.login}}}, ""

    def read(self, path: str, full_path: str, query: dict[str, list[str]]) -> tuple[int, Any, str]:
        if found := re.fullmatch(r"/users/([^/]+)", path):
            user = USERS.get(found.group(1))
            return (200, user, "") if user else (404, {"message": "Not Found"}, "")
        if path == f"/repos/{self.repository}/pulls/{self.pr}":
            return 200, {"number": self.pr, "head": {"sha": self.head}}, ""
        if path == f"/repos/{self.repository}/issues/{self.pr}/comments":
            return self.page(full_path, query)
        return 404, {"message": "Not Found"}, ""

    def page(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, str]:
        size = min(int(query.get("per_page", ["30"])[0]), 100)
        number = int(query.get("page", ["1"])[0])
        items = self.comments[(number - 1) * size : number * size]
        link = ""
        if number * size < len(self.comments):
            following = urlencode({"per_page": size, "page": number + 1})
            link = f'<https://{self.link_host or self.host}{path}?{following}>; rel="next"'
        return 200, items, link


def api_handler(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.serve()

        do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

        def serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            call = Call(self.command, urlsplit(self.path).path, parse_qs(urlsplit(self.path).query))
            call.payload = json.loads(raw) if raw else None
            with github.lock:
                status, data, link = github.answer(
                    self.command, self.path, self.headers.get("Authorization", ""), raw
                )
                call.status = status
                github.calls.append(call)
            content = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(content)))
            if link:
                self.send_header("Link", link)
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def asset_handler(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            github.uploads.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.send_header("Content-Length", "26")
            self.end_headers()
            self.wfile.write(b"https://assets.invalid/x.p")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
