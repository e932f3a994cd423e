"""GitHub's REST API through the standard library: every page of a listing, the token sent to
the API's host alone, the issues, labels, releases and workflow runs the jobs write. Against the
fake GitHub on loopback."""

from __future__ import annotations

import pytest

from ratchet.core.errors import RatchetError
from ratchet.github.actions import Run
from ratchet.github.api import GitHubAPI, client
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


def test_a_label_is_made_once_and_issues_are_found_by_it(github: FakeGitHub, trust: None) -> None:
    api = GitHubAPI(github.api_url, TOKEN)
    api.ensure_label("o/r", "drift", "D93F0B", "drifted")
    api.ensure_label("o/r", "drift", "000000", "again")  # there already: left as it was
    assert github.labels == {
        "drift": {"name": "drift", "color": "D93F0B", "description": "drifted"}
    }
    api.create_issue("o/r", "Unrelated", "body", [])
    first = api.create_issue("o/r", "Drift", "body", ["drift"])
    assert first == "https://github.example/o/r/issues/2"
    github.issues.append({**github.issues[1], "number": 9, "pull_request": {}})  # a PR, labelled
    assert [issue["number"] for issue in api.open_issues("o/r", "drift")] == [2]
    assert api.comment("o/r", 2, "still drifting").endswith("/issues/2#issuecomment-1")
    assert github.issues[1]["comments"] == ["still drifting"]


def test_a_release_is_of_a_tag_github_has(github: FakeGitHub, trust: None) -> None:
    api = GitHubAPI(github.api_url, TOKEN)
    with pytest.raises(RatchetError, match="^o/r has no tag v1.0.0 on GitHub: push the tag first$"):
        api.create_release("o/r", "v1.0.0", "notes", prerelease=False)
    github.git.tags["v1.0.0"] = "a" * 40
    url = api.create_release("o/r", "v1.0.0", "notes", prerelease=False)
    assert url == "https://github.example/o/r/releases/tag/v1.0.0"
    with pytest.raises(RatchetError, match="answered 422: Validation Failed: tag_name already"):
        api.create_release("o/r", "v1.0.0", "notes", prerelease=False)


def test_a_workflow_run_is_started(github: FakeGitHub, trust: None) -> None:
    GitHubAPI(github.api_url, TOKEN).dispatch_workflow("o/r", "retrain.yml", "main")
    assert github.dispatches == [{"workflow": "retrain.yml", "ref": "main"}]
    assert (github.calls[-1].path, github.calls[-1].status) == (
        "/api/v3/repos/o/r/actions/workflows/retrain.yml/dispatches",
        204,
    )


def test_the_client_is_the_runs_token_and_repository(github: FakeGitHub, trust: None) -> None:
    run = Run(repository="o/r", api_url=github.api_url, token=TOKEN)
    api, repository = client(run, "drift-issue")
    assert repository == "o/r" and api.viewer_login() == "github-actions[bot]"
    assert TOKEN not in repr(run)
    with pytest.raises(RatchetError, match="^drift-issue writes to GitHub: run it in a workflow"):
        client(Run(repository="o/r"), "drift-issue")
    with pytest.raises(RatchetError) as refused:
        GitHubAPI(github.api_url, "ghs_wrong").create_issue("o/r", "t", "b", [])
    assert "ghs_wrong" not in str(refused.value)
