"""The retraining pull request's parts: the push, the PR command, the summary, the start."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from ratchet.core.errors import RatchetError
from ratchet.monitor import retrain


def test_the_push_sends_the_token_in_the_environment_only() -> None:
    env = retrain.push_env("t0ken", "https://github.example.com/")
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.example.com/.extraheader"
    scheme, encoded = env["GIT_CONFIG_VALUE_0"].split(" ", 1)[1].split(" ")
    assert scheme == "basic" and base64.b64decode(encoded) == b"x-access-token:t0ken"
    assert retrain.push_env(None) == {} and retrain.push_env("") == {}


def test_the_pull_request_command_line() -> None:
    assert retrain.pr_create_args("main", "ratchet/retrain", "Retrain on new data (03caad61)") == [
        "pr",
        "create",
        "--base",
        "main",
        "--head",
        "ratchet/retrain",
        "--title",
        "Retrain on new data (03caad61)",
        "--body-file",
        "-",
    ]


def test_the_job_summary_warns_about_the_fallback_token() -> None:
    done = ["committed abc1234 on ratchet/retrain, from main", "opened https://x/pull/3"]
    assert retrain.render_markdown(done, "app") == (
        "### Retraining\n\n- committed abc1234 on ratchet/retrain, from main\n"
        "- opened https://x/pull/3\n"
    )
    warned = retrain.render_markdown(done, "github-token")
    assert "> [!WARNING]\n> This pull request was opened with the workflow's GITHUB_TOKEN" in warned
    assert "RATCHET_APP_ID" in warned and "RATCHET_PR_TOKEN" in warned


def test_retraining_refuses_a_detached_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for command in (
        ["init", "-q", "-b", "main"],
        ["commit", "-q", "--allow-empty", "-m", "x"],
        ["checkout", "-q", "--detach"],
    ):
        subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@e", *command], check=True)
    with pytest.raises(RatchetError, match="must start from the branch it proposes to"):
        retrain.current_branch(retrain.BRANCH)
