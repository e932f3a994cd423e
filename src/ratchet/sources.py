"""Yours to edit: where new data comes from, for drift monitoring and for retraining.

A change here needs your ML maintainers' review (.github/CODEOWNERS): this code runs in the
pull request's checks and, once merged, in the retraining job, which pushes the rows it returns
to the data remote as the next training data.

Drift monitoring reads the service's prediction log first (monitor.predictions, the sink every
service process ships its log to); it calls `current_batch` here only while the log holds fewer
than monitor.min_rows records. The demo's CSVs in data/ are the month after the training window
(`monitor.current`) and the months after it (data/upcoming/). A deployment replaces what does not
fit, e.g. with a warehouse export of recent inputs and of newly labelled rows (and deletes the
demo's helpers at the bottom). Ratchet checks what these functions return against the schema and
the limits in params.yaml either way.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from ratchet.core import data as data_io
from ratchet.core.errors import RatchetError
from ratchet.core.files import text, write_all
from ratchet.core.schema import infer_schema
from ratchet.core.settings import Params


def current_batch(params: Params) -> tuple[pd.DataFrame, str]:
    """Recent model inputs, for when the prediction log holds too few: the rows (the schema's
    features; the target may be absent) and a name for where they came from, shown in the
    report. Demo: the CSV at monitor.current."""
    monitor = params.monitor
    return data_io.read_csv(monitor.current, "monitor.current"), str(monitor.current)


def refresh_training_data(params: Params) -> str:
    """Add newly labelled rows to the CSV at data.path; returns a line saying what was added.

    `make retrain` runs this, then `dvc add data`. Demo: the monitored month joins the training
    data and the next file of data/upcoming/ becomes the monitored month.
    """
    return roll_forward(params)


# --- The demo's data: months of one CSV each ------------------------------------------------------

UPCOMING = Path("data/upcoming")


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]  # blank lines hold no record
    except FileNotFoundError:
        raise RatchetError(f"{path} not found: run `dvc pull` to fetch the data") from None
    if len(rows) < 2:
        raise RatchetError(f"{path} holds no data rows: there is nothing to add")
    return rows[0], rows[1:]


def roll_forward(params: Params, upcoming: Path = UPCOMING) -> str:
    """Demo refresh: append the monitored batch to the training CSV, then monitor the next batch.

    The batch is checked on its own first (in a combined CSV, numbers among text would read as
    text), and nothing changes unless it passes. Its rows are appended in the training file's
    column order, without re-encoding the existing rows.
    """
    training, current = params.data.path, params.monitor.current
    batches = sorted(upcoming.glob("*.csv"))
    if not batches:
        raise RatchetError(
            f"{upcoming}/ holds no more batches: the demo data ends here. For your own data, "
            "replace refresh_training_data in this file, src/ratchet/sources.py"
        )
    header, rows = _read_rows(current)
    training_header, _ = _read_rows(training)
    if sorted(header) != sorted(training_header):
        raise RatchetError(
            f"{current} has the columns {header}, but {training} has {training_header}: "
            "fix the export so that both have the same columns"
        )
    schema = infer_schema(
        data_io.validate(data_io.read_csv(training), params.data, training), params.data
    )
    batch = data_io.validate(data_io.read_csv(current), params.data, current)
    data_io.check_batch(batch, schema, params.checks, current)

    order = [header.index(name) for name in training_header]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([row[i] for i in order] for row in rows)
    existing = training.read_text(encoding="utf-8")
    separator = "" if existing.endswith("\n") else "\n"
    write_all(
        {
            training: text(existing + separator + buffer.getvalue()),
            current: text(batches[0].read_text(encoding="utf-8")),
        }
    )
    batches[0].unlink()
    return f"added {len(rows)} rows of {current} to {training}; {current} now holds {batches[0]}"
