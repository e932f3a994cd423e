"""GitHub's REST API as far as the comment job, CML 0.20.6 and the deploy pull requests use it,
served on loopback over TLS.

It holds one pull request and its comments, pages them as GitHub does (30 a page unless
`per_page` says otherwise, up to 100, with absolute `Link` URLs), refuses a body over GitHub's
65,536 characters, lets the job's token edit anyone's comment (as a token with
`pull-requests: write` may) and records every request. It answers GraphQL's `viewer { login }`
(at /api/graphql, beside /api/v3) with `login`: whoever the token is, who writes the comments it
creates (`github-actions[bot]` for a job's GITHUB_TOKEN, `NAME[bot]` for an App's). For the deploy
pull requests it also holds a repository's branches and files (`Git`): refs, the contents API,
pull requests and their files, answering as GitHub's REST API does. For the drift alert and the
release it holds labels, issues and their comments, tags and releases, and records each
`workflow_dispatch` it is asked for. A second, plain-HTTP listener
stands in for CML's asset store, so that a test sees any file that CML would upload.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import re
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

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


def blob_sha(content: str) -> str:
    """The sha git gives a file's content, as the contents API reports it."""
    raw = content.encode()
    return hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()


@dataclass
class Git:
    """A repository's branches (name: commit), its commits (sha: the tree, path: text) and its
    pull requests, as far as the contents API sees them."""

    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, str]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # name: commit

    def commit(self, branch: str, files: dict[str, str], message: str = "seed") -> str:
        """Commit `files` over what `branch` holds (a new branch starts empty)."""
        tree = {**self.commits.get(self.branches.get(branch, ""), {}), **files}
        sha = hashlib.sha1(json.dumps([self.branches.get(branch), tree, message]).encode())
        self.commits[sha.hexdigest()] = tree
        self.messages[sha.hexdigest()] = message
        self.branches[branch] = sha.hexdigest()
        return sha.hexdigest()

    def tree(self, ref: str) -> dict[str, str] | None:
        """The files at a branch or a commit."""
        return self.commits.get(self.branches.get(ref, ref))

    def diff(self, pull: dict[str, Any]) -> list[dict[str, Any]]:
        """The pull request's files, with a unified `patch` each, as GitHub lists them."""
        base, head = self.tree(pull["base"]["ref"]) or {}, self.tree(pull["head"]["ref"]) or {}
        files = []
        for path in sorted(set(base) | set(head)):
            if base.get(path) == head.get(path):
                continue
            lines = difflib.unified_diff(
                base.get(path, "").splitlines(), head.get(path, "").splitlines(), lineterm="", n=3
            )
            patch = "\n".join(line for line in lines if not line.startswith(("---", "+++")))
            status = "added" if path not in base else "removed" if path not in head else "modified"
            files.append({"filename": path, "status": status, "patch": patch})
        return files


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
    git: Git = field(default_factory=Git)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)  # each with its `comments`
    releases: list[dict[str, Any]] = field(default_factory=list)
    dispatches: list[dict[str, Any]] = field(default_factory=list)  # workflow, ref
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
        return self.write_git(method, path, json.loads(raw) if raw else {})

    def write_git(self, method: str, path: str, payload: dict[str, Any]) -> tuple[int, Any, str]:
        """Branches, files and pull requests: POST and PATCH of refs, PUT of contents, pulls."""
        repo = f"/repos/{self.repository}"
        if method == "POST" and path == f"{repo}/git/refs":
            branch = str(payload["ref"]).removeprefix("refs/heads/")
            return self.set_ref(branch, payload["sha"], create=True)
        if method == "PATCH" and (found := re.fullmatch(rf"{repo}/git/refs/heads/(.+)", path)):
            return self.set_ref(unquote(found.group(1)), payload["sha"], create=False)
        if method == "PUT" and (found := re.fullmatch(rf"{repo}/contents/(.+)", path)):
            return self.put_contents(unquote(found.group(1)), payload)
        if method == "POST" and path == f"{repo}/pulls":
            return self.open_pull(payload)
        if method == "PATCH" and (found := re.fullmatch(rf"{repo}/pulls/(\d+)", path)):
            return self.edit_pull(int(found.group(1)), payload)
        return self.write_issues(method, path, payload)

    def write_issues(self, method: str, path: str, payload: dict[str, Any]) -> tuple[int, Any, str]:
        """Labels, issues and their comments."""
        repo = f"/repos/{self.repository}"
        if method == "POST" and path == f"{repo}/labels":
            if payload["name"] in self.labels:
                return 422, {"message": "Validation Failed: already_exists"}, ""
            self.labels[payload["name"]] = payload
            return 201, payload, ""
        if method == "POST" and path == f"{repo}/issues":
            number = 1 + len(self.issues)
            issue = {
                "number": number,
                "state": "open",
                "title": payload["title"],
                "body": payload.get("body"),
                "labels": [{"name": name} for name in payload.get("labels", [])],
                "html_url": f"https://github.example/{self.repository}/issues/{number}",
                "comments": [],
            }
            self.issues.append(issue)
            return 201, issue, ""
        found = re.fullmatch(rf"{repo}/issues/(\d+)/comments", path)
        issues = [i for i in self.issues if found and i["number"] == int(found.group(1))]
        if method == "POST" and issues:
            issues[0]["comments"].append(payload["body"])
            url = f"{issues[0]['html_url']}#issuecomment-{len(issues[0]['comments'])}"
            return 201, {"body": payload["body"], "html_url": url}, ""
        return self.write_actions(method, path, payload)

    def write_actions(
        self, method: str, path: str, payload: dict[str, Any]
    ) -> tuple[int, Any, str]:
        """Releases and workflow dispatches."""
        repo = f"/repos/{self.repository}"
        if method == "POST" and path == f"{repo}/releases":
            tag = payload["tag_name"]
            if any(release["tag_name"] == tag for release in self.releases):
                return 422, {"message": "Validation Failed: tag_name already_exists"}, ""
            url = f"https://github.example/{self.repository}/releases/tag/{tag}"
            self.releases.append({**payload, "html_url": url})
            return 201, self.releases[-1], ""
        found = re.fullmatch(rf"{repo}/actions/workflows/([^/]+)/dispatches", path)
        if method == "POST" and found:
            self.dispatches.append({"workflow": unquote(found.group(1)), "ref": payload["ref"]})
            return 204, None, ""
        return 404, {"message": "Not Found"}, ""

    def graphql(self, raw: bytes) -> tuple[int, Any, str]:
        """The one query the comment job asks: who the token is (GitHub answers 200 either way)."""
        query = " ".join(str(json.loads(raw or b"{}").get("query")).split())
        if query != VIEWER:
            return 200, {"errors": [{"message": f"not served here: {query}"}]}, ""
        return 200, {"data": {"viewer": {"login": self.login}}}, ""

    def set_ref(self, branch: str, sha: str, *, create: bool) -> tuple[int, Any, str]:
        if create == (branch in self.git.branches):
            exists = "already exists" if create else "does not exist"
            return 422, {"message": f"Reference {exists}"}, ""
        if sha not in self.git.commits:
            return 422, {"message": "Object does not exist"}, ""
        self.git.branches[branch] = sha
        return (201 if create else 200), self.ref(branch), ""

    def put_contents(self, file: str, payload: dict[str, Any]) -> tuple[int, Any, str]:
        """A commit of one file on a branch; refused if the file changed since its `sha`."""
        branch = payload.get("branch") or "main"
        tree = self.git.tree(branch)
        if tree is None:
            return 404, {"message": "Branch not found"}, ""
        if file in tree and payload.get("sha") != blob_sha(tree[file]):
            return 409, {"message": f"{file} does not match {payload.get('sha')}"}, ""
        content = base64.b64decode(payload["content"]).decode()
        sha = self.git.commit(branch, {file: content}, payload["message"])
        written = {"path": file, "sha": blob_sha(content)}
        return 200, {"content": written, "commit": {"sha": sha}}, ""

    def edit_pull(self, number: int, payload: dict[str, Any]) -> tuple[int, Any, str]:
        pulls = [pull for pull in self.git.pulls if pull["number"] == number]
        if not pulls:
            return 404, {"message": "Not Found"}, ""
        pulls[0].update({key: payload[key] for key in ("title", "body") if key in payload})
        return 200, pulls[0], ""

    def open_pull(self, payload: dict[str, Any]) -> tuple[int, Any, str]:
        git, head, base = self.git, payload.get("head"), payload.get("base")
        if head not in git.branches or base not in git.branches:
            return 422, {"message": "Validation Failed: head or base does not exist"}, ""
        if git.tree(head) == git.tree(base):
            return 422, {"message": f"No commits between {base} and {head}"}, ""
        if any(p["head"]["ref"] == head and p["state"] == "open" for p in git.pulls):
            return 422, {"message": f"A pull request already exists for {head}"}, ""
        number = 100 + len(git.pulls)
        pull = {
            "number": number,
            "state": "open",
            "title": payload["title"],
            "body": payload.get("body"),
            "head": {"ref": head, "label": f"{self.repository.split('/')[0]}:{head}"},
            "base": {"ref": base},
            "html_url": f"https://github.example/{self.repository}/pull/{number}",
        }
        git.pulls.append(pull)
        return 201, pull, ""

    def ref(self, branch: str) -> dict[str, Any]:
        sha = self.git.branches[branch]
        return {"ref": f"refs/heads/{branch}", "object": {"sha": sha, "type": "commit"}}

    def read(self, path: str, full_path: str, query: dict[str, list[str]]) -> tuple[int, Any, str]:
        if found := re.fullmatch(r"/users/([^/]+)", path):
            user = USERS.get(found.group(1))
            return (200, user, "") if user else (404, {"message": "Not Found"}, "")
        if path == f"/repos/{self.repository}/pulls/{self.pr}":
            return 200, {"number": self.pr, "head": {"sha": self.head}}, ""
        if path == f"/repos/{self.repository}/issues/{self.pr}/comments":
            return self.page(full_path, query)
        return self.read_git(path, query)

    def read_git(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, str]:
        """A branch's ref, a file's contents at a ref, the open pull requests and their files."""
        repo, git = f"/repos/{self.repository}", self.git
        if found := re.fullmatch(rf"{repo}/git/ref/heads/(.+)", path):
            branch = unquote(found.group(1))
            found_ref = (200, self.ref(branch), "") if branch in git.branches else None
            return found_ref or (404, {"message": "Not Found"}, "")
        if found := re.fullmatch(rf"{repo}/contents/(.+)", path):
            file, tree = unquote(found.group(1)), git.tree(query.get("ref", ["main"])[0])
            if tree is None or file not in tree:
                return 404, {"message": "Not Found"}, ""
            content = base64.b64encode(tree[file].encode()).decode()
            answer = {"type": "file", "encoding": "base64", "content": content, "path": file}
            return 200, {**answer, "sha": blob_sha(tree[file])}, ""
        if path == f"{repo}/pulls":
            wanted = {key: values[0] for key, values in query.items()}
            pulls = [
                pull
                for pull in git.pulls
                if pull["state"] == wanted.get("state", "open")
                and wanted.get("head") in (None, pull["head"]["label"])
                and wanted.get("base") in (None, pull["base"]["ref"])
            ]
            return 200, pulls, ""
        if found := re.fullmatch(rf"{repo}/pulls/(\d+)/files", path):
            pulls = [pull for pull in git.pulls if pull["number"] == int(found.group(1))]
            return (200, git.diff(pulls[0]), "") if pulls else (404, {"message": "Not Found"}, "")
        return self.read_issues(path, query)

    def read_issues(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, str]:
        """A tag's ref; the issues, by label and state."""
        repo, tags = f"/repos/{self.repository}", self.git.tags
        found = re.fullmatch(rf"{repo}/git/ref/tags/(.+)", path)
        if found and unquote(found.group(1)) in tags:
            tag = unquote(found.group(1))
            return 200, {"ref": f"refs/tags/{tag}", "object": {"sha": tags[tag]}}, ""
        if path == f"{repo}/issues":
            label, state = query.get("labels", [""])[0], query.get("state", ["open"])[0]
            issues = [
                issue
                for issue in reversed(self.issues)  # newest first, as GitHub lists them
                if issue["state"] == state
                and (not label or label in [each["name"] for each in issue["labels"]])
            ]
            return 200, issues, ""
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
            content = b"" if status == 204 else json.dumps(data).encode()
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
