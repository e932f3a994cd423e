"""The service's image: the bento containerized with its model and OCI labels, and the smoke test
of a running container, which is removed afterwards whatever happened.

The Dockerfile is `bento.Dockerfile.j2`, which bentofile.yaml names: no build toolchain, packages
installed against uv.lock's hashes, code and model owned by root.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ratchet.core.errors import RatchetError
from ratchet.core.process import call
from ratchet.release.publish import docker
from ratchet.release.versions import parse_version

# The local image is ratchet:TAG, which `push-image` pushes; the service listens on BentoML's
# port inside it.
IMAGE_NAME = "ratchet"
SERVICE_PORT = 3000
LABEL = "org.opencontainers.image."


def local_image(tag: str) -> str:
    return f"{IMAGE_NAME}:{tag}"


def image_labels(
    tag: str, commit: str | None, dirty: bool = False, source: str | None = None
) -> dict[str, str]:
    """The OCI labels: the version (1.2.0 for the tag v1.2.0), the commit it was built from
    (marked -dirty when tracked files differed from it) and, if known, the repository's URL."""
    version = parse_version(tag)
    labels = {f"{LABEL}version": version.text if version else tag}
    if commit:
        labels[f"{LABEL}revision"] = f"{commit}-dirty" if dirty else commit
    if source:
        labels[f"{LABEL}source"] = source
    return labels


def containerize_command(
    bento: str, image: str, backend: str, labels: Mapping[str, str]
) -> list[str]:
    """`bentoml containerize` of `bento` into `image` with `backend`, labelled."""
    command = [sys.executable, "-m", "bentoml", "containerize", bento]
    command += ["--backend", backend, "--image-tag", image]
    for key, value in sorted(labels.items()):
        command += ["--opt", f"label={key}={value}"]
    return command


def containerize(command: list[str]) -> None:
    """Run `bentoml containerize` from inside a temporary directory of its own.

    BentoML 1.4.39 renders the bento's Dockerfile template in a temporary build context and then
    refuses it as a file outside the working directory (bentoml/BentoML#5566): working in, and
    pointing TMPDIR at, one directory makes the context a part of it. Drop this once a BentoML
    with the fix is locked.
    """
    with tempfile.TemporaryDirectory(prefix="ratchet-image-") as workdir:
        result = call(command, cwd=Path(workdir), env={"TMPDIR": workdir}, show=True)
    if result.returncode != 0:
        raise RatchetError(
            f"`bentoml containerize` failed (exit {result.returncode}), see its output above; "
            "is Docker running, and does the bento exist (`make bento`)?"
        )


def smoke_image(image: str, port: int, name: str, timeout: float) -> list[str]:
    """Start `image` as container `name` on 127.0.0.1:`port`, smoke-test it, and remove it.

    The container is created first, so that a name already in use fails before anything starts
    and no one else's container is ever removed. On failure its log goes to stderr.
    """
    from ratchet.release.smoke import smoke_test  # the model's libraries: not for push-image

    published = f"127.0.0.1:{port}:{SERVICE_PORT}"
    docker("create", "--name", name, "--publish", published, image)
    try:
        docker("start", name)
        report = smoke_test(f"http://127.0.0.1:{port}", timeout)
    except RatchetError:
        logs = call(["docker", "logs", "--tail", "60", name])
        sys.stderr.write(logs.stdout + logs.stderr)
        sys.stderr.flush()
        raise
    finally:
        docker("rm", "--force", name)
    return [f"started {image} as {name} on {published}", *report, f"removed {name}"]
