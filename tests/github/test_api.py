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


def test_who_the_token_is_from_graphql(github: FakeGitHub, trust: None) -> None:
    """GraphQL's viewer, which answers for an App's installation token too (REST's GET /user
    does not); on GitHub Enterprise Server at /api/graphql, beside /api/v3."""
    api = GitHubAPI(github.api_url, TOKEN)
    assert api.graphql_url == github.api_url.removesuffix("/v3") + "/graphql"
    assert (
        GitHubAPI("https://api.github.com", TOKEN).graphql_url == "https://api.github.com/graphql"
    )
    assert api.viewer_login() == "github-actions[bot]"
    github.login = "ratchet-app[bot]"
    assert api.viewer_login() == "ratchet-app[bot]"
    with pytest.raises(RatchetError, match="GraphQL 'query { repository"):
        api.graphql("query { repository { id } }")
    with pytest.raises(RatchetError, match="answered 401: Bad credentials"):
        GitHubAPI(github.api_url, "wrong").viewer_login()
