"""Benchmark the served model: latency and throughput over loopback HTTP, against baselines.

Run with `make bench BENCH=serve` after `make run`. Serves the current model's bento (in a temporary
BentoML home) and, as baselines measured in the same run, calls `model.predict` in-process on the
same rows and serves the same model with a bare FastAPI + uvicorn wrapper. Each request scores
one record of the test split. Prints figures and ratios; asserts nothing.
Scenarios run in 5 interleaved rounds; BENCH_SECONDS sets each one's total length (default 5).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.servers import serving

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = 5
WARMUP_SECONDS = 0.5
ROWS = 200

BARE_APP = textwrap.dedent('''
    """The same model behind the least code: no schema, no metrics, no middleware."""
    import os

    import joblib
    import pandas as pd
    from fastapi import FastAPI

    model = joblib.load(os.environ["MODEL_FILE"])
    app = FastAPI()


    @app.get("/readyz")
    def ready() -> str:
        return "ok"


    @app.post("/predict")
    def predict(body: dict) -> dict:
        frame = pd.DataFrame(body["records"])
        return {"predictions": model.predict(frame).tolist()}
''')


@dataclass
class Result:
    name: str
    latencies: list[float]
    seconds: float
    errors: int

    @property
    def p50(self) -> float:
        return float(np.percentile(self.latencies, 50)) * 1000

    @property
    def p99(self) -> float:
        return float(np.percentile(self.latencies, 99)) * 1000

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds


async def load(url: str, records: list[dict[str, Any]], clients: int, name: str) -> Result:
    """`clients` concurrent keep-alive clients posting one record each, as fast as answered."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(offset: int, until: float, record: bool) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < until:
                body = {"records": [records[i % len(records)]]}
                started = time.perf_counter()
                async with session.post(f"{url}/predict", json=body) as response:
                    await response.read()
                    ok = response.status == 200
                if record:
                    latencies.append(time.perf_counter() - started)
                    errors += not ok
                i += clients

        warm = time.perf_counter() + WARMUP_SECONDS
        await asyncio.gather(*(client(n, warm, False) for n in range(clients)))
        started = time.perf_counter()
        await asyncio.gather(*(client(n, started + SECONDS / ROUNDS, True) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return Result(name, latencies, elapsed, errors)


def in_process(model: Any, frames: list[Any]) -> Result:
    """The floor: predict on ready-made one-row frames, single-threaded like the service."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=1, user_api="openmp"):
        for frame in frames[:20]:
            model.predict(frame)
        latencies = []
        started = time.perf_counter()
        i = 0
        while time.perf_counter() - started < SECONDS / ROUNDS:
            begun = time.perf_counter()
            model.predict(frames[i % len(frames)])
            latencies.append(time.perf_counter() - begun)
            i += 1
    return Result("in-process model.predict", latencies, time.perf_counter() - started, 0)


def merge(results: list[Result]) -> Result:
    return Result(
        results[0].name,
        [x for r in results for x in r.latencies],
        sum(r.seconds for r in results),
        sum(r.errors for r in results),
    )


def main() -> None:
    import joblib
    import pandas as pd

    model_file = ROOT / "artifacts/model.joblib"
    test_file = ROOT / "artifacts/split/test.parquet"
    if not model_file.is_file() or not test_file.is_file():
        raise SystemExit("no trained model: run `make run` first")
    from ratchet.core.schema import DataSchema

    schema = DataSchema.load(ROOT / "artifacts/schema.json")
    frame = pd.read_parquet(test_file)[schema.feature_names].head(ROWS)
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records"))
    frames = [frame.iloc[[i]] for i in range(len(frame))]
    model = joblib.load(model_file)

    runs: dict[str, list[Result]] = {}
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        env = {
            **os.environ,
            "BENTOML_HOME": str(Path(scratch) / "bentoml"),
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "BENTOML_DO_NOT_TRACK": "true",
        }
        bento = subprocess.run(
            [sys.executable, "-m", "ratchet", "bento"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        (Path(scratch) / "bare_app.py").write_text(BARE_APP)
        # The wrapper gets the service's one-OpenMP-thread setting too (spinning OpenMP threads
        # would stall it), so the comparison is of serving code, not of thread settings.
        commands = {
            "bentoml": [str(BIN / "bentoml"), "serve", bento, "--host", "127.0.0.1", "--port"],
            "fastapi": [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_app:app",
                "--host",
                "127.0.0.1",
                "--workers",
                "1",
                "--log-level",
                "warning",
                "--no-access-log",
                "--port",
            ],
        }
        extra = {"MODEL_FILE": str(model_file), "OMP_NUM_THREADS": "1"}
        urls = {
            name: stack.enter_context(
                serving(
                    lambda port, command=command: [*command, str(port)],
                    "/readyz",
                    env={**env, **extra},
                    cwd=Path(scratch),
                )
            )
            for name, command in commands.items()
        }
        # Interleaved rounds, so that a busy moment of the machine hits every scenario alike.
        for _ in range(ROUNDS):
            runs.setdefault("in-process model.predict", []).append(in_process(model, frames))
            for clients in (1, 16):
                for name, url in urls.items():
                    label = f"{name}, {clients} client{'s' if clients > 1 else ''}"
                    runs.setdefault(label, []).append(
                        asyncio.run(load(url, records, clients, label))
                    )
    results = [merge(parts) for parts in runs.values()]

    print(f"{'scenario':<28} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'errors':>7}")
    for result in results:
        print(
            f"{result.name:<28} {result.p50:8.2f} {result.p99:8.2f} {result.throughput:8.0f} "
            f"{result.errors:7d}"
        )
    by_name = {result.name: result for result in results}
    base = by_name["in-process model.predict"]
    one, many = by_name["bentoml, 1 client"], by_name["bentoml, 16 clients"]
    bare_one, bare_many = by_name["fastapi, 1 client"], by_name["fastapi, 16 clients"]
    print()
    print(f"bentoml p50 at 1 client - in-process p50: {one.p50 - base.p50:+.2f} ms (aim <= 2 ms)")
    print(f"fastapi p50 at 1 client - in-process p50: {bare_one.p50 - base.p50:+.2f} ms")
    print(
        f"bentoml / fastapi throughput at 16 clients: "
        f"{many.throughput / bare_many.throughput:.2f} (aim >= 0.70)"
    )
    print(f"bentoml / fastapi throughput at 1 client: {one.throughput / bare_one.throughput:.2f}")
    print(f"errors: {sum(result.errors for result in results)} (aim 0)")


if __name__ == "__main__":
    main()
