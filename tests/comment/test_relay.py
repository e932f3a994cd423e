"""The relay between CML and GitHub: it shows CML our comment only, and lets one write through,
of the composed text, to our comment or a new one. Against the fake GitHub on loopback, with a
client of a few lines in CML's place."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ratchet.comment.relay import Allowance, Relay, own_comment, serving, watermark
from ratchet.github.api import GitHubAPI
from tests.fake_github import TOKEN, FakeGitHub, cml_watermark

TITLE = "ratchet-metrics-gate"
BOT = "github-actions[bot]"  # who a job's GITHUB_TOKEN is
BODY = "the report\n\n" + cml_watermark()


def client(url: str, certificate: Path, token: str) -> Any:
    """A few lines of CML: `call(method, path, payload)` against the relay."""
    context = ssl.create_default_context(cafile=certificate)

    def call(method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            url + path,
            data=json.dumps(payload).encode() if payload is not None else None,
            method=method,
            headers={"Authorization": f"token {token}"},
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    return call


@pytest.fixture
def relayed(github: FakeGitHub, trust: None) -> Iterator[tuple[Relay, Any]]:
    """The relay for PR 42 of o/r, where our comment is 1040 and mallory's 1010 quotes the mark."""
    github.seed(45, ours=(40,), foreign=(10,))
    api = GitHubAPI(github.api_url, TOKEN)
    ours = own_comment(api.issue_comments("o/r", 42), TITLE, BOT)
    relay = Relay(api, Allowance("o/r", 42, ours, BODY))
    with serving(relay) as (url, certificate):
        yield relay, client(url, certificate, relay.client_token)


def test_the_watermark_is_cmls() -> None:
    assert watermark(TITLE, "cafe" * 10) == cml_watermark()


def test_our_comment_is_the_tokens_newest_with_the_exact_watermark() -> None:
    bot = {"login": BOT, "type": "Bot"}
    app = {"login": "ratchet-app[bot]", "type": "Bot"}
    comments = [
        {"id": 1, "user": bot, "body": f"old\n\n{cml_watermark()}"},
        {"id": 2, "user": bot, "body": f"newer\n\n{cml_watermark()}"},
        {"id": 3, "user": {"login": "mallory", "type": "User"}, "body": cml_watermark()},
        {"id": 4, "user": app, "body": f"the App's\n\n{cml_watermark()}"},
        {"id": 5, "user": bot, "body": cml_watermark().replace(TITLE, f"{TITLE}-2")},
        {"id": 6, "user": bot, "body": "a comment of another workflow"},
    ]
    assert own_comment(comments, TITLE, BOT) == comments[1]
    assert own_comment(comments, TITLE, "ratchet-app[bot]") == comments[3]
    assert own_comment(comments[2:], TITLE, BOT) is None
    assert own_comment(comments, TITLE, "mallory") == comments[2]  # a person's token: theirs


def test_cml_sees_only_our_comment_and_may_update_it_once(
    relayed: tuple[Relay, Any], github: FakeGitHub
) -> None:
    relay, call = relayed
    status, listed = call("GET", "/api/v3/repos/o/r/issues/42/comments")
    assert status == 200 and [comment["id"] for comment in listed] == [1040]
    assert call("PATCH", "/api/v3/repos/o/r/issues/comments/1040", {"body": BODY})[0] == 200
    assert github.by_id()[1040]["body"] == BODY
    assert call("PATCH", "/api/v3/repos/o/r/issues/comments/1040", {"body": BODY})[0] == 429
    assert [(call.method, call.path) for call in github.writes()] == [
        ("PATCH", "/api/v3/repos/o/r/issues/comments/1040")
    ]
    assert relay.refused == [
        "PATCH /api/v3/repos/o/r/issues/comments/1040 (the one write is spent)"
    ]


def test_everything_else_is_refused(relayed: tuple[Relay, Any], github: FakeGitHub) -> None:
    relay, call = relayed
    mallorys = "/api/v3/repos/o/r/issues/comments/1010"
    assert call("PATCH", mallorys, {"body": BODY})[0] == 403
    assert call("DELETE", "/api/v3/repos/o/r/issues/comments/1040")[0] == 403
    assert call("POST", "/api/v3/repos/o/r/issues/42/comments", {"body": BODY})[0] == 403
    assert call("GET", "/api/v3/repos/o/r/commits/abc/pulls")[0] == 403
    assert call("GET", "/api/v3/repos/o/r/issues/7/comments")[0] == 403
    assert call("GET", "/api/v3/users/alice")[0] == 404  # CML's telemetry, answered here
    ours = "/api/v3/repos/o/r/issues/comments/1040"
    assert call("PATCH", ours, {"body": "another text\n\n" + cml_watermark()})[0] == 422
    assert call("PATCH", ours, {"body": BODY, "state": "x"})[0] == 422
    assert len(relay.refused) == 7
    assert github.writes() == [] and github.by_id()[1010]["body"].startswith("Quoting")


def test_with_no_comment_of_ours_cml_may_create_one(github: FakeGitHub, trust: None) -> None:
    github.seed(3, foreign=(2,))
    api = GitHubAPI(github.api_url, TOKEN)
    relay = Relay(
        api, Allowance("o/r", 42, own_comment(api.issue_comments("o/r", 42), TITLE, BOT), BODY)
    )
    with serving(relay) as (url, certificate):
        call = client(url, certificate, relay.client_token)
        assert call("GET", "/api/v3/repos/o/r/issues/42/comments") == (200, [])
        assert call("PATCH", "/api/v3/repos/o/r/issues/comments/1002", {"body": BODY})[0] == 403
        assert call("POST", "/api/v3/repos/o/r/issues/42/comments", {"body": BODY})[0] == 201
        assert client(url, certificate, TOKEN)("GET", "/api/v3/users/x")[0] == 401
    assert github.comments[-1]["body"] == BODY and github.comments[-1]["id"] == 1004
