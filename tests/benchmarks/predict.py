"""Benchmark batch scoring: `python -m ratchet predict` against in-process predict on the same rows.

Run with `make bench BENCH=predict` after `make run`. Builds CSVs of BENCH_PREDICT_ROWS rows
(default 100,000 and 1,000,000) from the test split's records, repeated. For each, times the
command end to end (start-up, reading, the service's checks, scoring, writing) and reads its peak
memory, and as the baseline measured in the same run, `model.predict` in process on the same rows
already in memory. Each figure is the median of BENCH_RUNS runs (default 3). Asserts nothing.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import pandas as pd

from ratchet.core.progress import progress

ROOT = Path(__file__).resolve().parents[2]
SIZES = [int(n) for n in os.environ.get("BENCH_PREDICT_ROWS", "100000 1000000").split()]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def high_water_kib(pid: int) -> int:
    """VmHWM, the process's peak resident memory so far (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def command(source: Path, output: Path) -> tuple[float, float]:
    """Seconds and peak memory (MiB) of one `ratchet predict` run. The peak is the process's own
    VmHWM, read while it runs: its rusage would also count this process's memory at the fork."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "ratchet", "predict", str(source), "--output", str(output)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, high_water_kib(process.pid))
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"ratchet predict failed:\n{errors.read().decode()}")
    return elapsed, peak / 1024


def in_process(model: object, frame: pd.DataFrame) -> float:
    started = time.perf_counter()
    model.predict(frame)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    from ratchet.core.schema import DataSchema

    model = joblib.load(ROOT / "artifacts/model.joblib")
    schema = DataSchema.load(ROOT / "artifacts/schema.json")
    records = pd.read_parquet(ROOT / "artifacts/split/test.parquet")[schema.feature_names]
    print(f"{'rows':>10} {'predict rows/s':>15} {'in-process':>11} {'ratio':>6} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as scratch:
        for rows in SIZES:
            frame = records.sample(rows, replace=True, random_state=0).reset_index(drop=True)
            source, output = Path(scratch) / f"{rows}.csv", Path(scratch) / "scored.csv"
            frame.to_csv(source, index=False)
            repeats = progress(range(RUNS), label=f"predict {rows:,} rows", total=RUNS, unit="runs")
            runs = [command(source, output) for _ in repeats]
            seconds = statistics.median(run[0] for run in runs)
            peak = max(run[1] for run in runs)
            baseline = statistics.median(in_process(model, frame) for _ in range(RUNS))
            print(
                f"{rows:>10,} {rows / seconds:>15,.0f} {rows / baseline:>11,.0f} "
                f"{baseline / seconds:>5.2f}x {peak:>9,.0f}"
            )
    print("predict: end to end, from CSV to CSV, with the service's checks and start-up;")
    print("in-process: model.predict's rows/s on the rows already in memory, in one call")


if __name__ == "__main__":
    main()
