"""The Actions run, as the runner describes it to a step: read from the environment in one place."""

from __future__ import annotations

from pathlib import Path

from ratchet.github.actions import current
from tests.stand_ins import actions_env


def test_the_api_and_the_token_of_the_run(tmp_path: Path) -> None:
    environ = actions_env(tmp_path)
    run = current({**environ, "GITHUB_TOKEN": "ghs_secret"})
    assert run.api_url == "https://api.github.com" and run.token == "ghs_secret"
    assert "ghs_secret" not in repr(run)  # a run that is printed shows no token
    enterprise = {**environ, "GITHUB_API_URL": "https://ghe.example/api/v3", "GH_TOKEN": "t"}
    assert (current(enterprise).api_url, current(enterprise).token) == (
        "https://ghe.example/api/v3",
        "t",
    )
    assert current({"GITHUB_TOKEN": "ghs_secret"}).token is None  # outside Actions: nothing
