"""Benchmark the served model: latency and throughput over loopback HTTP, against baselines.

Run with `make bench BENCH=serve` after `make run`. Serves the current model's bento as shipped
(in a temporary BentoML home: its settings, one worker per core), with its prediction log on and
off, and as baselines measured in the same run calls `model.predict` in process on the same rows,
and serves the same model with a bare FastAPI + uvicorn app that does what the service does (the
same request contract, batching and prediction log) without BentoML, with as many worker
processes. Each request scores one record of the test split. The scenarios run in interleaved
rounds; each figure is the median of its rounds, with their range. Then a soak: 16 clients for
BENCH_SOAK_SECONDS (default 60) while the service's memory is read. Prints figures and the
issue's goals, and how many 16-client rounds one worker served nearly alone (the workers share a
socket); asserts nothing (the machine may be busy).
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
SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))  # per scenario and round
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SOAK_SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "60"))
WARMUP_SECONDS = 0.5
ROWS = 200
# The service's worker count: BentoML's "cpu_count" (service.py); the bare app gets as many.
WORKERS = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 1)))

BARE_APP = textwrap.dedent('''
    """What the service does, without BentoML: the same request contract, the same batching of
    concurrent requests and the same prediction log, behind FastAPI and uvicorn."""
    import os
    from pathlib import Path

    import joblib
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response

    from ratchet.core.schema import DataSchema
    from ratchet.serve.contract import build_contract
    from ratchet.serve.prediction_log import PredictionLog
    from ratchet.serve.scoring import Batcher, score_requests

    model = joblib.load(os.environ["MODEL_FILE"])
    contract = build_contract(DataSchema.load(Path(os.environ["SCHEMA_FILE"])), "bare")
    batcher = Batcher(lambda requests: score_requests(model, contract, requests))
    log = PredictionLog.from_env()
    app = FastAPI()


    @app.get("/readyz")
    def ready() -> str:
        return "ok"


    @app.post("/predict")
    async def predict(request: Request) -> Response:
        body = contract.request.model_validate_json(await request.body())
        records = body.records  # type: ignore[attr-defined]
        answer = await batcher(records)
        if log is not None:
            log.put(records, answer)
        return JSONResponse(answer.model_dump(mode="json", by_alias=True))
''')


@dataclass
class Result:
    name: str
    latencies: list[float]
    seconds: float
    errors: int
    sent: int = 0  # every request, the warm-up's included
    cpu_seconds: float = 0.0  # the server's CPU time over all of them
    lopsided: bool = False  # one worker process did (nearly) all the work

    @property
    def cpu_ms(self) -> float:
        """The server's CPU time a request: what other programs on the machine cannot inflate."""
        return self.cpu_seconds / max(self.sent, 1) * 1000

    @property
    def p50(self) -> float:
        return float(np.percentile(self.latencies, 50)) * 1000

    @property
    def p99(self) -> float:
        return float(np.percentile(self.latencies, 99)) * 1000

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds


async def load(
    url: str, records: list[dict[str, Any]], clients: int, name: str, seconds: float = SECONDS
) -> Result:
    """`clients` concurrent keep-alive clients posting one record each, as fast as answered.

    In the warm-up the clients start one after another, as clients arriving over time do: 16
    connections opened in the same instant can all be accepted by one worker of the server's
    (they share one listening socket), which measures that race rather than the server."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    sent = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(offset: int, until: float, record: bool, delay: float = 0.0) -> None:
            nonlocal errors, sent
            await asyncio.sleep(delay)
            i = offset
            while time.perf_counter() < until:
                body = {"records": [records[i % len(records)]]}
                started = time.perf_counter()
                async with session.post(f"{url}/predict", json=body) as response:
                    await response.read()
                    ok = response.status == 200
                sent += 1
                if record:
                    latencies.append(time.perf_counter() - started)
                    errors += not ok
                i += clients

        warm = time.perf_counter() + WARMUP_SECONDS
        stagger = WARMUP_SECONDS / 2 / clients
        await asyncio.gather(*(client(n, warm, False, n * stagger) for n in range(clients)))
        started = time.perf_counter()
        await asyncio.gather(*(client(n, started + seconds, True) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return Result(name, latencies, elapsed, errors, sent)


def in_process(model: Any, frames: list[Any]) -> Result:
    """The floor: predict on ready-made one-row frames, single-threaded like the service."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=1, user_api="openmp"):
        for frame in frames[:20]:
            model.predict(frame)
        latencies = []
        started, cpu = time.perf_counter(), time.thread_time()
        i = 0
        while time.perf_counter() - started < SECONDS:
            begun = time.perf_counter()
            model.predict(frames[i % len(frames)])
            latencies.append(time.perf_counter() - begun)
            i += 1
    seconds = time.perf_counter() - started
    return Result("in-process", latencies, seconds, 0, i, time.thread_time() - cpu)


