"""The deploy overlays' image: `deploy-set-image` on real files in a git repository, and the pull
requests that a release (staging) and a promotion (production) open, against the fake GitHub on
loopback, run as ci.mk runs them: the system Python, no site-packages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ratchet.core.errors import RatchetError
from ratchet.github.api import GitHubAPI
from ratchet.release.deploy import Image, current_image, parse_image, set_image, valid_image
from tests.conftest import ROOT
from tests.fake_github import TOKEN, FakeGitHub
from tests.release.test_publish import git
from tests.release.test_publish import ratchet as system_python  # no site-packages, as ci.mk
from tests.stand_ins import actions_env

OLD = "sha256:" + "0" * 64
NEW = "sha256:" + "ab12" * 16
OTHER = "sha256:" + "cd34" * 16
STAGING = "deploy/overlays/staging/kustomization.yaml"
PRODUCTION = "deploy/overlays/production/kustomization.yaml"
ENTRY = "images:\n  - name: ratchet\n    newName: ghcr.io/o/r\n"


def kustomization(env: str, digest: str, name: str = "ghcr.io/OWNER/REPO") -> str:
    """An overlay as the template ships it: comments the forker reads, one image entry."""
    return f"""\
# The {env} overlay: what Argo CD or Flux syncs into the namespace ratchet-{env}.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ratchet-{env}
resources:
  - ../../base
images:
  # Set by pull request only: `python -m ratchet deploy-set-image --env {env} --image …`.
  - name: ratchet
    newName: {name} # your fork's image: ghcr.io/<owner>/<repo>, lower case
    digest: {digest}  # a digest, never a tag: it cannot move under a running cluster
  - name: busybox # an image of another container, left alone
    newTag: "1.37"
labels:
  - pairs:
      app.kubernetes.io/part-of: ratchet
