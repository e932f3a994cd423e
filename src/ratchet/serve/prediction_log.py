"""The prediction log: every served record, its prediction, the model version and the time.

JSON Lines, one record per line, written by a background thread: a request only puts its
records on a bounded queue (about two microseconds) and never waits for the disk. The thread
wakes at most every FLUSH_SECONDS and writes what gathered in one go, so that it does not
compete with the event loop for the GIL after every request. When the queue is full (the disk
stalls, or the load outruns it), requests are not logged and are counted in `dropped`; a
failing disk is counted in `failed`. Neither ever fails or slows a request. The file rotates at
`max_bytes` like logging's RotatingFileHandler (`path.1` ... `path.N`).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import json
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ratchet.core.paths import PREDICTION_LOG

logger = logging.getLogger("ratchet.prediction_log")

ENV_PATH = "RATCHET_PREDICTION_LOG"  # a file path; "off" (or empty) disables the log
MAX_BYTES = 100 * 2**20
BACKUPS = 5
QUEUE_RECORDS = 50_000  # records waiting to be written (about 1.3 kB of memory each)
FLUSH_SECONDS = 0.2

Item = tuple[float, list[BaseModel], BaseModel] | None


def size(item: Item) -> int:
    return 1 if item is None else len(item[1])  # the stop sentinel counts too, or get() misses it


class RecordQueue(queue.Queue[Item]):
    """A queue whose size (and so its bound) counts records rather than requests."""

    def _init(self, maxsize: int) -> None:
        self.queue: collections.deque[Item] = collections.deque()
        self.records = 0

    def _qsize(self) -> int:
        return self.records

    def _put(self, item: Item) -> None:
        self.queue.append(item)
        self.records += size(item)

    def _get(self) -> Item:
        item = self.queue.popleft()
        self.records -= size(item)
        return item


class PredictionLog:
    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = MAX_BYTES,
        backups: int = BACKUPS,
        queue_records: int = QUEUE_RECORDS,
        flush_seconds: float = FLUSH_SECONDS,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.flush_seconds = flush_seconds
        self.queue = RecordQueue(queue_records)
        self.dropped = 0  # requests not logged: the queue was full
        self.failed = 0  # requests not logged: writing failed
        self.written = 0  # requests logged
        self._stream: Any = None
        self._size = 0
        self._warned = 0.0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    @classmethod
    def from_env(cls, worker: int | None = None) -> PredictionLog | None:
        """The log at $RATCHET_PREDICTION_LOG (default predictions/predictions.jsonl), or None.

        With several workers each writes its own file, `<name>.<worker>.jsonl`.
        """
        raw = os.environ.get(ENV_PATH, str(PREDICTION_LOG)).strip()
        if raw.lower() in ("", "off", "none", "0", "false"):
            return None
        path = Path(raw)
        if worker:
            path = path.with_name(f"{path.stem}.{worker}{path.suffix}")
        return cls(path)

    def put(self, records: list[BaseModel], response: BaseModel) -> None:
        """Queue one served request; never blocks, never raises."""
        try:
            self.queue.put_nowait((time.time(), records, response))
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (for up to `timeout` seconds), then stop."""
        with contextlib.suppress(queue.Full):
            self.queue.put(None, timeout=timeout)
        self._thread.join(timeout)

    # --- the writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            if batch[0] is not None:
                time.sleep(self.flush_seconds)  # let requests gather: one wake-up, one write
            while batch[-1] is not None:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            items = [item for item in batch if item is not None]
            try:
                if items:
                    self._write([line for item in items for line in lines(*item)])
                    self.written += len(items)
            except Exception as exc:  # a full or failing disk: count, warn now and then, go on
                self.failed += len(items)
                self._close_stream()
                if time.monotonic() - self._warned > 60:
                    self._warned = time.monotonic()
                    logger.warning(
                        "prediction log %s: %s (%d requests not logged so far)",
                        self.path,
                        exc,
                        self.failed + self.dropped,
                    )
            if batch[-1] is None:
                self._close_stream()
                return

    def _write(self, lines: list[str]) -> None:
        if self._stream is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = self.path.open("ab")
            self._size = self._stream.tell()
        for line in lines:
            data = line.encode()
            if self._size and self._size + len(data) > self.max_bytes:
                self._rotate()
            self._stream.write(data)
            self._size += len(data)
        self._stream.flush()

    def _rotate(self) -> None:
        self._close_stream()
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
        if self.backups > 0:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._stream = self.path.open("ab")
        self._size = 0

    def _close_stream(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()
            self._stream = None


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
        + "\n"
        for i, record in enumerate(records)
    ]


# --- Reading it back, for drift monitoring -------------------------------------------------------


def log_files(path: Path) -> list[Path]:
    """Every file of the log at `path`: each worker's (`<name>.<worker>.jsonl`) and their
    rotations (`...jsonl.1`), newest first."""
    if not path.parent.is_dir():
        return []
    files = [
        candidate
        for candidate in path.parent.iterdir()
        if candidate.is_file()
        and candidate.name.startswith(path.stem)
        and path.suffix in candidate.name
    ]
    return sorted(files, key=lambda file: file.stat().st_mtime, reverse=True)


def read_logged_features(
    path: Path, *, rows: int, hours: float | None = None, now: float | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The features of the newest `rows` logged records (of the last `hours`, if set), newest
    files first; and how many lines were unreadable (a line cut short by a crash, say)."""
    since = None if hours is None else (time.time() if now is None else now) - hours * 3600
    found: list[tuple[str, dict[str, Any]]] = []
    broken = 0
    for file in log_files(path):
        if len(found) >= rows:
            break
        with file.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                    stamp, features = str(entry["time"]), dict(entry["features"])
                except (ValueError, KeyError, TypeError):
                    broken += 1
                    continue
                if since is not None and parse_time(stamp) < since:
                    continue
                found.append((stamp, features))
    found.sort(key=lambda item: item[0])  # ISO times in UTC sort as text
    return [features for _, features in found[-rows:]], broken


def parse_time(stamp: str) -> float:
    try:
        return datetime.datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return 0.0
