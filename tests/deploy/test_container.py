"""The release image run the way the Deployment runs it, with Docker: the rendered manifest's
uid and groups, a read-only root, no capabilities, no privilege escalation, its emptyDirs as
tmpfs, its env and its limits. It must pass its probes, answer a prediction, spool its
prediction log where the manifest says, and on SIGTERM ship it to the sink and stop cleanly
within the grace period.

The sink is the one thing not as the overlay has it: the overlay names a bucket (a placeholder),
and the image holds no s3fs unless a fork adds it (docs/deploy.md#the-prediction-log-sink). A
folder of the host, mounted into the container, stands in: the same shipper, the same files.

Without a Docker daemon the test is skipped, saying why.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ratchet.release.smoke import http, smoke_test
from ratchet.serve.prediction_log import ENV_SINK, ENV_SPOOL
from tests.conftest import Project
from tests.deploy.render import Object, container, only, render
from tests.release.test_bento import a_fork
from tests.release.test_container import docker
from tests.servers import free_port

pytestmark = pytest.mark.slow


def docker_missing() -> str | None:
    """Why no container can run here, or None when a Docker daemon answers (buildx is not
    needed, unlike tests/release/test_container.py: see `builder`)."""
    if shutil.which("docker") is None:
        return "no docker CLI on PATH"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "the Docker daemon did not answer `docker info` within 20 s"
    if info.returncode != 0:
        return f"no Docker daemon answers ({info.stderr.strip().splitlines()[-1:]})"
    return None


def builder() -> dict[str, str]:
    """buildx where Docker has it (as in release.yml), else Docker's classic builder."""
    if subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode == 0:
        return {"IMAGE_BACKEND": "buildx"}
    return {"IMAGE_BACKEND": "docker", "DOCKER_BUILDKIT": "0"}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, str]]:
    """A trained fork's release image, built by `make bento container` (as a release does)."""
    missing = docker_missing()
    if missing:
        pytest.skip(f"needs Docker: {missing}")
    root = tmp_path_factory.mktemp("image")
    project = a_fork(root / "project")
    tag = f"v0.1.0-deploy.{uuid.uuid4().hex[:8]}"
    env = {"BENTOML_HOME": str(root / "bentoml"), "BENTOML_DO_NOT_TRACK": "true", "TAG": tag}
    built = project.run(
        "make", "-s", "--assume-old=.venv/.installed", "bento", "container",
        env={**env, **builder()}, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        yield project, f"ratchet:{tag}"
    finally:
        docker("image", "rm", "--force", f"ratchet:{tag}", check=False)


def quantity(value: str) -> str:
    """A Kubernetes quantity as `docker run` takes it: 512Mi -> 512m, 500m (CPU) -> 0.5."""
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    if value[-2:] in units:
        return value[:-2] + units[value[-2:]]
    return str(int(value[:-1]) / 1000) if value.endswith("m") else value


SINK = "/var/lib/ratchet-sink"  # where the container sees the host's folder sink


def run_arguments(objects: list[Object], sink: Path) -> list[str]:
    """`docker run` options for the rendered Deployment's pod: its security context, emptyDirs,
    env, port and limits, all read from the manifest; the prediction log's sink is the folder
    `sink` of the host instead of the overlay's bucket."""
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    main = container(objects)
    context = pod["securityContext"]
    user, group, fs_group = context["runAsUser"], context["runAsGroup"], context["fsGroup"]
    assert main["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    arguments = [
        "--read-only", "--user", f"{user}:{group}", "--group-add", str(fs_group),
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--memory", quantity(main["resources"]["limits"]["memory"]),
        "--cpus", quantity(main["resources"]["limits"]["cpu"]),
    ]  # fmt: skip
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    for mount in main["volumeMounts"]:
        assert mount["name"] in empty_dirs, mount
        # an emptyDir is writable by the pod's user and its fsGroup
        arguments += ["--tmpfs", f"{mount['mountPath']}:uid={user},gid={fs_group}"]
    variables = {variable["name"]: variable["value"] for variable in main["env"]}
    assert "://" in variables[ENV_SINK], variables[ENV_SINK]  # the overlay's bucket, replaced:
    variables[ENV_SINK] = SINK
    sink.chmod(0o777)  # as a bucket takes the pod's files: writable by the pod's user
    arguments += ["--volume", f"{sink}:{SINK}"]
    for name, value in variables.items():
        arguments += ["--env", f"{name}={value}"]
    return arguments


@contextlib.contextmanager
def running(image: str, arguments: list[str], port: int, published: int) -> Iterator[str]:
    name = f"ratchet-deploy-{uuid.uuid4().hex[:8]}"
    docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{published}:{port}",
           *arguments, image)  # fmt: skip
    try:
        yield name
    finally:
        docker("rm", "--force", name, check=False)


def wait(url: str, seconds: float) -> float:
    """Poll `url` until it answers 200, for at most `seconds`, as the startup probe does."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with contextlib.suppress(OSError):
            if http(url, timeout=2.0)[0] == 200:
                return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer 200 within {seconds} s")


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def test_the_image_runs_under_the_manifests_security_context_and_drains_on_sigterm(
    image: tuple[Project, str], tmp_path: Path
) -> None:
    project, name = image
    objects = render("production")
    main = container(objects)
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    port = main["ports"][0]["containerPort"]
    published = free_port()
    base = f"http://127.0.0.1:{published}"
    startup = main["startupProbe"]
    sink = tmp_path / "sink"
    sink.mkdir()
    with running(name, run_arguments(objects, sink), port, published) as running_name:
        wait(
            base + startup["httpGet"]["path"],
            startup["periodSeconds"] * startup["failureThreshold"],
        )
        for probe in ("readinessProbe", "livenessProbe"):
            assert get(base + main[probe]["httpGet"]["path"])[0] == 200, probe
        with contextlib.chdir(project.path):  # the fork's model and schema, to compare
            report = smoke_test(base, timeout=10)
        assert "as the artifact does" in report[1]
        status, metrics = get(f"{base}/metrics")
        assert status == 200 and "bentoml_service_request_total" in metrics

        # the prediction log is spooled where RATCHET_PREDICTION_SPOOL says, on its emptyDir
        spool = {v["name"]: v["value"] for v in main["env"]}[ENV_SPOOL]
        deadline = time.monotonic() + 10
        listed = ""
        while time.monotonic() < deadline and ".jsonl" not in listed:
            listed = docker("exec", running_name, "ls", "-R", spool, check=False).stdout
            time.sleep(0.3)
        assert ".jsonl" in listed, f"no prediction log in {spool}"
        logs = docker("logs", running_name)
        assert "Read-only file system" not in logs.stdout + logs.stderr

        grace = pod["terminationGracePeriodSeconds"]
        started = time.monotonic()
        docker("stop", "--time", str(grace), running_name)
        stopped = time.monotonic() - started
        state: dict[str, Any] = json.loads(
            docker("inspect", "--format", "{{json .State}}", running_name).stdout
        )
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    assert stopped < grace
    # the last file shipped on SIGTERM: the smoke test's one valid record, in the sink's day folder
    shipped = sorted(sink.glob("*/*.jsonl"))
    records = [json.loads(line) for path in shipped for line in path.read_text().splitlines()]
    assert len(records) == 1, shipped
    assert {"time", "model_version", "features", "prediction"} <= records[0].keys()