def server(url: str) -> Any:
    """The process that serves `url` and started the others (for BentoML, its arbiter)."""
    import psutil

    top = psutil.Process(server_pid(url))
    while (parent := top.parent()) is not None and any(
        name in " ".join(parent.cmdline()) for name in ("bentoml", "uvicorn")
    ):
        top = parent
    return top


def cpu_of(processes: list[Any]) -> list[float]:
    """Each process's CPU time so far (0 for one that has gone)."""
    import psutil

    spent = []
    for process in processes:
        try:
            times = process.cpu_times()
            spent.append(times.user + times.system)
        except psutil.NoSuchProcess:
            spent.append(0.0)
    return spent


def cpu_seconds(top: Any) -> float:
    """The CPU time of a server and every process it started."""
    return sum(cpu_of([top, *top.children(recursive=True)]))


def worker_cpu(top: Any) -> list[float]:
    """The CPU time of each worker process (a process the server started that serves)."""
    workers = top.children(recursive=True)
    return cpu_of([p for p in workers if "resource_tracker" not in " ".join(p.cmdline())])


def lopsided(before: list[float], after: list[float]) -> bool:
    """Whether one worker did over 90 % of the work: the workers share one listening socket, and
    the first to wake can accept every connection a round opens."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return len(spent) > 1 and max(spent) > 0.9 * sum(spent)


def rss_mib(top: Any) -> float:
    """The resident memory of a server and every process it started."""
    return sum(p.memory_info().rss for p in [top, *top.children(recursive=True)]) / 2**20


def soak(url: str, records: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """16 clients for SOAK_SECONDS; the server's memory every tenth of it, as (seconds, MiB)."""
    top = server(url)
    samples = [(0.0, rss_mib(top))]
    step = SOAK_SECONDS / 10
    for n in range(1, 11):
        asyncio.run(load(url, records, 16, "soak", seconds=step))
        samples.append((n * step, rss_mib(top)))
    return samples


