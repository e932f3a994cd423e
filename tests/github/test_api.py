"""GitHub's REST API through the standard library: every page of a listing, and the token sent to
the API's host alone. Against the fake GitHub on loopback."""

from __future__ import annotations

import pytest

from ratchet.core.errors import RatchetError
from ratchet.github.api import GitHubAPI
from tests.fake_github import TOKEN, FakeGitHub


def test_every_page_is_read(github: FakeGitHub, trust: None) -> None:
    github.seed(250, ours=(240,), foreign=(10, 245))
    comments = GitHubAPI(github.api_url, TOKEN).issue_comments("o/r", 42)
    assert [comment["id"] for comment in comments] == list(range(1001, 1251))
    pages = [call.query for call in github.calls]
    assert pages == [
        {"per_page": ["100"]},
        {"per_page": ["100"], "page": ["2"]},
        {"per_page": ["100"], "page": ["3"]},
    ]


def test_the_token_goes_to_the_apis_host_only(github: FakeGitHub, trust: None) -> None:
    github.seed(150)
    github.link_host = f"localhost:{github.host.rsplit(':', 1)[1]}"  # same server, another name
    with pytest.raises(RatchetError, match="refusing to send the token to https://localhost:"):
        GitHubAPI(github.api_url, TOKEN).issue_comments("o/r", 42)
    assert len(github.calls) == 1
    with pytest.raises(RatchetError, match="must be an https URL"):
        GitHubAPI("http://127.0.0.1:1/api/v3", TOKEN)
