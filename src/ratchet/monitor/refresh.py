"""New training data: the rows `new_rows` in src/ratchet/sources.py returns, checked once and
appended to the CSV at data.path."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ratchet.core.errors import RatchetError

if TYPE_CHECKING:
    import pandas as pd

    from ratchet.core.settings import Params

SOURCE = "the new rows (new_rows in src/ratchet/sources.py)"


def check_new_rows(rows: pd.DataFrame, training: pd.DataFrame, params: Params) -> None:
    """The one check of new rows, before they join: the training CSV's columns, usable values,
    the types the training data has, and the limits under `checks:`. The rows are checked on
    their own: in the combined CSV, numbers among text would read as text."""
    from ratchet.core import data as data_io
    from ratchet.core.schema import infer_schema

    path = params.data.path
    if sorted(map(str, rows.columns)) != sorted(map(str, training.columns)):
        raise RatchetError(
            f"{SOURCE} have the columns {list(rows.columns)}, but {path} has "
            f"{list(training.columns)}: fix the export so that both have the same columns"
        )
    # The training data passed the prepare stage in this version; it gives the types to keep.
    schema = infer_schema(training, params.data)
    checked = data_io.validate(rows, params.data, SOURCE)
    data_io.check_batch(checked, schema, params.checks, SOURCE)


def refresh(params: Params) -> str:
    """Add the new rows to the training CSV, in its column order, keeping its existing bytes;
    returns what was done. Nothing changes unless the rows pass `check_new_rows`."""
    from ratchet import sources
    from ratchet.core.data import read_csv
    from ratchet.core.files import text, write_all

    path = params.data.path
    training = read_csv(path)
    rows = sources.new_rows(params)
    if rows.empty:
        return f"no new rows: {path} is unchanged"
    check_new_rows(rows, training, params)
    existing = path.read_text(encoding="utf-8")
    separator = "" if existing.endswith("\n") else "\n"
    added = rows[list(training.columns)].to_csv(index=False, header=False, lineterminator="\n")
    write_all({path: text(existing + separator + added)})
    done = f"added {len(rows):,} rows to {path}"
    then = sources.rows_added(params)
    return f"{done}; {then}" if then else done
