"""GitHub's REST API through the standard library: Ratchet's one GitHub client, for every job
that writes to GitHub (the PR comment and its relay, the deploy pull requests, the GitHub Release,
the drift issue, the retraining pull request). Those jobs hold a write token, so they run on the
system Python with no install and no `gh`; and a client of plain HTTPS is what the tests run
against a stand-in GitHub on loopback.

The token comes from the run (`actions.current()`, the one reader of GH_TOKEN and GITHUB_TOKEN)
and goes to the API's host and nowhere else: it is never printed, a redirect is not followed, and
a `Link` to another host is refused rather than read.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from ratchet.core.errors import RatchetError
from ratchet.github.actions import Run

NEXT_PAGE = re.compile(r'<([^>]+)>;\s*rel="next"')
MAX_PAGES = 100  # 10,000 comments at 100 a page: far more than a pull request holds


@dataclass(frozen=True)
class Response:
    status: int
    data: Any  # the parsed JSON, or None
    next_page: str | None = None  # the `Link: <…>; rel="next"` URL, if any


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the token to wherever it points: answer it as the error it is."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class GitHubAPI:
    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc:
            raise RatchetError(f"GITHUB_API_URL must be an https URL, not {url!r}")
        self.base = url.rstrip("/")
        self.host = parts.netloc
        self._token = token
        self._opener = urllib.request.build_opener(
            NoRedirect, urllib.request.HTTPSHandler(context=ssl.create_default_context())
        )

    def request(self, method: str, url: str, payload: dict[str, Any] | None = None) -> Response:
        """Call the API; `url` is a path under it (`/repos/…`) or an absolute URL on its host."""
        if url.startswith("/"):
            url = self.base + url
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.netloc != self.host:
            raise RatchetError(f"refusing to send the token to {url}: not the API at {self.host}")
        request = urllib.request.Request(
            url,
            data=json.dumps(payload).encode() if payload is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "ratchet",
                **({"Content-Type": "application/json"} if payload is not None else {}),
            },
        )
        try:
            with self._opener.open(request, timeout=30) as answer:
                link = answer.headers.get("Link") or ""
                found = NEXT_PAGE.search(link)
                next_page = found.group(1) if found else None
                return Response(answer.status, parse(answer.read()), next_page)
        except urllib.error.HTTPError as error:
            return Response(error.code, parse(error.read()))
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RatchetError(f"cannot reach the GitHub API at {self.host}: {reason}") from None

    @property
    def graphql_url(self) -> str:
        """GitHub's GraphQL endpoint: /graphql beside the REST API's root, or on GitHub
        Enterprise Server, whose REST API is at /api/v3, /api/graphql."""
        if self.base.endswith("/api/v3"):
            return self.base.removesuffix("/v3") + "/graphql"
        return self.base + "/graphql"

    def graphql(self, query: str) -> Any:
        """The `data` of a GraphQL query (GitHub answers its errors with 200 and `errors`)."""
        answer = self.request("POST", self.graphql_url, {"query": query})
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.status != 200 or data.get("errors") or "data" not in data:
            said = data.get("errors") or message(answer.data)
            raise RatchetError(f"GraphQL {query!r} answered {answer.status}: {said}")
        return data["data"]

    def viewer_login(self) -> str:
        """Who the token is: `github-actions[bot]` for a job's GITHUB_TOKEN, `NAME[bot]` for a
        GitHub App's installation token, a person's login for their token. From GraphQL's
        `viewer`: REST's GET /user refuses installation tokens."""
        data = self.graphql("query { viewer { login } }")
        viewer = data.get("viewer") if isinstance(data, dict) else None
        login = viewer.get("login") if isinstance(viewer, dict) else None
        if not isinstance(login, str) or not login:
            raise RatchetError("GitHub did not say who the token is (GraphQL viewer.login)")
        return login

    def get(self, path: str) -> Response:
        answer = self.request("GET", path)
        if answer.status != 200:
            raise RatchetError(f"GET {path} answered {answer.status}: {message(answer.data)}")
        return answer

    def all_pages(self, path: str) -> list[Any]:
        """Every item of a listing, page after page (100 a page)."""
        items: list[Any] = []
        url: str | None = f"{path}{'&' if '?' in path else '?'}per_page=100"
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            answer = self.get(url)
            if not isinstance(answer.data, list):
                raise RatchetError(f"GET {path} did not answer a list")
            items += answer.data
            url = answer.next_page
        raise RatchetError(f"GET {path} has more than {MAX_PAGES} pages")

    def pull_head(self, repository: str, number: int) -> str:
        """The commit a pull request's head is at now."""
        data = self.get(f"/repos/{repository}/pulls/{number}").data
        head = data.get("head") if isinstance(data, dict) else None
        sha = head.get("sha") if isinstance(head, dict) else None
        if not isinstance(sha, str):
            raise RatchetError(f"GitHub did not say which commit PR #{number} is at")
        return sha

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """A write (or a read) that must succeed: its JSON, or a RatchetError with GitHub's word."""
        answer = self.request(method, path, payload)
        if answer.status not in (200, 201, 204):
            raise RatchetError(f"{method} {path} answered {answer.status}: {message(answer.data)}")
        return answer.data

    def branch_head(self, repository: str, branch: str) -> str:
        """The commit a branch is at."""
        data = self.get(f"/repos/{repository}/git/ref/heads/{quote(branch)}").data
        found = data.get("object", {}).get("sha") if isinstance(data, dict) else None
        if not isinstance(found, str):
            raise RatchetError(f"GitHub did not say which commit {branch} of {repository} is at")
        return found

    def file(self, repository: str, path: str, ref: str) -> tuple[str, str]:
        """A text file's content at `ref` (a branch or commit), and its blob's sha."""
        query = urlencode({"ref": ref})
        answer = self.request("GET", f"/repos/{repository}/contents/{quote(path)}?{query}")
        if answer.status == 404:
            raise RatchetError(f"{repository} has no {path} at {ref}")
        data = answer.data
        if answer.status != 200 or not isinstance(data, dict) or data.get("encoding") != "base64":
            raise RatchetError(f"{path} at {ref} of {repository} is not a file")
        return base64.b64decode(data["content"]).decode("utf-8"), str(data["sha"])

    def reset_branch(self, repository: str, branch: str, commit: str) -> None:
        """Point `branch` at `commit`, creating it if need be (what it held before is dropped)."""
        created = self.request(
            "POST", f"/repos/{repository}/git/refs", {"ref": f"refs/heads/{branch}", "sha": commit}
        )
        if created.status != 201:  # 422: it exists already
            ref = f"/repos/{repository}/git/refs/heads/{quote(branch)}"
            self.call("PATCH", ref, {"sha": commit, "force": True})

    def put_file(self, repository: str, path: str, content: str, message: str, branch: str) -> str:
        """Commit `content` as `path` on `branch`; returns the new commit's sha."""
        _, blob = self.file(repository, path, branch)
        data = self.call(
            "PUT",
            f"/repos/{repository}/contents/{quote(path)}",
            {
                "message": message,
                "content": base64.b64encode(content.encode("utf-8")).decode(),
                "sha": blob,  # the file it replaces: GitHub refuses the write if it moved
                "branch": branch,
            },
        )
        return str(data["commit"]["sha"])

    def open_or_update_pull(
        self, repository: str, base: str, branch: str, title: str, body: str
    ) -> str:
        """Open the pull request from `branch` into `base`, or refresh the open one."""
        owner = repository.split("/", 1)[0]
        query = urlencode({"head": f"{owner}:{branch}", "base": base, "state": "open"})
        found = self.get(f"/repos/{repository}/pulls?{query}").data
        pulls = f"/repos/{repository}/pulls"
        if isinstance(found, list) and found:
            number = found[0]["number"]
            data = self.call("PATCH", f"{pulls}/{number}", {"title": title, "body": body})
            return f"updated {data['html_url']}"
        payload = {"title": title, "head": branch, "base": base, "body": body}
        return f"opened {self.call('POST', pulls, payload)['html_url']}"

    def issue_comments(self, repository: str, number: int) -> list[dict[str, Any]]:
        """Every comment of an issue or pull request, oldest first."""
        comments = self.all_pages(f"/repos/{repository}/issues/{number}/comments")
        return [comment for comment in comments if isinstance(comment, dict)]

    def ensure_label(self, repository: str, name: str, color: str, description: str) -> None:
        """Create the label, unless the repository has it already (then it is left as it is)."""
        payload = {"name": name, "color": color, "description": description}
        answer = self.request("POST", f"/repos/{repository}/labels", payload)
        if answer.status not in (201, 422):  # 422: already_exists
            raise RatchetError(
                f"POST /repos/{repository}/labels answered {answer.status}: {message(answer.data)}"
            )

    def open_issues(self, repository: str, label: str) -> list[dict[str, Any]]:
        """The open issues with the label, newest first (pull requests, which GitHub lists among
        issues, left out)."""
        query = urlencode({"labels": label, "state": "open"})
        issues = self.all_pages(f"/repos/{repository}/issues?{query}")
        return [i for i in issues if isinstance(i, dict) and "pull_request" not in i]

    def create_issue(self, repository: str, title: str, body: str, labels: list[str]) -> str:
        """Open an issue; returns its URL."""
        payload = {"title": title, "body": body, "labels": labels}
        return str(self.call("POST", f"/repos/{repository}/issues", payload)["html_url"])

    def comment(self, repository: str, number: int, body: str) -> str:
        """Comment on an issue or pull request; returns the comment's URL."""
        path = f"/repos/{repository}/issues/{number}/comments"
        return str(self.call("POST", path, {"body": body})["html_url"])

    def create_release(self, repository: str, tag: str, body: str, *, prerelease: bool) -> str:
        """Publish the GitHub Release of a tag already pushed; returns its URL. GitHub would make
        a missing tag from the default branch's head: the release is of the tag that was checked."""
        found = self.request("GET", f"/repos/{repository}/git/ref/tags/{quote(tag)}")
        if found.status != 200:
            raise RatchetError(f"{repository} has no tag {tag} on GitHub: push the tag first")
        payload = {"tag_name": tag, "name": tag, "body": body, "prerelease": prerelease}
        return str(self.call("POST", f"/repos/{repository}/releases", payload)["html_url"])

    def dispatch_workflow(self, repository: str, workflow: str, ref: str) -> None:
        """Start a `workflow_dispatch` run of `workflow` (its file name) on `ref`."""
        path = f"/repos/{repository}/actions/workflows/{quote(workflow)}/dispatches"
        self.call("POST", path, {"ref": ref})


def client(run: Run, command: str) -> tuple[GitHubAPI, str]:
    """The API with the run's token, and the run's repository: where each command that writes to
    GitHub starts."""
    if not run.token or not run.repository:
        raise RatchetError(
            f"{command} writes to GitHub: run it in a workflow step with GH_TOKEN (or "
            "GITHUB_TOKEN) set, which gives the token and the repository"
        )
    return GitHubAPI(run.api_url, run.token), run.repository


def parse(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return {"message": raw[:200].decode("utf-8", "replace")}


def message(data: Any) -> str:
    return str(data.get("message")) if isinstance(data, dict) else str(data)[:200]
