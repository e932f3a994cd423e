"""The current batch the monitor compares with the training data, and where it came from.

The newest records the services logged (monitor.predictions) when the window holds at least
monitor.min_rows of them; until then, as on a fresh clone where nothing was served yet, the CSV at
monitor.current. Either way the monitor says which it read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ratchet.core.settings import MonitorParams


@dataclass(frozen=True)
class Batch:
    frame: pd.DataFrame
    source: str  # the log's URL or the CSV's path
    detail: str  # what was read, in words: how many records, from when to when, or why the CSV


def current_batch(monitor: MonitorParams) -> Batch:
    """The newest served records, or the CSV at monitor.current while the log holds too few."""
    import pandas as pd

    from ratchet.core.data import read_csv
    from ratchet.core.predictions import read_window

    window = read_window(monitor.predictions, rows=monitor.window_rows, hours=monitor.window_hours)
    logged = len(window.features)
    skipped = f"; {window.broken:,} unreadable lines skipped" if window.broken else ""
    if logged >= monitor.min_rows:
        return Batch(
            frame=pd.DataFrame(window.features),
            source=monitor.predictions,
            detail=f"the newest {logged:,} served records of the prediction log at "
            f"{monitor.predictions}, logged {window.first} to {window.last}{skipped}",
        )
    hours = f" of the last {monitor.window_hours:g} hours" if monitor.window_hours else ""
    frame = read_csv(monitor.current, "monitor.current")
    return Batch(
        frame=frame,
        source=str(monitor.current),
        detail=f"{len(frame):,} rows of the CSV at {monitor.current} (monitor.current, since the "
        f"prediction log at {monitor.predictions} holds {logged:,} records{hours}, under "
        f"monitor.min_rows: {monitor.min_rows:,}{skipped})",
    )
