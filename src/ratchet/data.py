"""Read the raw CSV, check it against params.yaml, and split it for evaluation.

Pure functions on DataFrames; only `read_csv` touches the disk.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from ratchet.errors import RatchetError
from ratchet.settings import DataParams, SplitParams


def read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV, turning every way it can be unreadable into a RatchetError."""
    if not path.is_file():
        raise RatchetError(
            f"{path} not found: run `dvc pull` to fetch the data, or set data.path in params.yaml"
        )
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise RatchetError(f"{path} is empty: expected a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        message = str(exc).strip().replace("\n", " ")
        raise RatchetError(
            f"{path} is not a readable CSV ({message}): fix or re-export it"
        ) from None
    if frame.empty:
        raise RatchetError(f"{path} has a header but no data rows")
    return frame


def _suggest(name: str, columns: list[str]) -> str:
    close = difflib.get_close_matches(name, columns, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _rows(mask: pd.Series) -> str:
    """Name the first offending rows as CSV line numbers (header is line 1)."""
    lines = (mask[mask].index[:5] + 2).tolist()
    more = " ..." if int(mask.sum()) > 5 else ""
    return f"CSV line(s) {', '.join(map(str, lines))}{more}"


def validate(frame: pd.DataFrame, data: DataParams, source: Path) -> pd.DataFrame:
    """Check that the columns params.yaml names exist and hold usable values.

    Returns the frame restricted to target and features, with numeric columns as numbers.
    """
    columns = [str(column) for column in frame.columns]
    for field, names in (
        ("target", [data.target]),
        ("numeric", data.numeric),
        ("categorical", data.categorical),
    ):
        for name in names:
            if name not in columns:
                raise RatchetError(
                    f"params.yaml: data.{field} names column {name!r}, which {source} does not "
                    f"have{_suggest(name, columns)}; its columns are: {', '.join(columns)}"
                )
    frame = frame[[data.target, *data.features]].copy()

    for name in data.numeric:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            bad = pd.to_numeric(frame[name], errors="coerce").isna() & frame[name].notna()
            example = frame.loc[bad, name].iloc[0] if bad.any() else frame[name].iloc[0]
            raise RatchetError(
                f"{source}: column {name!r} is listed under data.numeric but holds non-numeric "
                f"values ({example!r} at {_rows(bad)}); fix the data or move it to "
                "data.categorical"
            )

    target = frame[data.target]
    missing = target.isna()
    if missing.any():
        raise RatchetError(
            f"{source}: target {data.target!r} is empty at {_rows(missing)} "
            "(a truncated file, or rows to drop before `dvc add`)"
        )
    if data.task == "regression":
        if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
            raise RatchetError(
                f"{source}: target {data.target!r} is not numeric, but data.task is regression; "
                "set data.task: classification or choose a numeric target"
            )
        if not np.isfinite(target.to_numpy(dtype=float)).all():
            raise RatchetError(f"{source}: target {data.target!r} holds infinite values")
    elif target.nunique() < 2:
        raise RatchetError(
            f"{source}: target {data.target!r} has a single class; classification needs two or more"
        )
    return frame


def split(
    frame: pd.DataFrame, raw: pd.DataFrame, params: SplitParams, task: str, target: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out the test rows: the latest ones (method: time) or a seeded random sample."""
    n_test = int(np.ceil(len(frame) * params.test_size))
    if params.method == "time":
        column = params.time_column
        assert column is not None  # guaranteed by SplitParams
        if column not in raw.columns:
            raise RatchetError(
                f"params.yaml: split.time_column {column!r} is not a column of the data"
                f"{_suggest(column, [str(c) for c in raw.columns])}"
            )
        order = raw[column].sort_values(kind="stable").index
        ordered = frame.loc[order]
        train, test = ordered.iloc[: len(frame) - n_test], ordered.iloc[len(frame) - n_test :]
    else:
        shuffled = frame.sample(frac=1.0, random_state=params.seed)
        train, test = shuffled.iloc[n_test:], shuffled.iloc[:n_test]
    if train.empty or test.empty:
        side = "training" if train.empty else "test"
        raise RatchetError(
            f"params.yaml: split.test_size {params.test_size} leaves the {side} set empty with "
            f"{len(frame)} rows; choose a test_size that keeps rows on both sides"
        )
    if task == "classification" and train[target].nunique() < 2:
        raise RatchetError(
            "params.yaml: the split leaves a single class in the training set; use "
            "split.method: random or a smaller test_size"
        )
    return train.reset_index(drop=True), test.reset_index(drop=True)
