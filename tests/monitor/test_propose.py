"""The retraining pull request's job: the commit it accepts from the bundle, the push, the job
summary."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from ratchet.core.errors import RatchetError
from ratchet.monitor import propose


def test_the_push_sends_the_token_in_the_environment_only() -> None:
    env = propose.push_env("t0ken", "https://github.example.com/")
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == "http.https://github.example.com/.extraheader"
    scheme, encoded = env["GIT_CONFIG_VALUE_0"].split(" ", 1)[1].split(" ")
    assert scheme == "basic" and base64.b64decode(encoded) == b"x-access-token:t0ken"
    assert propose.push_env(None) == {} and propose.push_env("") == {}


def test_the_job_summary_warns_about_the_fallback_token() -> None:
    done = ["committed abc1234 on ratchet/retrain, from main", "opened https://x/pull/3"]
    assert propose.render_markdown(done, "app") == (
        "### Retraining\n\n- committed abc1234 on ratchet/retrain, from main\n"
        "- opened https://x/pull/3\n"
    )
    warned = propose.render_markdown(done, "github-token")
    assert "> [!WARNING]\n> This pull request was opened with the workflow's GITHUB_TOKEN" in warned
    assert "RATCHET_APP_CLIENT_ID" in warned and "RATCHET_PR_TOKEN" in warned


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
        propose.current_branch(propose.BRANCH)


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    return subprocess.run(
        ["git", "-C", str(repo), *identity, *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """`main` with one commit, cloned as the propose job checks it out; the clone is cwd."""
    upstream, clone = tmp_path / "upstream", tmp_path / "clone"
    git(tmp_path, "init", "-q", "-b", "main", str(upstream))
    (upstream / "data.dvc").write_text("outs: []\n")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "main")
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    monkeypatch.chdir(clone)
    return upstream, clone


def bundle_of(upstream: Path, tmp_path: Path, files: dict[str, str], parent: str = "main") -> Path:
    """A retraining commit on ratchet/retrain that writes `files`, as the retrain job bundles it."""
    git(upstream, "switch", "-q", "-C", "ratchet/retrain", parent)
    for name, text in files.items():
        (upstream / name).parent.mkdir(parents=True, exist_ok=True)
        (upstream / name).write_text(text)
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "Retrain on new data", "-m", "the body")
    bundle = tmp_path / "retrain.bundle"
    git(upstream, "bundle", "create", "-q", str(bundle), f"{parent}..ratchet/retrain")
    git(upstream, "switch", "-q", "main")
    return bundle


def test_a_retraining_commit_is_accepted(repos: tuple[Path, Path], tmp_path: Path) -> None:
    upstream, _ = repos
    files = {"data.dvc": "outs: [new]\n", "dvc.lock": "x\n", "reports/metrics.json": "{}\n"}
    bundle = bundle_of(upstream, tmp_path, {**files, ".dvc/demo-remote/files/md5/ab/cd": "1"})
    commit = propose.fetch(bundle, "main")
    assert commit == git(upstream, "rev-parse", "ratchet/retrain")


@pytest.mark.parametrize(
    "stray", [".github/workflows/pr.yml", "src/ratchet/gate/judge.py", ".dvc/config", "Makefile"]
)
def test_a_commit_that_changes_anything_else_is_refused(
    repos: tuple[Path, Path], tmp_path: Path, stray: str
) -> None:
    upstream, _ = repos
    bundle = bundle_of(upstream, tmp_path, {"dvc.lock": "x\n", stray: "changed\n"})
    with pytest.raises(RatchetError, match=f"changes {stray}, which a retraining never does"):
        propose.fetch(bundle, "main")


def test_a_commit_on_another_base_is_refused(repos: tuple[Path, Path], tmp_path: Path) -> None:
    upstream, clone = repos
    git(upstream, "commit", "-q", "--allow-empty", "-m", "main moved on")
    git(clone, "pull", "-q")
    stale = bundle_of(upstream, tmp_path, {"dvc.lock": "x\n"}, parent="main~1")
    with pytest.raises(RatchetError, match="is not a child of main"):
        propose.fetch(stale, "main")
    git(upstream, "commit", "-q", "--allow-empty", "-m", "main moved on again")
    unknown = bundle_of(upstream, tmp_path, {"dvc.lock": "x\n"})
    with pytest.raises(RatchetError, match="bundle"):  # the clone lacks its base: git refuses it
        propose.fetch(unknown, "main")
    missing = tmp_path / "none.bundle"
    with pytest.raises(RatchetError, match="not found: the retrain job wrote no retraining commit"):
        propose.fetch(missing, "main")
