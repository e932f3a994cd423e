"""Publishing a release: the tag check, the image pushed under its semver tags, the GitHub Release.

Each runs one external tool (git, docker) or GitHub's API per step and fails with what it said.
"""

from __future__ import annotations

import json

from ratchet.core.errors import RatchetError
from ratchet.core.git import git, git_call
from ratchet.core.process import run
from ratchet.github.api import GitHubAPI
from ratchet.release.versions import image_name, image_tags, require_version


def check_tag(tag: str, default_branch: str) -> str:
    """Refuse to release a commit that is not on the default branch's first-parent history.

    Only such a commit was merged through a pull request whose model passed metrics-gate (a commit
    reachable only through a merged branch never was judged as the branch's head).
    """
    require_version(tag)
    commit = git("rev-parse", f"{tag}^{{commit}}")
    branch = f"origin/{default_branch}"
    history = git_call("rev-list", "--first-parent", branch)
    if history.returncode != 0:
        raise RatchetError(
            f"cannot read the history of {branch}: check out with fetch-depth: 0 "
            f"({history.stderr.strip()})"
        )
    if commit not in history.stdout.split():
        raise RatchetError(
            f"{tag} is {commit[:12]}, which is not a commit of {default_branch} (on its "
            f"first-parent history), so its model never passed metrics-gate there: tag a commit "
            f"of {default_branch}"
        )
    return f"{tag} is {commit[:12]}, a commit of {default_branch}"


def docker(*args: str) -> str:
    """Run `docker ARGS`; its standard output, stripped."""
    return run(["docker", *args]).strip()


def push_image(tag: str, repository: str, local: str, registry: str = "ghcr.io") -> tuple[str, str]:
    """Push the local image `local` to the registry (GHCR) under each tag the release moves.

    Returns the image name and the digest the registry gave it.
    """
    image = image_name(repository, registry)
    existing = git("tag", "--list", "v*").split()
    for moved in image_tags(tag, existing):
        reference = f"{image}:{moved}"
        docker("tag", local, reference)
        docker("push", "--quiet", reference)
    pushed = json.loads(docker("inspect", "--format", "{{json .RepoDigests}}", local) or "[]")
    digests = [d for d in pushed or [] if d.startswith(f"{image}@")]
    if not digests:
        raise RatchetError(f"the registry gave {image} no digest: `docker push` did not finish")
    return image, digests[0].split("@", 1)[1]


def github_release(api: GitHubAPI, repository: str, tag: str, notes: str) -> str:
    """Publish the GitHub Release of `tag` with the notes; a pre-release for vX.Y.Z-suffix."""
    version = require_version(tag)
    return api.create_release(repository, tag, notes, prerelease=not version.is_release)