"""


def overlays(root: Path, staging: str = OLD, production: str = OLD) -> dict[str, str]:
    files = {
        STAGING: kustomization("staging", staging),
        PRODUCTION: kustomization("production", production),
    }
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
    return files


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "fork"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    overlays(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "overlays")
    return repo


# --- deploy-set-image ----------------------------------------------------------------------------


def test_the_image_entry_changes_and_nothing_else(repo: Path) -> None:
    image = f"ghcr.io/acme/model@{NEW}"
    result = system_python(repo, "deploy-set-image", "--env", "staging", "--image", image)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"deploy-set-image: staging: ghcr.io/OWNER/REPO@{OLD} -> {image} ({STAGING})\n"
    )
    changed = [
        line
        for line in git(repo, "diff", "--unified=0").splitlines()
        if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))
    ]
    assert changed == [
        "-    newName: ghcr.io/OWNER/REPO # your fork's image: ghcr.io/<owner>/<repo>, lower case",
        f"-    digest: {OLD}  # a digest, never a tag: it cannot move under a running cluster",
        "+    newName: ghcr.io/acme/model # your fork's image: ghcr.io/<owner>/<repo>, lower case",
        f"+    digest: {NEW}  # a digest, never a tag: it cannot move under a running cluster",
    ]
    assert git(repo, "status", "--porcelain") == f"M {STAGING}"  # production left alone
    images = yaml.safe_load((repo / STAGING).read_text())["images"]
    assert images == [
        {"name": "ratchet", "newName": "ghcr.io/acme/model", "digest": NEW},
        {"name": "busybox", "newTag": "1.37"},
    ]


def test_setting_the_image_it_runs_writes_nothing(repo: Path) -> None:
    image = f"ghcr.io/acme/model@{NEW}"
    assert system_python(repo, "deploy-set-image", "--env", "staging", "--image", image).stdout
    git(repo, "commit", "-q", "-am", "staging runs NEW")
    before = (repo / STAGING).stat().st_mtime_ns
    result = system_python(repo, "deploy-set-image", "--env", "staging", "--image", image)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"deploy-set-image: staging already runs {image} ({STAGING})\n"
    assert (repo / STAGING).stat().st_mtime_ns == before
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("image", "said"),
    [
        ("ghcr.io/o/r:v1", "image 'ghcr.io/o/r:v1' names the tag 'v1': an overlay takes a digest"),
        (f"ghcr.io/o/r:v1@{NEW}", "names the tag 'v1'"),
        ("ghcr.io/o/r", "image 'ghcr.io/o/r' has no digest: give IMAGE@sha256:<64 hex>"),
        ("ghcr.io/o/r@sha256:abc", "the digest 'sha256:abc' is not sha256: and 64 lower-case hex"),
        (f"ghcr.io/o/r@{NEW.upper()}", "is not sha256: and 64 lower-case hex digits"),
        (f"ghcr.io/Acme/Model@{NEW}", "'ghcr.io/Acme/Model' is not REGISTRY/PATH in lower case"),
        (f"model@{NEW}", "'model' is not REGISTRY/PATH"),
    ],
)
def test_a_tag_or_a_malformed_digest_is_refused(repo: Path, image: str, said: str) -> None:
    result = system_python(repo, "deploy-set-image", "--env", "staging", "--image", image)
    assert result.returncode == 1
    assert said in result.stderr and len(result.stderr.splitlines()) == 1
    assert git(repo, "status", "--porcelain", "--ignored") == ""  # nothing written, no stray file


def test_an_unknown_environment_is_refused_naming_the_overlays(repo: Path) -> None:
    result = system_python(
        repo, "deploy-set-image", "--env", "prod", "--image", f"ghcr.io/o/r@{NEW}"
    )
    assert result.returncode == 1
    assert result.stderr == (
        "error: no overlay 'prod' in deploy/overlays/: the overlays are production, staging\n"
    )


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_templates_own_overlays_take_an_image(tmp_path: Path, env: str) -> None:
    """The overlays this repository ships, edited in a copy: two values change, nothing else."""
    if not (ROOT / "deploy/overlays" / env / "kustomization.yaml").is_file():
        pytest.skip(f"this checkout has no deploy/overlays/{env}/kustomization.yaml")
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "the template's overlays")
    image = f"ghcr.io/acme/model@{NEW}"
    result = system_python(tmp_path, "deploy-set-image", "--env", env, "--image", image)
    assert result.returncode == 0, result.stderr
    changed = git(tmp_path, "diff", "--numstat").split()
    assert changed == ["2", "2", f"deploy/overlays/{env}/kustomization.yaml"]
    path = tmp_path / "deploy/overlays" / env / "kustomization.yaml"
    (entry,) = [e for e in yaml.safe_load(path.read_text())["images"] if e["name"] == "ratchet"]
    assert entry == {"name": "ratchet", "newName": "ghcr.io/acme/model", "digest": NEW}


def test_the_entry_is_found_in_other_layouts_and_keeps_its_quotes() -> None:
    content = (
        "images:\n"
        "- name: other\n  digest: sha256:" + "1" * 64 + "\n"
        '- newName: \'ghcr.io/o/r\'\n  name: "ratchet"\n  digest: "' + OLD + '"\n'
        "patches: []\n"
    )
    updated = set_image(content, Image("ghcr.io/o/s", NEW), "k.yaml")
    assert updated.splitlines()[3:] == [
        "- newName: 'ghcr.io/o/s'",
        '  name: "ratchet"',
        f'  digest: "{NEW}"',
        "patches: []",
    ]
    assert current_image(updated, "k.yaml") == Image("ghcr.io/o/s", NEW)
    assert yaml.safe_load(updated)["images"][0] == yaml.safe_load(content)["images"][0]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("resources: []\n", "k.yaml: no top-level `images:` list"),
        ("images:\n  - name: other\n    digest: x\n", "`images:` has 0 entries named ratchet"),
        (f"{ENTRY}    newTag: v1\n    digest: {OLD}\n", "the ratchet image has a newTag: remove"),
        (ENTRY, "the ratchet image has no digest: add"),
    ],
)
def test_an_overlay_without_one_clear_entry_is_refused(content: str, said: str) -> None:
    with pytest.raises(RatchetError, match=r"^k\.yaml: ") as error:
        current_image(content, "k.yaml")
    assert said in str(error.value)


def test_only_a_real_image_is_copied_from_an_overlay() -> None:
    with pytest.raises(RatchetError, match=r"^k\.yaml: image 'ghcr.io/o/r@latest': the digest"):
        valid_image(f"{ENTRY}    digest: latest\n", "k.yaml")


def test_a_reference_parses_with_a_registry_port() -> None:
    assert parse_image(f"127.0.0.1:5000/o/r@{NEW}") == Image("127.0.0.1:5000/o/r", NEW)


# --- The pull requests, against the fake GitHub --------------------------------------------------


def checkout(tmp_path: Path) -> Path:
    """The default branch's code, as the deploy jobs check it out: the Makefile, ci.mk and src."""
    code = tmp_path / "checkout"
    code.mkdir()
    for name in ("Makefile", "ci.mk"):
        shutil.copy2(ROOT / name, code / name)
    shutil.copytree(ROOT / "src", code / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return code


def make(
    code: Path, target: str, github: FakeGitHub, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`make TARGET` as the job runs it: the runner's python3, the App's token in GH_TOKEN."""
    system = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p)
    return subprocess.run(
        ["make", "-s", "--no-print-directory", target],
        cwd=code,
        env={
            "PATH": system,
            "HOME": str(code),
            "SSL_CERT_FILE": os.environ["SSL_CERT_FILE"],  # trust the fake GitHub
            "GITHUB_API_URL": github.api_url,
            "GH_TOKEN": TOKEN,
            **env,
        },
        capture_output=True,
        text=True,
    )


def release_env(
    tmp_path: Path, digest: str, notes: str = "Model `ratchet:abc`.\n"
) -> dict[str, str]:
    """A step of the release's `staging` job: the image job's outputs, its notes downloaded."""
    runner = tmp_path / "runner"
    env = actions_env(runner, {"repository": {"default_branch": "main"}})
    (runner / "release-notes").mkdir()
    (runner / "release-notes/release-notes.md").write_text(notes)
    return {
        **env,
        "GITHUB_REF_NAME": "v1.2.0",
        "RATCHET_IMAGE": "ghcr.io/o/r",
        "RATCHET_DIGEST": digest,
        "RATCHET_TOKEN_SOURCE": "app",
    }


def patch(github: FakeGitHub, number: int) -> dict[str, str]:
    """Each changed file's diff, as GitHub's API lists a pull request's files."""
    files = GitHubAPI(github.api_url, TOKEN).all_pages(f"/repos/o/r/pulls/{number}/files")
    return {file["filename"]: file["patch"] for file in files}


def seed(github: FakeGitHub, tmp_path: Path, staging: str = OLD, production: str = OLD) -> str:
    return github.git.commit("main", overlays(tmp_path / "seed", staging, production))


def test_a_release_opens_the_pull_request_that_sets_staging_to_its_digest(
    github: FakeGitHub, trust: None, tmp_path: Path
) -> None:
    main = seed(github, tmp_path)
    notes = "Model `ratchet:abc`.\n\n### Metrics (held-out test split)\n\n| rmse | 1.2 |\n"
    result = make(checkout(tmp_path), "deploy-staging", github, release_env(tmp_path, NEW, notes))
    assert result.returncode == 0, result.stdout + result.stderr
    (pull,) = github.git.pulls
    assert result.stdout == (
        f"deploy-pr: staging: ghcr.io/OWNER/REPO@{OLD} -> ghcr.io/o/r@{NEW}: opened "
        f"{pull['html_url']}\n"
    )
    assert pull["title"] == "Deploy v1.2.0 to staging"
    assert (pull["head"]["ref"], pull["base"]["ref"]) == ("ratchet/deploy-staging", "main")
    assert f"`ghcr.io/o/r@{NEW}`" in pull["body"] and "## Release v1.2.0" in pull["body"]
    assert pull["body"].endswith(notes) and "GITHUB_TOKEN" not in pull["body"]
    diff = patch(github, pull["number"])
    assert list(diff) == [STAGING]
    changed = [line for line in diff[STAGING].splitlines() if line[:1] in "-+"]
    assert changed == [
        "-    newName: ghcr.io/OWNER/REPO # your fork's image: ghcr.io/<owner>/<repo>, lower case",
        f"-    digest: {OLD}  # a digest, never a tag: it cannot move under a running cluster",
        "+    newName: ghcr.io/o/r # your fork's image: ghcr.io/<owner>/<repo>, lower case",
        f"+    digest: {NEW}  # a digest, never a tag: it cannot move under a running cluster",
    ]
    assert github.git.branches["main"] == main  # the default branch changes only by the merge
    head = github.git.branches["ratchet/deploy-staging"]
    assert github.git.messages[head].startswith("Deploy v1.2.0 to staging\n")
    summary = (tmp_path / "runner/summary.md").read_text()
    assert summary == f"### deploy-pr\n\n{result.stdout.removeprefix('deploy-pr: ')}"


def test_a_later_release_replaces_the_open_pull_requests_change(
    github: FakeGitHub, trust: None, tmp_path: Path
) -> None:
    seed(github, tmp_path)
    code = checkout(tmp_path)
    assert make(code, "deploy-staging", github, release_env(tmp_path / "1", NEW)).returncode == 0
    github.git.commit("main", {"README.md": "merged meanwhile\n"})  # the base moves on
    later = make(code, "deploy-staging", github, release_env(tmp_path / "2", OTHER))
    assert later.returncode == 0, later.stderr
    (pull,) = github.git.pulls  # the same pull request, refreshed
    assert later.stdout.endswith(f"-> ghcr.io/o/r@{OTHER}: updated {pull['html_url']}\n")
    assert OTHER in pull["body"] and NEW not in pull["body"]
    diff = patch(github, pull["number"])
    assert list(diff) == [STAGING]  # reset onto the new base: nothing but the overlay differs
    assert f"+    digest: {OTHER}  #" in diff[STAGING] and NEW not in diff[STAGING]


def test_no_pull_request_when_staging_runs_the_image_already(
    github: FakeGitHub, trust: None, tmp_path: Path
) -> None:
    github.git.commit("main", {STAGING: kustomization("staging", NEW, "ghcr.io/o/r")})
    result = make(checkout(tmp_path), "deploy-staging", github, release_env(tmp_path, NEW))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"deploy-pr: staging already runs ghcr.io/o/r@{NEW}: no pull request\n"
    assert github.git.pulls == [] and list(github.git.branches) == ["main"]


def test_a_pull_request_opened_with_the_github_token_says_what_it_lacks(
    github: FakeGitHub, trust: None, tmp_path: Path
) -> None:
    seed(github, tmp_path)
    env = {**release_env(tmp_path, NEW), "RATCHET_TOKEN_SOURCE": "github-token"}
    result = make(checkout(tmp_path), "deploy-staging", github, env)
    assert result.returncode == 0, result.stderr
    assert "::warning title=Deploy pull request::" in result.stdout
    assert "> [!WARNING]" in github.git.pulls[0]["body"]


def test_a_tag_from_the_image_job_is_refused_before_anything_is_written(
    github: FakeGitHub, trust: None, tmp_path: Path
) -> None:
    seed(github, tmp_path)
    env = {**release_env(tmp_path, NEW), "RATCHET_DIGEST": "", "RATCHET_IMAGE": "ghcr.io/o/r:1.2"}
    result = make(checkout(tmp_path), "deploy-staging", github, env)
    assert result.returncode != 0
    assert "error: image 'ghcr.io/o/r:1.2' names the tag '1.2'" in result.stderr
    assert github.writes() == []


def test_a_repository_without_the_overlay_is_told_which_file_is_missing(
    github: FakeGitHub, trust: None, tmp_path: Path
) -> None:
    github.git.commit("main", {"README.md": "no deploy/ yet\n"})
    result = make(checkout(tmp_path), "deploy-staging", github, release_env(tmp_path, NEW))
    assert result.returncode != 0
    assert f"error: o/r has no {STAGING} at main\n" in result.stderr
    assert github.writes() == []


def promote_env(tmp_path: Path, event: dict[str, Any] | None = None) -> dict[str, str]:
    return actions_env(
        tmp_path / "runner", {"repository": {"default_branch": "main"}, **(event or {})}
    )


def test_promotion_gives_production_the_digest_staging_runs(
    github: FakeGitHub, trust: None, tmp_path: Path
) -> None:
    main = seed(github, tmp_path, staging=NEW, production=OLD)
    github.git.commit("main", {STAGING: kustomization("staging", NEW, "ghcr.io/o/r")})
    result = make(checkout(tmp_path), "deploy-promote", github, promote_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    (pull,) = github.git.pulls
    assert result.stdout == (
        f"deploy-promote: production: ghcr.io/OWNER/REPO@{OLD} -> ghcr.io/o/r@{NEW}: opened "
        f"{pull['html_url']}\n"
    )
    assert pull["head"]["ref"] == "ratchet/deploy-production"
    assert pull["title"] == f"Promote {NEW[:19]} from staging to production"
    assert github.git.branches["main"] != main  # staging's own commit, which the body names
    assert f"at commit `{github.git.branches['main'][:12]}`" in pull["body"]
    diff = patch(github, pull["number"])
    assert list(diff) == [PRODUCTION]
    assert f"+    digest: {NEW}  #" in diff[PRODUCTION]
    assert "+    newName: ghcr.io/o/r #" in diff[PRODUCTION]


def test_promotion_refuses_to_copy_the_templates_placeholder(
    github: FakeGitHub, trust: None, tmp_path: Path
) -> None:
    seed(github, tmp_path)  # no release has reached staging yet
    result = make(checkout(tmp_path), "deploy-promote", github, promote_env(tmp_path))
    assert result.returncode != 0
    assert f"error: main:{STAGING}: image 'ghcr.io/OWNER/REPO@" in result.stderr
    assert "is not REGISTRY/PATH in lower case" in result.stderr
    assert github.writes() == []


def test_promotion_on_a_published_release_refuses_another_image_than_stagings(
    github: FakeGitHub, trust: None, tmp_path: Path
) -> None:
    seed(github, tmp_path)
    github.git.commit("main", {STAGING: kustomization("staging", OLD, "ghcr.io/o/r")})
    release = {"release": {"tag_name": "v1.2.0", "body": f"Digest `{NEW}`. Verify…"}}
    result = make(checkout(tmp_path), "deploy-promote", github, promote_env(tmp_path, release))
    assert result.returncode != 0
    assert f"error: staging runs {OLD}, not the published release's image: merge" in result.stderr
    assert github.writes() == []


def test_the_deploy_commands_read_what_they_need_from_the_run(tmp_path: Path) -> None:
    result = system_python(tmp_path, "deploy-promote", env={"GITHUB_ACTIONS": "", "GH_TOKEN": ""})
    assert result.returncode == 1
    assert result.stderr == (
        "error: deploy-promote writes to GitHub: run it in a workflow step with GH_TOKEN (or "
        "GITHUB_TOKEN) set, which gives the token and the repository\n"
    )
    assert result.stdout == ""
