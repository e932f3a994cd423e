"""A relay on loopback between CML and GitHub that lets CML write one comment: ours.

CML 0.20.6's `cml comment update` reads a pull request's first 30 comments only, and edits the
newest one that carries its watermark, whoever wrote it. So anyone who pastes the watermark gets
their comment overwritten by the report (or, when the token may not edit it, blocks the post), and
on a thread of more than 30 comments our own comment is never found and a new one is made each
time. CML has no option to change that, so it talks to this relay instead of GitHub:

- the relay holds the job's token; CML gets a random one that only the relay accepts;
- it reads every comment, on every page, and shows CML only ours (the newest by the job's token,
  with the exact watermark) or none, so that CML cannot pick anything else;
- it forwards one write and only that one: the update of our comment, or a new comment when we
  have none, carrying exactly the text Ratchet composed; anything else is refused.

CML speaks only https to a host that is not github.com, so the relay serves TLS on 127.0.0.1 with
a certificate made for this run by the `openssl` command (GitHub's runners have it) and trusted by
CML alone. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shlex
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ratchet.core.process import run
from ratchet.github.api import GitHubAPI, Response

API = "/api/v3"  # where CML looks for the API of a host that is not github.com
MAKE_CERTIFICATE = shlex.split(
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
    "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
)


def watermark(title: str, sha: str) -> str:
    """The line CML 0.20.6 appends to a comment (src/watermark.js), for a plain title (CML
    escapes `_ * [ <`, which Ratchet's title does not hold)."""
    return f'![](https://cml.dev/watermark.png#{sha} "CML watermark {title}")'


def watermark_pattern(title: str) -> re.Pattern[str]:
    """CML's own test for its watermark: any commit, exactly this title."""
    return re.compile(
        r"!\[\]\(https://cml\.dev/watermark\.png#[0-9a-fA-F]+ "
        + re.escape(f'"CML watermark {title}"')
        + r"\)"
    )


def own_comment(comments: list[dict[str, Any]], title: str, author: str) -> dict[str, Any] | None:
    """Our comment: the newest one that `author` (whoever the job's token is) wrote with the
    watermark. Anybody can paste the watermark, so a comment by anyone else is never ours."""
    pattern = watermark_pattern(title)
    ours = [
        comment
        for comment in comments
        if isinstance(comment.get("id"), int)
        and isinstance(user := comment.get("user"), dict)
        and user.get("login") == author
        and pattern.search(str(comment.get("body") or ""))
    ]
    return max(ours, key=lambda comment: int(comment["id"])) if ours else None


@dataclass(frozen=True)
class Allowance:
    """The one write CML may make: update `comment` (ours), or with none, create one on the pull
    request; either way with exactly `body`."""

    repository: str  # owner/name
    pr: int
    comment: dict[str, Any] | None
    body: str

    @property
    def listing(self) -> str:
        return f"/repos/{self.repository}/issues/{self.pr}/comments"

    @property
    def write(self) -> tuple[str, str]:
        if self.comment is None:
            return "POST", self.listing
        return "PATCH", f"/repos/{self.repository}/issues/comments/{self.comment['id']}"


@dataclass
class Relay:
    """Answers CML's requests (see the module's docstring); `written` is GitHub's answer to the
    write it forwarded, and `refused` what it did not let through."""

    api: GitHubAPI
    allowance: Allowance
    client_token: str = field(default_factory=lambda: secrets.token_hex(20), repr=False)
    written: Response | None = None
    refused: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answer(self, method: str, path: str, authorization: str, raw: bytes) -> tuple[int, Any]:
        """The status and JSON to answer CML's `method path` with."""
        offered = authorization.rsplit(" ", 1)[-1].encode()
        if not secrets.compare_digest(offered, self.client_token.encode()):
            return self.refuse(401, method, path, "Bad credentials")
        if method == "GET":
            return self.read(path)
        return self.write(method, path, raw)

    def read(self, path: str) -> tuple[int, Any]:
        if path.startswith(f"{API}/users/"):
            return 404, {"message": "Not Found"}  # CML's telemetry looks up the actor; no matter
        if path == API + self.allowance.listing:
            comment = self.allowance.comment
            return 200, [comment] if comment else []
        return self.refuse(403, "GET", path, "not what the comment job may do")

    def write(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        allowed_method, allowed_path = self.allowance.write
        if (method, path) != (allowed_method, API + allowed_path):
            return self.refuse(403, method, path, "not what the comment job may do")
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if payload != {"body": self.allowance.body}:
            return self.refuse(422, method, path, "not the text Ratchet composed")
        with self._lock:
            if self.written is not None:
                return self.refuse(429, method, path, "the one write is spent")
            self.written = self.api.request(method, allowed_path, payload)
        return self.written.status, self.written.data

    def refuse(self, status: int, method: str, path: str, why: str) -> tuple[int, Any]:
        self.refused.append(f"{method} {path} ({why})")
        return status, {"message": f"refused by Ratchet's relay: {why}"}


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle connection does not hold its thread

    def do_GET(self) -> None:
        self.relay()

    def do_POST(self) -> None:
        self.relay()

    def do_PATCH(self) -> None:
        self.relay()

    def do_PUT(self) -> None:
        self.relay()

    def do_DELETE(self) -> None:
        self.relay()

    def relay(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, data = self.server.relay.answer(
            self.command, urlsplit(self.path).path, self.headers.get("Authorization", ""), raw
        )
        content = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: what matters is in `Relay.written` and `Relay.refused`."""


class Server(ThreadingHTTPServer):
    """Each connection is wrapped in TLS in its own thread, so that a client that stalls in the
    handshake cannot stall the server."""

    def __init__(self, relay: Relay, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.relay = relay
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(30)
        with self.context.wrap_socket(request, server_side=True) as wrapped:
            super().finish_request(wrapped, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or fails the handshake is no error of the relay's."""


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, valid for a day, and its key: made for one run, trusted by
    the one client told to trust it."""
    certificate, key = folder / "relay.pem", folder / "relay.key"
    run([*MAKE_CERTIFICATE, "-keyout", str(key), "-out", str(certificate)])
    return certificate, key


@contextlib.contextmanager
def serving(relay: Relay) -> Iterator[tuple[str, Path]]:
    """Serve `relay` on 127.0.0.1 over TLS until the block ends; yields its URL and the
    certificate to trust."""
    with tempfile.TemporaryDirectory(prefix="ratchet-relay-") as folder:
        certificate, key = self_signed(Path(folder))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        server = Server(relay, context)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            host, port = server.server_address[:2]
            yield f"https://{host!s}:{port}", certificate
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
