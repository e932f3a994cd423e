"""Real servers on loopback, for the end-to-end tests and the benchmarks: start one on a free port,
wait until it answers, and stop it (with every worker it started) afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.conftest import BIN, copy_store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(
    command: Callable[[int], list[str]],
    probe: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    log: Path | None = None,
) -> Iterator[str]:
    """Run `command(port)` until `probe` (a path such as /readyz) answers; yields the base URL.

    The server's output goes to `log` when one is given, and nowhere otherwise.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    output = log.open("wb") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        command(port),
        cwd=cwd,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopping it stops its workers too
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}{probe}", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"`{' '.join(command(port))}` did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if log is not None:
            output.close()  # type: ignore[union-attr]


def mlflow_server(home: Path, store: Path | None = None) -> contextlib.AbstractContextManager[str]:
    """A real `mlflow server` whose store and artifacts live in `home`, without the GenAI job
    runner (five more Python processes, each importing MLflow, that tracking never uses). The
    store starts as a copy of `store` (an empty one MLflow made: `empty_mlflow_store`) if given."""
    if store is not None:
        copy_store(store, home / "server.db")
    return serving(
        lambda port: [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{home}/server.db",
            "--artifacts-destination",
            str(home / "artifacts"),
        ],
        "/health",
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        timeout=90,
    )


@contextlib.contextmanager
def s3_server(port: int | None = None) -> Iterator[str]:
    """moto's S3 API on loopback (its state outlives a restart on the same port); yields its URL.

    Point s3fs at it with AWS_ENDPOINT_URL_S3 (botocore reads it), as `s3_env` does."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or free_port(), verbose=False)
    server.start()
    try:
        host, bound = server.get_host_and_port()
        yield f"http://{host}:{bound}"
    finally:
        server.stop()


def s3_env(endpoint: str) -> dict[str, str]:
    """The environment that sends s3fs (through botocore) to `endpoint`, with dummy keys."""
    return {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
