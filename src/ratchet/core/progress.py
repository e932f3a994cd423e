"""Progress on long work: tqdm's bar on a terminal, and plain lines where no one watches a bar
(a CI log, a file), since a bar's carriage returns make a log unreadable."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")

STEP = 10  # a plain line at every tenth of the work
EVERY = 30.0  # or every 30 seconds when the total is not known


def progress(
    items: Iterable[T],
    *,
    label: str,
    total: int | None = None,
    unit: str = "items",
    stream: TextIO | None = None,
) -> Iterator[T]:
    """Yield `items`, showing how far the work has come on `stream` (standard error)."""
    stream = stream or sys.stderr
    if stream.isatty():
        yield from tqdm(items, desc=label, total=total, unit=f" {unit}", file=stream)
        return
    start = last = time.monotonic()
    shown = done = 0
    for done, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if total:
            tenth = done * STEP // total
            if tenth > shown and done < total:
                shown = tenth
                print(f"{label}: {done}/{total} {unit} ({100 * done // total}%)", file=stream)
        elif now - last >= EVERY:
            last = now
            print(f"{label}: {done} {unit}", file=stream)
    print(f"{label}: {done} {unit} in {time.monotonic() - start:.1f} s", file=stream, flush=True)
