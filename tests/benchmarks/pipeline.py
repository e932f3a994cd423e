"""Benchmark the pipeline: repro (cold and no-op), `make pr-check` against a bare repro, CLI
start-up, install from the lock, venv size.

Run with `make bench BENCH=pipeline`. Prints wall times and ratios against baselines measured in
the same run; nothing here asserts a figure. BENCH_INSTALL=0 skips the (slow) install timings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


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
    return min(timed(*args) for _ in range(runs))


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def clone(destination: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(destination)], check=True)
    return destination


def main() -> None:
    rows: list[tuple[str, float, str]] = []
    python_start = best_of(5, sys.executable, "-c", "pass")
    help_time = best_of(5, sys.executable, "-m", "ratchet", "--help")
    rows.append(("python -c pass (baseline)", python_start, ""))
    rows.append(("python -m ratchet --help", help_time, f"{help_time / python_start:.1f}x python"))

    with tempfile.TemporaryDirectory() as scratch:
        project = clone(Path(scratch) / "project")
        timed("dvc", "pull", "-q", "data.dvc", cwd=project)  # the demo remote holds the data
        fresh = timed("dvc", "repro", cwd=project)
        noop = timed("dvc", "repro", cwd=project)
        status = timed("dvc", "status", cwd=project)
        cold = timed("dvc", "repro", "--force", cwd=project)
        # On a fresh clone the model comes out byte-identical to what dvc.lock records, so DVC
        # skips evaluate, whose committed outputs already match; --force runs all three stages.
        rows.append(("dvc repro, cold (--force: 3 stages)", cold, ""))
        rows.append(
            ("dvc repro, fresh clone", fresh, f"{fresh / cold:.2f}x cold (evaluate skipped)")
        )
        rows.append(("dvc repro, no-op", noop, f"{noop / cold:.2f}x cold"))
        rows.append(("dvc status (baseline for no-op)", status, f"no-op is {noop / status:.2f}x"))

        # A PR that changes a hyperparameter: bare `dvc repro` vs the whole local PR check.
        subprocess.run(["git", "checkout", "-q", "-b", "bench-pr"], cwd=project, check=True)
        params = (project / "params.yaml").read_text()
        changed = params.replace("max_iter: 200", "max_iter: 150")
        assert changed != params, "params.yaml has no `max_iter: 200` to change"
        (project / "params.yaml").write_text(changed)
        bare = timed("dvc", "repro", cwd=project)
        # Back to main's outputs (from HEAD: DVC's autostage put the new ones in the index).
        subprocess.run(
            ["git", "checkout", "-q", "HEAD", "--", "dvc.lock", "reports"], cwd=project, check=True
        )
        timed("dvc", "checkout", "-q", "--force", cwd=project)
        shutil.rmtree(project / ".dvc/cache/runs")  # no run-cache hit: the check must retrain
        (project / ".venv").symlink_to(ROOT / ".venv")
        check = timed(
            "make",
            "--assume-old=.venv/.installed",
            "pr-check",
            "BASE=main",
            cwd=project,
            allowed=(0, 2),  # make's exit code when the gate fails
        )
        retrained = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "dvc.lock"], cwd=project
        )
        if retrained.returncode != 1 or not (project / "reports/pr/gate.json").is_file():
            raise SystemExit("make pr-check did not retrain and gate: the comparison is void")
        rows.append(("PR: bare dvc repro (train + evaluate)", bare, ""))
        rows.append(
            ("PR: make pr-check (repro + gate + report)", check, f"{check / bare:.2f}x bare repro")
        )

        if os.environ.get("BENCH_INSTALL", "1") != "0" and shutil.which("uv"):
            cache = Path(scratch) / "uv-cache"
            env = {**ENV, "UV_CACHE_DIR": str(cache), "UV_PROJECT_ENVIRONMENT": ".venv-bench"}
            env.pop("VIRTUAL_ENV", None)
            sync = ("uv", "sync", "--locked", "--compile-bytecode", "--quiet")
            cold_install = timed(*sync, cwd=project, env=env)
            shutil.rmtree(project / ".venv-bench")
            warm_install = timed(*sync, cwd=project, env=env)
            rows.append(("install from uv.lock, cold cache", cold_install, ""))
            rows.append(
                (
                    "install from uv.lock, warm cache",
                    warm_install,
                    f"{warm_install / cold_install:.2f}x cold",
                )
            )
            size = folder_size(project / ".venv-bench") / 2**20
            rows.append((f"venv size: {size:,.0f} MiB", 0.0, "with dev tools and bytecode"))

    width = max(len(name) for name, _, _ in rows)
    for name, seconds, note in rows:
        figure = f"{seconds:8.2f} s" if seconds else " " * 10
        print(f"{name:<{width}}  {figure}  {note}")


if __name__ == "__main__":
    main()
