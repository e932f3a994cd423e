"""New training data: bring it in through `sources.refresh_training_data`, then check it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ratchet.core.errors import RatchetError

if TYPE_CHECKING:
    from ratchet.core.settings import Params


def refresh(params: Params) -> str:
    """Bring in new training data, then check all of it against the schema of the data before.

    The check after the refresh guards any refresh_training_data, the demo's or a replacement.
    A rejected refresh stays on disk for inspection; `dvc checkout data` restores the data that
    data.dvc records.
    """
    from ratchet import sources
    from ratchet.core import data as data_io
    from ratchet.core.schema import infer_schema

    path = params.data.path
    before = infer_schema(data_io.validate(data_io.read_csv(path), params.data, path), params.data)
    message = sources.refresh_training_data(params)
    try:
        frame = data_io.validate(data_io.read_csv(path), params.data, path)
        data_io.check_batch(frame, before, params.checks, path)
        data_io.check_quality(frame, params.data, params.checks, path)
    except RatchetError as exc:
        raise RatchetError(
            f"the refreshed data is rejected: {exc}. `dvc checkout data` restores the previous data"
        ) from None
    return message