def spread(values: list[float], unit: str, digits: int = 2) -> str:
    """The median of the rounds, and their range."""
    middle = float(np.median(values))
    return f"{middle:.{digits}f} {unit} ({min(values):.{digits}f} to {max(values):.{digits}f})"


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

    rounds: dict[str, list[Result]] = {}
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        scratch = Path(folder)
        env = {
            **os.environ,
            "BENTOML_HOME": str(scratch / "bentoml"),
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "BENTOML_DO_NOT_TRACK": "true",
            "PYTHONPATH": str(ROOT / "src"),
            "MODEL_FILE": str(model_file),
            "SCHEMA_FILE": str(ROOT / "artifacts/schema.json"),
            "OMP_NUM_THREADS": "1",  # as the service limits OpenMP: serving code is compared
        }
        bento = subprocess.run(
            [sys.executable, "-m", "ratchet", "bento"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        (scratch / "bare_app.py").write_text(BARE_APP)
        bentoml = [str(BIN / "bentoml"), "serve", bento, "--host", "127.0.0.1", "--port"]
        uvicorn = [sys.executable, "-m", "uvicorn", "bare_app:app", "--host", "127.0.0.1"]
        uvicorn += ["--workers", str(WORKERS), "--log-level", "warning", "--no-access-log"]
        uvicorn += ["--port"]
        servers = {
            "bentoml": (bentoml, str(scratch / "log-bentoml")),
            "bentoml, no log": (bentoml, "off"),
            "fastapi": (uvicorn, str(scratch / "log-fastapi")),
        }
        urls = {
            name: stack.enter_context(
                serving(
                    lambda port, command=command: [*command, str(port)],
                    "/readyz",
                    env={
                        **env,
                        "RATCHET_PREDICTION_LOG": log,
                        "RATCHET_PREDICTION_SPOOL": str(scratch / "spool"),
                    },
                    cwd=scratch,
                )
            )
            for name, (command, log) in servers.items()
        }
        tops = {name: server(url) for name, url in urls.items()}
        # Interleaved rounds, so that a busy moment of the machine hits every scenario alike.
        for _ in range(ROUNDS):
            rounds.setdefault("in-process", []).append(in_process(model, frames))
            for clients in (1, 16):
                for name, url in urls.items():
                    label = f"{name}, {clients} client{'s' if clients > 1 else ''}"
                    before, workers = cpu_seconds(tops[name]), worker_cpu(tops[name])
                    result = asyncio.run(load(url, records, clients, label))
                    result.cpu_seconds = cpu_seconds(tops[name]) - before
                    result.lopsided = lopsided(workers, worker_cpu(tops[name]))
                    rounds.setdefault(label, []).append(result)
        samples = soak(urls["bentoml"], records)
        stack.close()  # the servers stop, and ship their logs
        logged = sum(
            len(path.read_text().splitlines()) for path in scratch.glob("log-bentoml/*/*.jsonl")
        )

    report(rounds, logged, samples)


def report(
    rounds: dict[str, list[Result]], logged: int, samples: list[tuple[float, float]]
) -> None:
    print(
        f"{'scenario':<28} {'p50 ms':>24} {'p99 ms':>26} {'req/s':>18} {'CPU ms/req':>20} "
        f"{'errors':>6}"
    )
    for name, results in rounds.items():
        print(
            f"{name:<28} {spread([r.p50 for r in results], ''):>24} "
            f"{spread([r.p99 for r in results], ''):>26} "
            f"{spread([r.throughput for r in results], '', 0):>18} "
            f"{spread([r.cpu_ms for r in results], ''):>20} "
            f"{sum(r.errors for r in results):6d}"
        )

    def per_round(name: str, value: Any) -> list[float]:
        return [
            value(result, base)
            for result, base in zip(rounds[name], rounds["in-process"], strict=True)
        ]

    print()
    gap = per_round("bentoml, 1 client", lambda r, b: r.p50 - b.p50)
    bare_gap = per_round("fastapi, 1 client", lambda r, b: r.p50 - b.p50)
    cost = [
        a.p50 - b.p50
        for a, b in zip(
            rounds["bentoml, 1 client"], rounds["bentoml, no log, 1 client"], strict=True
        )
    ]
    ratio = [
        a.throughput / b.throughput
        for a, b in zip(rounds["bentoml, 16 clients"], rounds["fastapi, 16 clients"], strict=True)
    ]
    print(f"{WORKERS} worker process(es) each; {ROUNDS} interleaved rounds of {SECONDS:g} s")
    print(f"bentoml / fastapi requests/s at 16 clients: {spread(ratio, 'x')}; goal >= 1")
    cpu_ratio = [
        b.cpu_ms / a.cpu_ms
        for a, b in zip(rounds["bentoml, 16 clients"], rounds["fastapi, 16 clients"], strict=True)
    ]
    print(f"  the same from CPU time a request (fastapi / bentoml): {spread(cpu_ratio, 'x')}")
    print(f"bentoml p50 at 1 client - in-process p50: {spread(gap, 'ms')}; goal <= 2 ms")
    cpu_gap = per_round("bentoml, 1 client", lambda r, b: r.cpu_ms - b.cpu_ms)
    print(f"  the same in CPU time a request: {spread(cpu_gap, 'ms')}")
    print(f"fastapi p50 at 1 client - in-process p50: {spread(bare_gap, 'ms')}")
    print(f"the prediction log's cost, p50 at 1 client: {spread(cost, 'ms', 3)}")
    many = [name for name in rounds if name.endswith("16 clients")]
    shown = "; ".join(
        f"{name.removesuffix(', 16 clients')} {sum(r.lopsided for r in rounds[name])} of "
        f"{len(rounds[name])}"
        for name in many
    )
    print(f"rounds at 16 clients where one worker did over 90 % of the work: {shown}")
    errors = sum(r.errors for results in rounds.values() for r in results)
    print(f"errors: {errors} (goal 0); records in the prediction log: {logged:,}")
    if samples:
        shown = ", ".join(f"{seconds:.0f} s: {mib:.0f}" for seconds, mib in samples)
        print(f"bentoml memory over a {SOAK_SECONDS:.0f} s soak at 16 clients, MiB: {shown}")


def server_pid(url: str) -> int | None:
    """The pid of the process listening on the URL's port."""
    import psutil

    port = int(url.rsplit(":", 1)[1])
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            return int(connection.pid) if connection.pid else None
    return None


if __name__ == "__main__":
    main()
