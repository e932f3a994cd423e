"""Progress: plain lines in a log, tqdm's bar on a terminal."""

from __future__ import annotations

import io
import os

from ratchet.core.progress import progress


def test_a_log_gets_a_plain_line_at_each_tenth_and_at_the_end() -> None:
    log = io.StringIO()
    assert list(progress(range(200), label="scoring", total=200, unit="rows", stream=log)) == list(
        range(200)
    )
    lines = log.getvalue().splitlines()
    assert lines[:2] == ["scoring: 20/200 rows (10%)", "scoring: 40/200 rows (20%)"]
    assert len(lines) == 10 and lines[-1].startswith("scoring: 200 rows in ")
    assert "\r" not in log.getvalue()


def test_a_log_of_unknown_length_says_how_many_at_the_end() -> None:
    log = io.StringIO()
    assert list(progress(iter("abc"), label="reading", stream=log)) == ["a", "b", "c"]
    assert log.getvalue().startswith("reading: 3 items in ")


def test_a_terminal_gets_a_bar() -> None:
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as terminal:
        list(progress(range(50), label="scoring", total=50, unit="rows", stream=terminal))
    shown = b""
    while True:  # until the closed terminal's end: a bar comes in several writes
        try:
            chunk = os.read(leader, 10_000)
        except OSError:  # EIO: the other end is closed and all was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert b"\r" in shown and b"scoring: 100%" in shown and b"50/50" in shown
