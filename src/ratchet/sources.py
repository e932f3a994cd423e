"""Where new data comes from. Edit this file to monitor and retrain on your own production data.

The demo reads CSV files in data/: `monitor.current` is the month after the training window, and
data/upcoming/ holds the months after it. A deployment replaces the two functions below, e.g. with
a query of the service's logged requests and a warehouse export of newly labelled rows. Ratchet
checks what they return against the schema and the limits in params.yaml either way.
"""

from __future__ import annotations

import pandas as pd

from ratchet.data import read_csv
from ratchet.settings import Params


def current_batch(params: Params) -> tuple[pd.DataFrame, str]:
    """Recent model inputs, which `python -m ratchet monitor` compares with the training split.

    Returns the rows (the schema's features; the target may be absent) and a name for where they
    came from, shown in the report. Demo: the CSV at monitor.current.
    """
    return read_csv(params.monitor.current, "monitor.current"), str(params.monitor.current)


def refresh_training_data(params: Params) -> str:
    """Add newly labelled rows to the CSV at data.path; returns a line saying what was added.

    `make refresh-data` runs this, then `dvc add data`. Demo: the monitored month joins the
    training data and the next file of data/upcoming/ becomes the monitored month.
    """
    from ratchet.retrain import roll_forward

    return roll_forward(params)
