"""Fixtures: tiny real datasets and temporary git + DVC projects built from this repository."""

from __future__ import annotations

import atexit
import contextlib
import copy
import functools
import hashlib
import io
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import yaml
from threadpoolctl import threadpool_limits

from ratchet.comment.relay import self_signed
from tests.fake_github import FakeGitHub

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests' files first (the order is otherwise kept): `make test` hands out files in
    this order (`--no-loadscope-reorder`), so that no worker starts a long file while the other
    runs out of work."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_configure(config: pytest.Config) -> None:
    """Each xdist worker fits models on its share of the cores, as scikit-learn's own tests do:
    OpenMP and BLAS threads beyond it only take turns with the other workers' (the suite used 10 %
    more CPU and 15 s more time). The stages, servers and commands a test starts inherit the
    share from the environment."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers is None:
        return
    share = os.environ.setdefault(
        "OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // int(workers)))
    )
    os.environ.setdefault("OPENBLAS_NUM_THREADS", share)
    threadpool_limits(int(share))


# What a fork of the template holds, minus data and generated outputs.
PROJECT_FILES = [
    "dvc.yaml",
    "params.yaml",
    "bentofile.yaml",
    "bento.Dockerfile.j2",
    "src",
    ".dvcignore",
]
MAKE_FILES = ["Makefile", "ci.mk", "pyproject.toml", "uv.lock"]


def regression_frame(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """A small dataset whose target really depends on its features."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "when": np.arange(rows),
            "size": rng.uniform(0, 10, rows).round(3),
            "age": rng.integers(0, 50, rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
        }
    )
    bonus = frame["colour"].map({"red": 5.0, "green": 0.0, "blue": -5.0})
    frame["price"] = (
        3 * frame["size"] - 0.2 * frame["age"] + bonus + rng.normal(0, 1, rows)
    ).round(3)
    return frame


