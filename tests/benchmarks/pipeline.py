"""Benchmark the pipeline: repro (cold and no-op), the PR check against a bare forced repro of the
same stages, the bootstrap's share of it, CLI start-up, installs and venv sizes.

Run with `make bench BENCH=pipeline`. Prints wall times and ratios against baselines measured in
the same run; nothing here asserts a figure. BENCH_INSTALL=0 skips the (slow) install timings.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from ratchet.core.progress import progress

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def timed(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, allowed: tuple[int, ...] = (0,)
) -> float:
    started = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env or ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in allowed:
        raise SystemExit(f"{' '.join(args)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return elapsed


def best_of(runs: int, *args: str) -> float:
    label = " ".join([Path(args[0]).name, *args[1:]])
    return min(timed(*args) for _ in progress(range(runs), label=label, total=runs, unit="runs"))


def bootstrap_seconds(project: Path) -> float:
    """The paired bootstrap alone, in process, as the gate runs it on the demo's test rows."""
    code = """
import json, time, joblib
from ratchet.core.data import read_split
from ratchet.core.settings import load_params
from ratchet.gate.compare import compare
params = load_params()
test = read_split(__import__("pathlib").Path("artifacts/split/test.parquet"))
model = joblib.load("artifacts/model.joblib")
names = list(params.gate.metrics)
started = time.perf_counter()
compare((model, params.data), (model, params.data), test, params.gate, names)
print(time.perf_counter() - started)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=ENV, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    return float(result.stdout.strip())


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def clone(destination: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(destination)], check=True)
    return destination


Rows = list[tuple[str, float, str]]


def repro_rows(project: Path) -> Rows:
    timed("dvc", "pull", "-q", "data.dvc", cwd=project)  # the demo remote holds the data
    fresh = timed("dvc", "repro", cwd=project)
    noop = timed("dvc", "repro", cwd=project)
    status = timed("dvc", "status", cwd=project)
    cold = timed("dvc", "repro", "--force", cwd=project)
    # On a fresh clone the model comes out byte-identical to what dvc.lock records, so DVC
    # skips evaluate, whose committed outputs already match; --force runs all three stages.
    return [
        ("dvc repro, cold (--force: 3 stages)", cold, ""),
        ("dvc repro, fresh clone", fresh, f"{fresh / cold:.2f}x cold (evaluate skipped)"),
        ("dvc repro, no-op", noop, f"{noop / cold:.2f}x cold"),
        ("dvc status (baseline for no-op)", status, f"no-op is {noop / status:.2f}x"),
    ]


def pr_rows(project: Path) -> Rows:
    """A PR that changes a hyperparameter, committed with its lock as a PR is, one merged change
    after a release: the check (reproduce, with its pull and re-hash, and the gate, with the
    champion, the anchor and the bootstrap) against a bare forced `dvc repro` of the same stages,
    in turn, so that a drift of the machine hits both. Both older models are in the DVC cache, as
    they are in a remote that holds main's models."""
    git = ("git", "-c", "user.name=bench", "-c", "user.email=bench@example.com")
    run = functools.partial(subprocess.run, cwd=project, check=True)
    run([*git, "tag", "v0.0.0-bench"])  # the release: the anchor, its model cached by repro_rows
    params = (project / "params.yaml").read_text()
    for branch, trees in (("bench-main", "180"), ("bench-pr", "150")):
        run([*git, "checkout", "-q", "-b", branch])
        changed = params.replace("max_iter: 200", f"max_iter: {trees}")
        assert changed != params, "params.yaml has no `max_iter: 200` to change"
        (project / "params.yaml").write_text(changed)
        timed("dvc", "repro", cwd=project)
        run([*git, "commit", "-qam", f"bench: {trees} trees"])
        if branch == "bench-main":  # merged: main is one change past the release
            run([*git, "checkout", "-q", "main"])
            run([*git, "merge", "-q", "--ff-only", branch])
    ratchet = (sys.executable, "-m", "ratchet")
    bare, check, gate = [], [], []
    for _ in progress(range(ROUNDS), label="PR check and bare repro", total=ROUNDS, unit="rounds"):
        bare.append(timed("dvc", "repro", "--force", cwd=project))
        reproduce = timed(*ratchet, "reproduce", cwd=project)
        gate.append(timed(*ratchet, "gate", "--base", "main", cwd=project, allowed=(0, 1)))
        check.append(reproduce + gate[-1])
    verdict = json.loads((project / "reports/pr/gate.json").read_text())
    if verdict["basis"] != "paired":
        raise SystemExit(f"the gate did not score both models: {verdict['basis_note']}")
    if "scored on the same rows" not in str(verdict["anchor_note"]):
        raise SystemExit(f"the gate did not score the anchor: {verdict['anchor_note']}")
    bootstrap = bootstrap_seconds(project)
    ratio = median(check) / median(bare)
    return [
        (f"PR: bare dvc repro --force (median of {ROUNDS})", median(bare), ""),
        (
            "PR: reproduce + gate (pull, champion, anchor, bootstrap)",
            median(check),
            f"{ratio:.2f}x bare repro",
        ),
        ("PR: of which the gate", median(gate), ""),
        (
            f"PR: of which one paired bootstrap ({verdict['rows']} rows)",
            bootstrap,
            f"{bootstrap / median(gate):.0%} of the gate",
        ),
    ]


def install_rows(project: Path, scratch: Path) -> Rows:
    """Installs from the lock into a fresh venv: everything (as `make install`), and the PR
    check's group alone (as `make install-pipeline`)."""
    env = {**ENV, "UV_CACHE_DIR": str(scratch / "uv-cache"), "UV_PROJECT_ENVIRONMENT": ".venv-b"}
    env.pop("VIRTUAL_ENV", None)
    venv = project / ".venv-b"
    full = ("uv", "sync", "--locked", "--quiet")
    job = ("uv", "sync", "--locked", "--no-default-groups", "--group", "pipeline", "--quiet")
    cold = timed(*full, cwd=project, env=env)
    size = folder_size(venv) / 2**20
    shutil.rmtree(venv)
    warm = timed(*full, cwd=project, env=env)
    shutil.rmtree(venv)
    pipeline = timed(*job, cwd=project, env=env)
    pipeline_size = folder_size(venv) / 2**20
    return [
        ("install everything, cold uv cache", cold, f"{size:,.0f} MiB"),
        ("install everything, warm uv cache", warm, f"{warm / cold:.2f}x cold"),
        (
            "install the PR check's group, warm cache",
            pipeline,
            f"{pipeline / warm:.2f}x everything; {pipeline_size:,.0f} MiB",
        ),
    ]


def main() -> None:
    python_start = best_of(5, sys.executable, "-c", "pass")
    help_time = best_of(5, sys.executable, "-m", "ratchet", "--help")
    rows: Rows = [
        ("python -c pass (baseline)", python_start, ""),
        ("python -m ratchet --help", help_time, f"{help_time / python_start:.1f}x python"),
    ]
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        project = clone(scratch / "project")
        rows += repro_rows(project)
        rows += pr_rows(project)
        if os.environ.get("BENCH_INSTALL", "1") != "0" and shutil.which("uv"):
            rows += install_rows(project, scratch)
    width = max(len(name) for name, _, _ in rows)
    for name, seconds, note in rows:
        figure = f"{seconds:8.2f} s" if seconds else " " * 10
        print(f"{name:<{width}}  {figure}  {note}")


if __name__ == "__main__":
    main()
