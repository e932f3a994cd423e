"""The image's build command: OCI labels from the tag, the commit and the repository, and
`bentoml containerize` with the backend asked for. (Building and running it: test_container.py.)"""

from __future__ import annotations

import sys

from ratchet.release.image import containerize_command, image_labels

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_a_release_is_labelled_with_its_version_commit_and_repository() -> None:
    assert image_labels("v1.2.0", COMMIT, source="https://github.com/acme/model") == {
        "org.opencontainers.image.version": "1.2.0",
        "org.opencontainers.image.revision": COMMIT,
        "org.opencontainers.image.source": "https://github.com/acme/model",
    }


def test_a_local_build_says_what_it_is_built_from() -> None:
    assert image_labels("dev", COMMIT, dirty=True) == {
        "org.opencontainers.image.version": "dev",
        "org.opencontainers.image.revision": f"{COMMIT}-dirty",
    }
    assert image_labels("v1.3.0-rc.1", None) == {"org.opencontainers.image.version": "1.3.0-rc.1"}


def test_containerize_builds_the_bento_into_the_local_image_with_the_backend_and_labels() -> None:
    labels = image_labels("v1.2.0", COMMIT, source="https://github.com/acme/model")
    assert containerize_command("ratchet:v1.2.0", "ratchet:v1.2.0", "docker", labels) == [
        sys.executable,
        "-m",
        "bentoml",
        "containerize",
        "ratchet:v1.2.0",
        "--backend",
        "docker",
        "--image-tag",
        "ratchet:v1.2.0",
        "--opt",
        f"label=org.opencontainers.image.revision={COMMIT}",
        "--opt",
        "label=org.opencontainers.image.source=https://github.com/acme/model",
        "--opt",
        "label=org.opencontainers.image.version=1.2.0",
    ]
