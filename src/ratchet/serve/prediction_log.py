"""The prediction log: every served record, its prediction, the model version and the time.

Built from the standard library's logging: a request hands its records to a QueueHandler (a
bounded queue, a few microseconds, never the disk); a QueueListener's thread writes them as JSON
Lines to a RotatingFileHandler in a local spool folder, a batch at a time (what arrived within
50 ms, in one write). A file is closed when it reaches `max_bytes`, or when a shipper thread
finds it older than `ship_seconds`, and moves to the spool's outbox under a name unique to this
pod and process (src/ratchet/core/predictions.py).
The shipper copies each outbox file to the sink, an fsspec URL (a folder, s3://..., gs://...),
and deletes it once copied. `close()` (at shutdown: SIGTERM, BentoML's on_shutdown, exit) writes
what is queued, closes the file and ships the outbox.

Nothing here ever fails or slows a request:
- the queue full (the disk stalls, or the load outruns it): the request is not logged and its
  records are counted in `dropped`; a failing disk: counted in `failed`;
- the sink down: one warning, files wait in the outbox and are retried with backoff (doubling,
  up to `max_retry_seconds`), then one line when they ship again;
- the outbox past `spool_bytes` (a long outage): its oldest files are deleted and their records
  counted in `discarded`, so that the newest records are the ones that reach the sink.
Worker processes of one pod may share the spool: one ships at a time (a lock file), and each
holds a lock while it lives, so that the current file of a process killed without closing
(SIGKILL, out of memory) is shipped by the next process on that spool.
"""

from __future__ import annotations

import atexit
import datetime
import fcntl
import hashlib
import json
import logging
import os
import queue
import socket
import tempfile
import threading
import time
import uuid
from logging.handlers import QueueHandler, QueueListener, RotatingFileHandler
from pathlib import Path

from pydantic import BaseModel

from ratchet.core.errors import RatchetError
from ratchet.core.paths import PREDICTIONS
from ratchet.core.predictions import file_name, sink_key

logger = logging.getLogger("ratchet.prediction_log")

ENV_SINK = "RATCHET_PREDICTION_LOG"  # the sink's URL; "off" (or empty) disables the log
ENV_SPOOL = "RATCHET_PREDICTION_SPOOL"  # the local folder files wait in (an emptyDir in a pod)
ENV_SHIP_SECONDS = "RATCHET_PREDICTION_SHIP_SECONDS"
ENV_SPOOL_BYTES = "RATCHET_PREDICTION_SPOOL_BYTES"
MAX_BYTES = 16 * 2**20  # a file is closed and shipped at this size...
SHIP_SECONDS = 60.0  # ...or at this age, whichever comes first
SPOOL_BYTES = 512 * 2**20  # the outbox's bound while the sink is down
QUEUE_REQUESTS = 10_000  # requests waiting to be written
BATCH_SECONDS = 0.05  # the writer lets requests gather this long, then writes them at once
MAX_RETRY_SECONDS = 300.0


def default_spool() -> Path:
    return Path(tempfile.gettempdir()) / "ratchet-predictions"


def env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if value <= 0:
        raise RatchetError(f"{name}={raw} is not a positive number: set it to one, or unset it")
    return value


class Served(logging.LogRecord):
    """One answered request, as a log record: its records and the response."""

    def __init__(self, records: list[BaseModel], response: BaseModel) -> None:
        super().__init__("ratchet.predictions", logging.INFO, "", 0, "", None, None)
        self.records = records
        self.response = response
        self.count = len(records)  # what a failure to write it counts


class RequestQueue(QueueHandler):
    """Hands a request to the writer's thread. Never blocks: a full queue counts the request's
    records as dropped. The record goes as it is: JSON is written in the writer's thread."""

    def __init__(self, requests: queue.Queue[logging.LogRecord | None]) -> None:
        super().__init__(requests)
        self.dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += getattr(record, "count", 0)


class Batch(logging.LogRecord):
    """The served requests that the writer takes from the queue at once."""

    def __init__(self, served: list[Served]) -> None:
        super().__init__("ratchet.predictions", logging.INFO, "", 0, "", None, None)
        self.served = served