def classification_frame(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    frame = regression_frame(rows, seed).rename(columns={"price": "score"})
    frame["label"] = np.where(frame.pop("score") > frame["size"].mean() * 3 - 5, "high", "low")
    return frame


REGRESSION_DATA = {
    "path": "data/table.csv",
    "target": "price",
    "task": "regression",
    "numeric": ["size", "age"],
    "categorical": ["colour"],
}
CLASSIFICATION_DATA = {**REGRESSION_DATA, "target": "label", "task": "classification"}
GATES = {
    "regression": {
        "rmse": {"better": "lower", "max_regression_pct": 1.0},
        "r2": {"better": "higher", "min": 0.5, "max_regression": 0.01},
    },
    "classification": {"accuracy": {"better": "higher", "max_regression": 0.02}},
}


def small_params(data: dict[str, Any], estimator: str = "hist_gradient_boosting") -> dict[str, Any]:
    return {
        "data": copy.deepcopy(data),
        "split": {"method": "time", "time_column": "when", "test_size": 0.25, "seed": 1},
        "checks": {"min_rows": 100, "max_null_share": 0.05},
        "train": {"estimator": estimator, "hyperparameters": {"max_iter": 30}, "seed": 1},
        "gate": {"metrics": GATES[data["task"]]},
    }


class Project:
    """A temporary git repository holding a copy of the template, run like a user would."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            args,
            cwd=self.path,
            capture_output=True,
            text=True,
            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def ratchet(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-m", "ratchet", *args, check=check, env=env)

    def here(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`python -m ratchet ARGS` as `ratchet` runs it, but in this process: its exit code, and
        what it and the programs it starts print. It saves a Python start-up and the imports this
        process already holds; `ratchet` stays for the tests about the command as a process."""
        from ratchet.__main__ import main

        stdout, stderr = io.StringIO(), io.StringIO()
        with (
            tempfile.TemporaryFile() as printed,
            contextlib.chdir(self.path),
            mock.patch.dict(
                os.environ, {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
            ),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
            descriptors_to(printed),
        ):
            code = main(args)
            printed.seek(0)
            started = printed.read().decode(errors="replace")
        return subprocess.CompletedProcess(
            ["python", "-m", "ratchet", *args], code, stdout.getvalue() + started, stderr.getvalue()
        )

    def dvc(self, *args: str) -> None:
        """`dvc ARGS` for a test's bookkeeping (add, checkout, commit, push), in this process:
        `dvc_here` in the project. A test about DVC, or about what it prints, runs `dvc`."""
        with contextlib.chdir(self.path):
            dvc_here(*args)

    def git(self, *args: str) -> str:
        return self.run("git", *args).stdout.strip()

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    @property
    def params(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load((self.path / "params.yaml").read_text())
        return loaded

    def set_params(self, params: dict[str, Any]) -> None:
        (self.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    def write_data(self, frame: pd.DataFrame, name: str = "table.csv") -> None:
        (self.path / "data").mkdir(exist_ok=True)
        frame.to_csv(self.path / "data" / name, index=False)

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text()

    def repro(self, tracking: str = "off") -> None:
        """Leave what `dvc repro` leaves, for a test about what comes after it: `stages_here`,
        logging no MLflow run unless `tracking` is "on"."""
        with contextlib.chdir(self.path):
            stages_here(tracking=tracking)


def stages_here(tracking: str) -> None:
    """What `dvc repro --force` does in this folder, without a Python start-up and a scikit-learn
    import for each stage. Each stage's command in dvc.yaml, `python -m ratchet.pipeline STAGE`,
    runs in dvc.yaml's order in a process forked from `stage_server` with RATCHET_TRACKING=
    `tracking`; then `dvc commit` records the outputs in dvc.lock and the cache as `dvc repro`
    does. A stage that fails fails it as `dvc repro` would; a stage with another command fails the
    test, which then needs the real `dvc repro`. The tests of `dvc repro` itself, and of the check
    as a command, run it.

    It stands in for `rerun_stages` in the PR check (`pr_check` in tests/gate/conftest.py)."""
    from ratchet.core.errors import RatchetError
    from ratchet.core.process import failure

    stages = yaml.safe_load(Path("dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        command = f"python -m ratchet.pipeline {name}"
        assert stage["cmd"] == command, f"stage {name} runs {stage['cmd']!r}: use dvc repro"
        code = forked_python_m("ratchet.pipeline", name, env={"RATCHET_TRACKING": tracking})
        if code != 0:
            dvc_repro = [sys.executable, "-m", "dvc", "repro", "--force"]
            unseen = subprocess.CompletedProcess(dvc_repro, code, None, None)
            raise RatchetError(failure(dvc_repro, unseen))
    dvc_here("commit", "-q", "-f", "dvc.yaml")  # the stages, not data.dvc


# What a stage imports, loaded once by the server that each stage is forked from.
STAGE_MODULES = [
    "ratchet.pipeline.cli",
    "ratchet.pipeline.stages",
    "ratchet.pipeline.tracking",
    "ratchet.recipe",
    "tests.conftest",  # python_m
]


@functools.cache
def stage_server() -> multiprocessing.context.ForkServerContext:
    """A process that has imported what the stages import and runs nothing: a stage forked from it
    starts where a fresh `python -m ratchet.pipeline` would, whatever this test process ran before.
    (Trained in this process after other tests, the same model once pickled to other bytes: equal
    strings shared differently, so its md5 was not the one `dvc repro` gives.)"""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(STAGE_MODULES)
    # Started from this repository's root: the server imports STAGE_MODULES before it would take
    # this process's sys.path (Python 3.11 never takes it), so it finds `tests` only from its
    # working folder. Started from a test's folder, each fork imported tests.conftest (0.1 s).
    with contextlib.chdir(ROOT):
        multiprocessing.forkserver.ensure_running()
    return context


def forked_python_m(module: str, *args: str, env: dict[str, str]) -> int:
    """`python -m MODULE ARGS` in a process forked from `stage_server`, in this folder, with this
    process's environment and `env`; what it prints goes where this process's output goes now.
    Returns its exit code."""
    with tempfile.NamedTemporaryFile() as printed:
        process = stage_server().Process(
            target=python_m,
            args=(module, list(args), str(Path.cwd()), {**os.environ, **env}, printed.name),
        )
        process.start()
        process.join()
        sys.stdout.write(Path(printed.name).read_text(errors="replace"))
    assert process.exitcode is not None
    return process.exitcode


def python_m(module: str, args: list[str], cwd: str, env: dict[str, str], printed: str) -> None:
    """In a forked process: run MODULE as `python -m` would, printing to the file `printed`."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [module, *args]
    with Path(printed).open("ab") as file, descriptors_to(file):
        runpy.run_module(module, run_name="__main__", alter_sys=True)


def dvc_here(*args: str) -> None:
    """`dvc ARGS` in this folder through DVC's CLI entry point in this process, as DVC's own tests
    call it: no Python start-up and DVC import for each. DVC logs what went wrong where its
    logging goes (the test's captured output), and never starts its analytics daemon here (a fork
    of the test process)."""
    from dvc.cli import main

    from ratchet.core.errors import RatchetError

    with mock.patch.dict(os.environ, {"DVC_NO_ANALYTICS": "1"}):
        code = main(list(args))
    if code != 0:
        raise RatchetError(f"`dvc {' '.join(args)}` failed (exit {code}): see DVC's log")


@contextlib.contextmanager
def descriptors_to(file: IO[bytes]) -> Iterator[None]:
    """Send what subprocesses print (on file descriptors 1 and 2) to `file`, then restore them."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for descriptor in saved:
            os.close(descriptor)


def make_project(path: Path, *, demo_data: bool = False, with_make: bool = False) -> Project:
    """Copy the template into `path` as a fresh git + DVC repository with a local DVC remote.

    `with_make` adds the Makefile and the lock, and this repository's installed .venv (git ignores
    it there): run targets as `make --assume-old=.venv/.installed ...` to use that .venv as is.
    """
    path.mkdir(parents=True, exist_ok=True)
    for name in [*PROJECT_FILES, *(MAKE_FILES if with_make else [])]:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, path / name)
    project = Project(path)
    project.run("git", "init", "-q", "-b", "main")
    project.run("git", "config", "user.email", "tests@example.com")
    project.run("git", "config", "user.name", "Tests")
    if with_make:
        (path / ".venv").symlink_to(ROOT / ".venv")
        (path / ".git/info/exclude").write_text("/.venv\n")
    if demo_data:
        shutil.copytree(
            ROOT / ".dvc",
            path / ".dvc",
            ignore=shutil.ignore_patterns("cache", "tmp", "config.local"),
        )
        shutil.copy2(ROOT / "data.dvc", path / "data.dvc")
    else:
        skeleton = dvc_skeleton()
        shutil.copytree(skeleton, path / ".dvc", ignore=shutil.ignore_patterns("tmp"))
        config = (skeleton / "config").read_text()
        (path / ".dvc/config").write_text(
            config.replace(str(skeleton.parent.parent), str(path.parent))
        )
    return project


@functools.cache
def dvc_skeleton() -> Path:
    """What `dvc init` and `dvc remote add -d local ../remote` write in .dvc/, with analytics off
    as in the template's .dvc/config, made once per test process by DVC itself (each costs a DVC
    start-up); `make_project` copies it. (With analytics on, each DVC command of a test would
    start one more Python process to send its report.)"""
    folder = Path(tempfile.mkdtemp(prefix="dvc-skeleton-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    run = functools.partial(subprocess.run, cwd=folder / "project", check=True)
    (folder / "project").mkdir()
    run(["git", "init", "-q"])
    run([str(BIN / "dvc"), "init", "-q"])
    run([str(BIN / "dvc"), "remote", "add", "-q", "-d", "local", str(folder / "remote")])
    run([str(BIN / "dvc"), "config", "-q", "core.analytics", "false"])
    return folder / "project" / ".dvc"


LOCKED = ["artifacts/schema.json", "artifacts/model.joblib", "reports/metrics.json"]


def write_lock(workspace: Path) -> None:
    """A dvc.lock naming the outputs as they are, as `dvc repro` would write it."""
    outs = [
        {
            "path": name,
            "hash": "md5",
            "md5": hashlib.md5((workspace / name).read_bytes()).hexdigest(),
        }
        for name in LOCKED
    ]
    lock = {"schema": "2.0", "stages": {"train": {"cmd": "python -m ratchet train", "outs": outs}}}
    (workspace / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))


def train_workspace(
    workspace: Path,
    data: dict[str, Any],
    frame: pd.DataFrame,
    estimator: str = "hist_gradient_boosting",
) -> None:
    """Run the prepare and train stages in `workspace` (no DVC, no MLflow) and lock the result."""
    from ratchet.core.settings import load_params
    from ratchet.pipeline import stages

    workspace.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(workspace):
        params = small_params(data, estimator)
        if estimator != "hist_gradient_boosting":
            params["train"]["hyperparameters"] = {}
        Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        Path("data").mkdir(exist_ok=True)
        frame.to_csv(data["path"], index=False)
        stages.prepare(load_params())
        stages.train(load_params())
        Path("reports").mkdir(exist_ok=True)
        Path("reports/metrics.json").write_text('{"score": 1.0}\n')
    write_lock(workspace)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project on the small regression dataset, data added to DVC, nothing trained yet."""
    project = make_project(tmp_path / "project")
    project.write_data(regression_frame())
    project.set_params(small_params(REGRESSION_DATA))
    project.dvc("add", "-q", "data")
    project.commit("small regression project")
    return project


@pytest.fixture(autouse=True, scope="session")
def no_tracking() -> Iterator[None]:
    """The evaluate stage logs no MLflow run (RATCHET_TRACKING=off, which every `dvc repro` a
    test starts inherits) unless a test is about tracking and asks for `tracking`: logging costs
    a training run seconds, and the tests that are not about it would only pay them."""
    before = os.environ.get("RATCHET_TRACKING")
    os.environ["RATCHET_TRACKING"] = "off"
    yield
    if before is None:
        os.environ.pop("RATCHET_TRACKING", None)
    else:
        os.environ["RATCHET_TRACKING"] = before


@pytest.fixture
def tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluate stage logs its run to MLflow, as it does outside the tests."""
    monkeypatch.delenv("RATCHET_TRACKING")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracking: None) -> Iterator[Path]:
    """Run in an empty folder, with MLflow's local store inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield tmp_path


@pytest.fixture(scope="session")
def empty_mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store that MLflow made (its schema's migrations applied, nothing logged),
    once for this test worker. Making a store costs about a second of CPU; the tests that log a
    run but are not about making the store start from a copy (`copy_store`). The fresh clone's
    `make run` (test_repro) and the tests of an empty folder still have MLflow make theirs."""
    from mlflow import MlflowClient

    database = tmp_path_factory.mktemp("mlflow-store") / "mlflow.db"
    MlflowClient(f"sqlite:///{database}").search_experiments()  # makes the store
    return database


def copy_store(template: Path, database: Path) -> None:
    """Copy the SQLite store `template` to `database` (SQLite's own backup: a consistent copy)."""
    import sqlite3

    database.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(sqlite3.connect(template)) as source,
        contextlib.closing(sqlite3.connect(database)) as target,
    ):
        source.backup(target)


@pytest.fixture
def local_store(in_tmp: Path, empty_mlflow_store: Path) -> Path:
    """`in_tmp` with the local MLflow store (mlruns/mlflow.db) already made."""
    copy_store(empty_mlflow_store, in_tmp / "mlruns" / "mlflow.db")
    return in_tmp


@pytest.fixture(autouse=True)
def mlflow_tracking_uri_restored() -> Iterator[None]:
    """`mlflow.set_tracking_uri` also exports MLFLOW_TRACKING_URI, which every later subprocess
    would inherit (a stopped test server's URL, say): put both back as they were."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(before)  # type: ignore[arg-type]  # None unsets both
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


# --- A fake GitHub API on loopback ----------------------------------------------------------------


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fake GitHub's certificate and key, made as the comment job's relay makes its own."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not on PATH: neither the relay nor the fake GitHub can serve TLS")
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def github(certificate: tuple[Path, Path]) -> Iterator[FakeGitHub]:
    with FakeGitHub(*certificate) as fake:
        yield fake


@pytest.fixture
def trust(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's clients trust the fake GitHub's certificate, as they trust GitHub's."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
