"""The prediction log in its sink: how its files are named, and reading the newest records back.

The sink is an fsspec URL (params.yaml `monitor.predictions`): a local folder, `s3://bucket/prefix`
or `gs://bucket/prefix`. Every service process ships each closed file of its log there as
`<sink>/<UTC day>/<UTC time>-<host>-<pid>-<random>.jsonl`: a name no other pod or process can
take, whose time (when the file was closed, so after each of its records) sorts the files. The
serving side writes them (src/ratchet/serve/prediction_log.py); `make monitor` reads them here.
A line is one served record: {"time", "model_version", "features", "prediction"[, "probabilities"]}.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ratchet.core.errors import RatchetError

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
STAMP = "%Y%m%dT%H%M%S.%fZ"


def file_name(closed: datetime.datetime) -> str:
    """A file's name in the sink: its closing time in UTC, then who wrote it."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"
    stamp = closed.astimezone(datetime.UTC).strftime(STAMP)
    return f"{stamp}-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"


def sink_key(name: str) -> str:
    """Where a file goes under the sink: one folder per UTC day, so readers list only the newest."""
    closed = datetime.datetime.strptime(name[:23], STAMP)
    return f"{closed:%Y-%m-%d}/{name}"


def closed_at(name: str) -> float:
    """The time (epoch seconds) a file of the sink was closed, from its name; 0 if it has none."""
    try:
        return datetime.datetime.strptime(name[:23], STAMP).replace(tzinfo=datetime.UTC).timestamp()
    except ValueError:
        return 0.0


def newest_files(url: str) -> Iterator[tuple[Any, str]]:
    """The log's files in the sink, newest first: (filesystem, path) pairs, listed day by day."""
    from fsspec.core import url_to_fs

    try:
        fs, root = url_to_fs(url)
        fs.invalidate_cache()  # other processes may have shipped files since this one listed
        days = [path for path in fs.ls(root, detail=False) if DAY.fullmatch(base(path))]
    except FileNotFoundError:
        return
    except (ImportError, ValueError, OSError) as exc:  # no s3fs, an unknown protocol, no access
        raise RatchetError(
            f"params.yaml: monitor.predictions is {url}, which cannot be read ({exc}): install "
            "its filesystem (`uv add --group monitor s3fs`, or gcsfs) and give this job access"
        ) from None
    for day in sorted(days, key=base, reverse=True):
        names = [path for path in fs.ls(day, detail=False) if path.endswith(".jsonl")]
        for path in sorted(names, key=base, reverse=True):
            yield fs, path


def base(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class LoggedWindow:
    """The newest logged records: their features (oldest first), when the first and the last were
    served (ISO times, UTC; None when there are none), and how many lines were unreadable."""

    features: list[dict[str, Any]]
    first: str | None
    last: str | None
    broken: int


def read_window(
    url: str, *, rows: int, hours: float | None = None, now: float | None = None
) -> LoggedWindow:
    """The newest `rows` logged records (of the last `hours`, if set). Reads the newest files
    first, and stops at the first file closed before the window, or before the oldest of the
    `rows` newest records found so far: a file holds no record newer than its closing time. An
    unreadable line (one cut short by a crash, say) is counted, not read."""
    from ratchet.core.progress import progress  # here: the service, which only writes, needs none

    since = None if hours is None else (time.time() if now is None else now) - hours * 3600
    found: list[tuple[str, dict[str, Any]]] = []
    broken = 0
    for fs, path in progress(newest_files(url), label="prediction log", unit="files"):
        if len(found) >= rows:
            found = sorted(found, key=lambda item: item[0])[-rows:]
            since = max(since or 0.0, parse_time(found[0][0]))
        if since is not None and closed_at(base(path)) < since:
            break
        for line in fs.cat_file(path).decode("utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
                stamp, features = str(entry["time"]), dict(entry["features"])
            except (ValueError, KeyError, TypeError):
                broken += 1
                continue
            if since is not None and parse_time(stamp) < since:
                continue
            found.append((stamp, features))
    found = sorted(found, key=lambda item: item[0])[-rows:]  # ISO times in UTC sort as text
    return LoggedWindow(
        features=[features for _, features in found],
        first=found[0][0] if found else None,
        last=found[-1][0] if found else None,
        broken=broken,
    )


def read_logged_features(
    url: str, *, rows: int, hours: float | None = None, now: float | None = None
) -> tuple[list[dict[str, Any]], int]:
    """`read_window`'s features and count of unreadable lines."""
    window = read_window(url, rows=rows, hours=hours, now=now)
    return window.features, window.broken


def parse_time(stamp: str) -> float:
    try:
        return datetime.datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return 0.0
