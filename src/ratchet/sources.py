"""Yours to edit: where new training data comes from, for retraining (`make retrain`).

`new_rows` returns newly labelled rows; Ratchet checks them once against the schema of the data
they join and the limits in params.yaml, adds them to the CSV at data.path, then calls
`rows_added`. Nothing changes unless they pass. Replace both for your data, e.g. with a warehouse
export of the rows whose outcome is now known and a watermark moved past them, and delete the
demo's helpers at the bottom. (Drift monitoring reads the services' prediction log, or the CSV at
monitor.current while the log holds too few records: see docs/monitoring.md.)

A change here needs your ML maintainers' review (.github/CODEOWNERS): this code runs in the
pull request's checks and, once merged, in the retraining job, which pushes the rows it returns
to the data remote as the next training data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ratchet.core.data import read_csv
from ratchet.core.errors import RatchetError
from ratchet.core.settings import Params


def new_rows(params: Params) -> pd.DataFrame:
    """Newly labelled rows, with the training CSV's columns (features, target and the rest).

    Demo: the monitored month, the CSV at monitor.current.
    """
    next_batch()  # the demo's data ends with its last month: nothing more to add
    return read_csv(params.monitor.current, "monitor.current")


def rows_added(params: Params) -> str:
    """Called once the rows joined the training data; returns a line saying what it did.

    Demo: the next month of data/upcoming/ becomes the monitored month.
    """
    batch = next_batch()
    batch.replace(params.monitor.current)
    return f"{params.monitor.current} now holds {batch}"


# --- The demo's data: months of one CSV each ------------------------------------------------------

UPCOMING = Path("data/upcoming")


def next_batch(upcoming: Path = UPCOMING) -> Path:
    """The demo's next month, the first CSV of data/upcoming/ by name."""
    batches = sorted(upcoming.glob("*.csv"))
    if not batches:
        raise RatchetError(
            f"{upcoming}/ holds no more batches: the demo data ends here. For your own data, "
            "replace new_rows and rows_added in this file, src/ratchet/sources.py"
        )
    return batches[0]
