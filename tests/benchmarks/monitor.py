"""Benchmark drift monitoring on the demo data, and what it adds to commands that do not monitor.

Run with `make bench BENCH=monitor` (the demo data must be in data/: `dvc pull data.dvc`). Prints
wall times and ratios against baselines measured in the same run; nothing here asserts a figure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ratchet.core.progress import progress

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
# Modules that only monitoring and retraining need.
MONITORING = re.compile(r"^(evidently|ratchet\.(monitor|sources|github))(\.|$)")


def timed(*args: str, cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in ok:
        raise SystemExit(f"{' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return elapsed


def best_of(runs: int, *args: str, cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    label = " ".join([Path(args[0]).name, *args[1:]])
    repeats = progress(range(runs), label=label, total=runs, unit="runs")
    return min(timed(*args, cwd=cwd, ok=ok) for _ in repeats)


def monitoring_imports(*args: str, cwd: Path) -> tuple[list[str], float]:
    """The monitoring modules a command imports, and their cumulative import time in seconds."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
    )
    names, total_us = [], 0
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and MONITORING.match(match.group(3)):
            names.append(match.group(3))
            if not match.group(2):  # top level: its cumulative time includes its children
                total_us += int(match.group(1))
    return names, total_us / 1e6


def project_copy(folder: Path) -> Path:
    if not (ROOT / "data" / "current.csv").is_file():
        raise SystemExit("the demo data is not in data/: run `dvc pull data.dvc` first")
    for name in ("src", "data", "params.yaml", "dvc.yaml"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, folder / name)
    return folder


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        project = project_copy(Path(scratch))
        python = best_of(5, sys.executable, "-c", "pass", cwd=project)
        prepare = best_of(3, sys.executable, "-m", "ratchet", "prepare", cwd=project)
        evidently = best_of(3, sys.executable, "-c", "import evidently.presets", cwd=project)
        monitor = best_of(3, sys.executable, "-m", "ratchet", "monitor", cwd=project, ok=(0, 3))
        report = (project / "reports" / "drift.html").stat().st_size
        help_imports = monitoring_imports("-m", "ratchet", "--help", cwd=project)
        prepare_imports = monitoring_imports("-m", "ratchet", "prepare", cwd=project)

    rows = [
        ("python -c pass (baseline)", python, ""),
        ("ratchet prepare, demo data (baseline)", prepare, f"{prepare / python:.1f}x python"),
        ("import evidently.presets", evidently, f"{evidently / monitor:.0%} of monitor"),
        ("ratchet monitor, demo data", monitor, f"{monitor / prepare:.1f}x prepare"),
        ("  of which drift tests and report", monitor - evidently, "monitor - evidently import"),
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:7.2f} s  {note}")
    print(f"{'drift report size':<{width}}  {report / 1e6:7.2f} MB")
    for command, (names, seconds) in (("--help", help_imports), ("prepare", prepare_imports)):
        found = ", ".join(names) if names else "none"
        print(f"monitoring modules imported by `ratchet {command}`: {found} ({seconds:.3f} s)")


if __name__ == "__main__":
    main()