class Writer(QueueListener):
    """The thread that writes queued requests to the file, a batch at a time: it wakes for a
    request, lets more gather for `batch_seconds`, then takes every queued one as one Batch.
    Under load it takes the GIL, and writes and flushes, once a batch instead of once a request
    (measured: without batches the log cost the service 7 % of its requests a second at 16
    clients; with them, none that the bench can see)."""

    def __init__(
        self,
        requests: queue.Queue[logging.LogRecord | None],
        file: logging.Handler,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        super().__init__(requests, file)
        self.requests = requests
        self.batch_seconds = batch_seconds
        self._stop_seen = False

    def dequeue(self, block: bool) -> logging.LogRecord:
        """The next batch; the stop mark (None) once the batch before it is written. The queue's
        count of unfinished items stays right: QueueListener marks done what this returns (the
        first request, or the stop mark), this marks the rest."""
        if self._stop_seen:
            return None  # type: ignore[return-value]  # QueueListener's stop mark
        first = self.requests.get(block)
        if first is None:
            return None  # type: ignore[return-value]
        time.sleep(self.batch_seconds)
        served = [first]
        while True:
            try:
                request = self.requests.get_nowait()
            except queue.Empty:
                break
            if request is None:  # stop after this batch
                self._stop_seen = True
                break
            self.requests.task_done()
            served.append(request)
        return Batch([request for request in served if isinstance(request, Served)])

    def enqueue_sentinel(self) -> None:
        self.requests.put(None)  # its stop mark, after what is queued: wait for room, not fail


class JsonLines(logging.Formatter):
    """A piece of the file's JSON Lines as its record holds it (see SpoolFile.emit)."""

    def format(self, record: logging.LogRecord) -> str:
        return str(record.msg)


class SpoolFile(RotatingFileHandler):
    """The file being written; closed into the outbox at `max_bytes`, or by `rotate_now`."""

    def __init__(self, path: Path, outbox: Path, max_bytes: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=1, encoding="utf-8", delay=True)
        self.setFormatter(JsonLines())
        self.namer = lambda _default: str(outbox / file_name(datetime.datetime.now(datetime.UTC)))
        self.written = 0  # records written
        self.failed = 0  # records not written: the disk failed, or they were not JSON
        self._warned = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        """Write a batch's JSON Lines, in pieces of at most `maxBytes`: a file still closes when
        it reaches that size, one write and one flush a piece."""
        assert isinstance(record, Batch)
        text: list[str] = []
        for request in record.served:
            try:
                text += lines(request.created, request.records, request.response)
            except Exception:  # as logging's emit does: counted, and the thread goes on
                self.handleError(request)
        for piece in pieces(text, self.maxBytes):
            part = logging.makeLogRecord({"msg": "\n".join(piece), "count": len(piece)})
            failed = self.failed
            super().emit(part)  # calls handleError on failure
            if self.failed == failed:
                self.written += len(piece)

    def handleError(self, record: logging.LogRecord) -> None:
        """A full or failing disk, or a request that cannot be written: count its records, warn
        now and then (not with logging's traceback)."""
        self.failed += getattr(record, "count", 0)
        if time.monotonic() - self._warned > 60:
            self._warned = time.monotonic()
            logger.warning(
                "prediction log: cannot write %s (%d records not logged so far)",
                self.baseFilename,
                self.failed,
            )

    def rotate_now(self) -> None:
        """Close the file into the outbox if it holds anything."""
        self.acquire()
        try:
            path = Path(self.baseFilename)
            if path.exists() and path.stat().st_size > 0:
                self.doRollover()
        finally:
            self.release()


class PredictionLog:
    def __init__(
        self,
        sink: str,
        spool: Path,
        *,
        max_bytes: int = MAX_BYTES,
        ship_seconds: float = SHIP_SECONDS,
        spool_bytes: int = SPOOL_BYTES,
        queue_requests: int = QUEUE_REQUESTS,
        max_retry_seconds: float = MAX_RETRY_SECONDS,
    ) -> None:
        self.sink = sink if "://" in sink else str(Path(sink).absolute())  # a folder: from here
        # One spool folder per sink: a process ships every file in it, never another sink's.
        folder = spool / hashlib.sha256(self.sink.encode()).hexdigest()[:12]
        self.outbox = folder / "outbox"
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            (folder / "writing").mkdir(exist_ok=True)
        except OSError as exc:
            raise RatchetError(
                f"the prediction log's spool {spool} cannot be written ({exc}): set {ENV_SPOOL} "
                f"to a writable folder (an emptyDir in Kubernetes), or {ENV_SINK}=off"
            ) from None
        self.writing = folder / "writing"
        name = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}"
        self.file = SpoolFile(self.writing / f"{name}.jsonl", self.outbox, max_bytes)
        # Held while this process lives: a file whose lock is free lost its writer to a crash.
        self._alive = (self.writing / f"{name}.lock").open("w")
        fcntl.flock(self._alive, fcntl.LOCK_EX)
        waiting: queue.Queue[logging.LogRecord | None] = queue.Queue(queue_requests)
        self.requests = RequestQueue(waiting)
        self.listener = Writer(waiting, self.file)
        self.ship_seconds = ship_seconds
        self.spool_bytes = spool_bytes
        self.max_retry_seconds = max_retry_seconds
        self.shipped = 0  # files copied to the sink
        self.ship_failures = 0  # tries that the sink refused
        self.discarded = 0  # records deleted unshipped: the outbox passed spool_bytes
        self.down_since: float | None = None  # the sink failed at this time, and since
        self.discarded_at_outage = 0
        self._stopping = threading.Event()
        self._closed = False
        self.listener.start()
        self._shipper = threading.Thread(target=self._run, name="prediction-shipper", daemon=True)
        self._shipper.start()
        atexit.register(self.close)

    @classmethod
    def from_env(cls) -> PredictionLog | None:
        """The log shipped to $RATCHET_PREDICTION_LOG (default the folder predictions/), spooled
        in $RATCHET_PREDICTION_SPOOL (default <tmp>/ratchet-predictions); None if it is off."""
        sink = os.environ.get(ENV_SINK, PREDICTIONS).strip()
        if sink.lower() in ("", "off", "none", "0", "false"):
            return None
        spool = Path(os.environ.get(ENV_SPOOL) or default_spool())
        return cls(
            sink,
            spool,
            ship_seconds=env_number(ENV_SHIP_SECONDS, SHIP_SECONDS),
            spool_bytes=int(env_number(ENV_SPOOL_BYTES, SPOOL_BYTES)),
        )

    @property
    def dropped(self) -> int:
        """Records not logged: the queue was full."""
        return self.requests.dropped

    def put(self, records: list[BaseModel], response: BaseModel) -> None:
        """Queue one served request; never blocks, never raises."""
        self.requests.handle(Served(records, response))

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, close the file, and ship the outbox (for up to `timeout` seconds:
        what the sink has not taken by then stays in the spool, for the next process to ship)."""
        if self._closed:
            return
        self._closed = True
        self.listener.stop()
        self.file.rotate_now()
        self.file.close()
        self._stopping.set()
        self._shipper.join(timeout)
        atexit.unregister(self.close)
        Path(self._alive.name).unlink(missing_ok=True)
        self._alive.close()

    # --- the shipper thread -----------------------------------------------------------------------

    def _run(self) -> None:
        retry = self.ship_seconds
        next_try = 0.0
        while not self._stopping.wait(self.ship_seconds):
            try:
                self.file.rotate_now()
                if time.monotonic() >= next_try:
                    if self.ship():
                        retry = self.ship_seconds
                    else:
                        retry = min(retry * 2, max(self.max_retry_seconds, self.ship_seconds))
                        next_try = time.monotonic() + retry
            except OSError as exc:  # the spool itself failed (full, gone): try again later
                logger.warning("prediction log: the spool failed: %s", exc)
        self.ship(wait=True)  # the last pass, at close: after a sibling's, not instead of it

    def ship(self, *, wait: bool = False) -> bool:
        """Copy every outbox file to the sink, oldest first, deleting each once copied; then,
        if the sink failed, keep the outbox under spool_bytes. False when the sink failed."""
        with (self.outbox.parent / "ship.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                return True  # another process of this pod is shipping this spool
            self._adopt_orphans()
            for path in sorted(self.outbox.glob("*.jsonl")):
                try:
                    self._put(path)
                except Exception as exc:
                    self.ship_failures += 1
                    self._down(exc)
                    self._trim()
                    return False
                path.unlink()
                self.shipped += 1
        if self.down_since is not None:
            logger.warning(
                "prediction log: shipping to %s again after %.0f s (%d records deleted unshipped)",
                self.sink,
                time.time() - self.down_since,
                self.discarded - self.discarded_at_outage,
            )
            self.down_since = None
        return True

    def _adopt_orphans(self) -> None:
        """Move the current file of a process that died without closing it (SIGKILL, out of
        memory) to the outbox: its lock file is no longer held."""
        for lock_file in self.writing.glob("*.lock"):
            with lock_file.open("a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer lives
                orphan = lock_file.with_suffix(".jsonl")
                if orphan.exists():
                    orphan.replace(self.outbox / file_name(datetime.datetime.now(datetime.UTC)))
                lock_file.unlink()

    def _put(self, path: Path) -> None:
        from fsspec.core import url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        fs, root = url_to_fs(self.sink)
        target = f"{root.rstrip('/')}/{sink_key(path.name)}"
        if isinstance(fs, LocalFileSystem):  # a folder: never show a reader half a file
            fs.makedirs(str(Path(target).parent), exist_ok=True)
            fs.put_file(str(path), f"{target}.part")
            fs.mv(f"{target}.part", target)
        else:  # an object store writes an object whole
            fs.put_file(str(path), target)

    def _down(self, exc: Exception) -> None:
        if self.down_since is None:  # once per outage
            self.down_since = time.time()
            self.discarded_at_outage = self.discarded
            waiting = list(self.outbox.glob("*.jsonl"))
            logger.warning(
                "prediction log: cannot ship to %s (%s: %s); %d files (%d bytes) wait in %s and "
                "are retried; past %d bytes the oldest are deleted",
                self.sink,
                type(exc).__name__,
                str(exc)[:200],
                len(waiting),
                sum(path.stat().st_size for path in waiting),
                self.outbox,
                self.spool_bytes,
            )

    def _trim(self) -> None:
        """Keep the outbox under spool_bytes: delete its oldest files, counting their records."""
        files = sorted(self.outbox.glob("*.jsonl"))
        discarded = self.discarded_at_outage
        total = sum(path.stat().st_size for path in files)
        for path in files:
            if total <= self.spool_bytes:
                break
            data = path.read_bytes()
            path.unlink()
            total -= len(data)
            if self.discarded == discarded:  # once per outage, and a count when it ends
                logger.warning(
                    "prediction log: %s holds more than %d bytes: deleting its oldest files",
                    self.outbox,
                    self.spool_bytes,
                )
            self.discarded += data.count(b"\n")


def pieces(lines: list[str], max_bytes: int) -> list[list[str]]:
    """`lines` in consecutive runs of fewer than `max_bytes` characters each, newlines counted
    (a longer line alone): what RotatingFileHandler writes to a new file without closing it."""
    runs: list[list[str]] = []
    size = max_bytes
    for line in lines:
        if size + len(line) + 1 >= max_bytes:
            runs.append([])
            size = 0
        runs[-1].append(line)
        size += len(line) + 1
    return runs


def lines(when: float, records: list[BaseModel], response: BaseModel) -> list[str]:
    """One JSON line per record of a served request."""
    stamp = datetime.datetime.fromtimestamp(when, datetime.UTC).isoformat(timespec="milliseconds")
    output = response.model_dump(by_alias=True)
    probabilities = output.get("probabilities")
    return [
        json.dumps(
            {
                "time": stamp,
                "model_version": output["model_version"],
                "features": record.model_dump(by_alias=True),
                "prediction": output["predictions"][i],
                **({"probabilities": probabilities[i]} if probabilities is not None else {}),
            }
        )
        for i, record in enumerate(records)
    ]
