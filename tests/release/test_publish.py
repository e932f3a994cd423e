"""Publishing a release: the tag check on real git history, the exact docker calls (a real push
needs a registry), and the GitHub Release against the fake GitHub API on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fake_github import TOKEN, FakeGitHub
from tests.stand_ins import actions_env, calls, install_stand_in


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    return subprocess.run(
        ["git", "-C", str(repo), *identity, *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def ratchet(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The release commands as ci.mk runs them with the system Python: no site-packages."""
    return subprocess.run(
        [sys.executable, "-S", "-m", "ratchet", *args],
        cwd=cwd,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
    )


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone whose origin/main has a merge: v1.0.0 tags a commit of main, v1.1.0 a commit that
    only reached main as the merged branch's history, v1.2.0 a commit never merged."""
    upstream, clone = tmp_path / "upstream", tmp_path / "clone"
    git(tmp_path, "init", "-q", "-b", "main", str(upstream))
    git(upstream, "commit", "-q", "--allow-empty", "-m", "first model")
    git(upstream, "tag", "v1.0.0")
    git(upstream, "checkout", "-q", "-b", "feature")
    git(upstream, "commit", "-q", "--allow-empty", "-m", "work in progress")
    git(upstream, "tag", "v1.1.0")
    git(upstream, "checkout", "-q", "main")
    git(upstream, "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "feature")
    git(upstream, "checkout", "-q", "-b", "unreviewed", "v1.0.0")
    git(upstream, "commit", "-q", "--allow-empty", "-m", "pushed past review")
    git(upstream, "tag", "v1.2.0")
    git(upstream, "checkout", "-q", "main")
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    return clone


def test_only_a_commit_of_the_default_branch_is_released(clone: Path, tmp_path: Path) -> None:
    env = actions_env(tmp_path / "runner", {"repository": {"default_branch": "main"}})
    # as release.yml runs it: from a checkout of the default branch, not of the tagged commit
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    released = ratchet(clone, "check-tag", env={**env, "GITHUB_REF_NAME": "v1.0.0"})
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith("check-tag: v1.0.0 is ")

    for tag in ("v1.1.0", "v1.2.0"):
        refused = ratchet(clone, "check-tag", env={**env, "GITHUB_REF_NAME": tag})
        assert refused.returncode == 1
        assert f"error: {tag} is " in refused.stderr
        assert "not a commit of main (on its first-parent history)" in refused.stderr

    not_a_version = ratchet(clone, "check-tag", "--tag", "latest")
    assert not_a_version.returncode == 1 and "is not a release version" in not_a_version.stderr


def test_the_image_is_pushed_under_each_tag_the_release_moves(clone: Path, tmp_path: Path) -> None:
    digest = "sha256:" + "d" * 64
    docker, log = install_stand_in(
        tmp_path / "bin",
        "docker",
        {  # another repository's digest first, whose name starts with this one's
            "inspect --format": json.dumps(
                [f"ghcr.io/acme/model-old@sha256:{'e' * 64}", f"ghcr.io/acme/model@{digest}"]
            )
        },
    )
    env = {**actions_env(tmp_path / "runner"), **docker, "GITHUB_REF_NAME": "v1.3.0"}
    pushed = ratchet(clone, "push-image", "--repository", "Acme/Model", env=env)
    assert pushed.returncode == 0, pushed.stderr
    expected = []
    for tag in ("1.3.0", "1.3", "1", "latest"):
        expected += [
            ["tag", "ratchet:v1.3.0", f"ghcr.io/acme/model:{tag}"],
            ["push", "--quiet", f"ghcr.io/acme/model:{tag}"],
        ]
    made = [call["args"] for call in calls(log)]
    assert made[:-1] == expected
    assert made[-1][:2] == ["inspect", "--format"]
    outputs = (tmp_path / "runner/output.txt").read_text()
    assert outputs == f"image=ghcr.io/acme/model\ndigest={digest}\n"


def test_a_push_without_a_digest_fails(clone: Path, tmp_path: Path) -> None:
    docker, _ = install_stand_in(tmp_path / "bin", "docker", {"inspect --format": "[]"})
    result = ratchet(clone, "push-image", "--tag", "v1.3.0", "--repository", "a/b", env=docker)
    assert result.returncode == 1
    assert "the registry gave ghcr.io/a/b no digest" in result.stderr


def release_env(github: FakeGitHub, tmp_path: Path) -> dict[str, str]:
    """The release job's step: the run's token in GH_TOKEN, the API at the fake GitHub."""
    return {
        **actions_env(tmp_path / "runner"),
        "GITHUB_API_URL": github.api_url,
        "GH_TOKEN": TOKEN,
        "SSL_CERT_FILE": str(github.certificate),
    }


@pytest.mark.parametrize(("tag", "prerelease"), [("v1.3.0", False), ("v1.4.0-rc.1", True)])
def test_the_github_release_carries_the_notes(
    clone: Path, tmp_path: Path, github: FakeGitHub, tag: str, prerelease: bool
) -> None:
    github.git.tags[tag] = "c0ffee" * 6 + "c0ff"
    (clone / "release-notes.md").write_text("notes\n")
    result = ratchet(clone, "github-release", "--tag", tag, env=release_env(github, tmp_path))
    assert result.returncode == 0, result.stderr
    url = f"https://github.example/o/r/releases/tag/{tag}"
    assert result.stdout == f"github-release: {url}\n"
    assert github.releases == [
        {"tag_name": tag, "name": tag, "body": "notes\n", "prerelease": prerelease, "html_url": url}
    ]


def test_a_github_release_of_a_tag_github_lacks_fails(
    clone: Path, tmp_path: Path, github: FakeGitHub
) -> None:
    (clone / "release-notes.md").write_text("notes\n")
    env = release_env(github, tmp_path)
    result = ratchet(clone, "github-release", "--tag", "v1.3.0", env=env)
    assert result.returncode == 1
    assert result.stderr == "error: o/r has no tag v1.3.0 on GitHub: push the tag first\n"
    assert github.releases == []


def test_a_github_release_without_notes_fails(clone: Path) -> None:
    result = ratchet(clone, "github-release", "--tag", "v1.3.0")
    assert result.returncode == 1
    assert "release-notes.md not found: run `python -m ratchet release-notes`" in result.stderr
