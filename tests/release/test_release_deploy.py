"""A release run, end to end, as release.yml's steps run it: `make bento container`, then
`python -m ratchet push-image` and `release-notes` in a trained fork, the image pushed to a real
registry on loopback (Debian's `docker-registry`), then `make deploy-staging` against the fake
GitHub on loopback. The pull request it leaves must set the staging overlay to the digest the
registry holds, read back from the registry's own API. (`make smoke-image` is left to
test_container.py; `make check-tag` and `python -m ratchet reproduce` to test_publish.py and the
pipeline's tests.)

Skipped, saying why, without a Docker daemon or `docker-registry` (apt-get install
docker-registry).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, ROOT
from tests.fake_github import TOKEN, FakeGitHub
from tests.release.test_bento import a_fork
from tests.release.test_deploy import PRODUCTION, STAGING, kustomization, patch
from tests.servers import serving
from tests.stand_ins import actions_env

pytestmark = pytest.mark.slow

OLD = "sha256:" + "0" * 64
# What a registry may store for `docker push`: an image manifest, or an index of them.
MANIFESTS = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def uv_folder() -> Path:
    """Where `bentoml build` finds uv: on PATH, or where the Makefile installs it."""
    found = shutil.which("uv")
    return Path(found).parent if found else ROOT / ".tools/bin"


def image_backend() -> str:
    """The builder `make container` can use here (buildx, else the classic one), or a skip."""
    if shutil.which("docker") is None:
        pytest.skip("needs Docker: no docker CLI on PATH")
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.skip("needs Docker: the daemon did not answer `docker info` within 20 s")
    if info.returncode != 0:
        pytest.skip(f"needs Docker: no daemon answers ({info.stderr.strip()[-200:]})")
    buildx = subprocess.run(["docker", "buildx", "version"], capture_output=True)
    return "buildx" if buildx.returncode == 0 else "docker"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """A real registry (distribution 2.8) on 127.0.0.1, storing in tmp_path; yields host:port.

    Docker pushes to a registry on 127.0.0.0/8 over plain HTTP without being told to.
    """
    if shutil.which("docker-registry") is None:
        pytest.skip("needs Debian's docker-registry (apt-get install docker-registry)")

    def command(port: int) -> list[str]:
        config = tmp_path / "registry.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'registry'}}}}}\n"
            f"http: {{addr: '127.0.0.1:{port}'}}\n"
        )
        return ["docker-registry", "serve", str(config)]

    with serving(command, "/v2/", log=tmp_path / "registry.log", timeout=30) as url:
        yield url.removeprefix("http://")


def registry_digest(host: str, repository: str, tag: str) -> str:
    """The digest the registry gives the manifest it holds under `tag` (its API, not docker's)."""
    request = urllib.request.Request(
        f"http://{host}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": MANIFESTS},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(answer.headers["Docker-Content-Digest"])


def outputs(path: Path) -> dict[str, str]:
    """The step outputs a command wrote to GITHUB_OUTPUT (single-line ones)."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_a_release_leaves_a_pull_request_that_deploys_the_pushed_digest_to_staging(
    tmp_path: Path, registry: str, github: FakeGitHub, trust: None
) -> None:
    backend = image_backend()
    project = a_fork(tmp_path / "project")
    tag = f"v0.1.0-deploy.{uuid.uuid4().hex[:8]}"  # a pre-release: its own image tag only
    runner = tmp_path / "runner"
    step = {
        **actions_env(runner, {"repository": {"default_branch": "main"}}),
        "GITHUB_REF_NAME": tag,  # the tag the run is for
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "IMAGE_BACKEND": backend,
        **({"DOCKER_BUILDKIT": "0"} if backend == "docker" else {}),  # the classic builder
        "RATCHET_REGISTRY": registry,  # instead of ghcr.io
        "PATH": os.pathsep.join([str(BIN), str(uv_folder()), os.environ["PATH"]]),
    }

    def make(*targets: str, **env: str) -> str:
        result = project.run(
            "make", "-s", "--assume-old=.venv/.installed", *targets, env={**step, **env},
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    def ratchet(*args: str, **env: str) -> str:
        """A step that is one command: `python -m ratchet ...` with the step's environment."""
        result = project.ratchet(*args, env={**step, **env}, check=False)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    pushed = f"{registry}/o/r"
    try:
        make("bento", "container")
        assert ratchet("push-image").startswith(f"push-image: pushed {pushed}@sha256:")
        image = outputs(runner / "output.txt")  # what the `push` step hands on
        assert image["image"] == pushed
        # the image job's notes step, then the staging job: its download, the App's token
        notes = ("release-notes", "--output", "release-notes.md")
        ratchet(*notes, RATCHET_IMAGE=image["image"], RATCHET_DIGEST=image["digest"])
        (runner / "release-notes").mkdir()
        shutil.move(project.path / "release-notes.md", runner / "release-notes/release-notes.md")
        github.git.commit(
            "main",
            {STAGING: kustomization("staging", OLD), PRODUCTION: kustomization("production", OLD)},
        )
        said = make(
            "deploy-staging",
            RATCHET_IMAGE=image["image"],
            RATCHET_DIGEST=image["digest"],
            GH_TOKEN=TOKEN,
            GITHUB_API_URL=github.api_url,
            RATCHET_TOKEN_SOURCE="app",
        )
    finally:
        for name in (f"ratchet:{tag}", f"{pushed}:{tag.removeprefix('v')}"):
            subprocess.run(["docker", "image", "rm", "--force", name], capture_output=True)

    digest = registry_digest(registry, "o/r", tag.removeprefix("v"))
    (pull,) = github.git.pulls
    assert said.startswith(f"deploy-pr: staging: ghcr.io/OWNER/REPO@{OLD} -> {pushed}@{digest}")
    assert pull["title"] == f"Deploy {tag} to staging"
    changed = [
        line for line in patch(github, pull["number"])[STAGING].splitlines() if line[:1] == "+"
    ]
    assert [line.split("#")[0].strip() for line in changed] == [
        f"+    newName: {pushed}",
        f"+    digest: {digest}",
    ]
    # the body carries the release notes, which name the same digest
    assert f"Digest `{digest}`" in pull["body"] and "### Metrics" in pull["body"]
