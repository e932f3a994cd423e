"""Read the raw CSV, check it against params.yaml and the schema, and split it for evaluation.

Pure functions on DataFrames; only `read_csv` and `read_split` touch the disk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ratchet.core.errors import RatchetError
from ratchet.core.paths import SCHEMA_FILE
from ratchet.core.schema import DataSchema, json_dtype
from ratchet.core.settings import ChecksParams, DataParams, SplitParams, did_you_mean


def read_csv(path: Path, setting: str = "data.path") -> pd.DataFrame:
    """Read a CSV, turning every way it can be unreadable into a RatchetError.

    `setting` names the params.yaml entry that points at it, for the message.
    """
    if not path.is_file():
        raise RatchetError(
            f"{path} not found: run `dvc pull` to fetch the data, or set {setting} in params.yaml"
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


def csv_lines(mask: pd.Series, shown: int = 5) -> str:
    """The first rows of `mask` as CSV line numbers (the header is line 1)."""
    lines = (mask[mask].index[:shown] + 2).tolist()
    more = " ..." if int(mask.sum()) > shown else ""
    return f"CSV line(s) {', '.join(map(str, lines))}{more}"


def validate(frame: pd.DataFrame, data: DataParams, source: Path | str) -> pd.DataFrame:
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
                    f"have{did_you_mean(name, columns)}; its columns are: {', '.join(columns)}"
                )
    frame = frame[[data.target, *data.features]].copy()

    for name in data.numeric:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            bad = pd.to_numeric(frame[name], errors="coerce").isna() & frame[name].notna()
            example = frame.loc[bad, name].iloc[0] if bad.any() else frame[name].iloc[0]
            raise RatchetError(
                f"{source}: column {name!r} is listed under data.numeric but holds non-numeric "
                f"values ({example!r} at {csv_lines(bad)}); fix the data or move it to "
                "data.categorical"
            )

    target = frame[data.target]
    missing = target.isna()
    if missing.any():
        raise RatchetError(
            f"{source}: target {data.target!r} is empty at {csv_lines(missing)} "
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


def quality_problems(
    frame: pd.DataFrame, features: list[str], target: str, checks: ChecksParams
) -> list[str]:
    """What breaks the limits under `checks:`: empty feature values, and targets out of range."""
    problems = []
    for name in features:
        share = float(frame[name].isna().mean())
        if share > checks.max_null_share:
            problems.append(
                f"column {name!r} is {share:.1%} empty, over checks.max_null_share "
                f"({checks.max_null_share:.1%}); first at {csv_lines(frame[name].isna())}"
            )
    if target in frame.columns and pd.api.types.is_numeric_dtype(frame[target]):
        values = frame[target]
        bounds = (
            ("target_min", checks.target_min, values.lt, "below"),
            ("target_max", checks.target_max, values.gt, "above"),
        )
        for field, bound, beyond, word in bounds:
            if bound is None:
                continue
            outside = beyond(bound)
            if outside.any():
                problems.append(
                    f"target {target!r} is {word} checks.{field} ({bound:g}): "
                    f"{values[outside].iloc[0]:g} at {csv_lines(outside)}"
                )
    return problems


def check_quality(
    frame: pd.DataFrame, data: DataParams, checks: ChecksParams, source: Path
) -> None:
    """Reject training data that has the right shape but broken content, naming each problem."""
    problems = quality_problems(frame, data.features, data.target, checks)
    if data.nulls == "refuse":  # a model that refuses empty values never learns to fill them
        problems += [
            f"column {name!r} has empty values at {csv_lines(frame[name].isna())}, and data.nulls "
            "is refuse: drop those rows, or set data.nulls: impute"
            for name in data.features
            if frame[name].isna().any()
        ]
    if len(frame) < checks.min_rows:
        problems.insert(
            0,
            f"{len(frame)} rows, fewer than checks.min_rows ({checks.min_rows}), "
            "so the export looks truncated",
        )
    if problems:
        raise RatchetError(
            f"{source}: "
            + "; ".join(problems)
            + ". Fix the data, or change the limits under checks: in params.yaml"
        )


def type_changes(frame: pd.DataFrame, schema: DataSchema) -> list[str]:
    """Features whose values are no longer of the type the model was trained on.

    Integers and decimals count as one type: a missing value turns an integer column into floats.
    """
    changes = []
    for feature in schema.features:
        values = frame[feature.name].dropna().infer_objects()
        if values.empty:
            continue  # an all-empty column is the null-share check's to report
        actual = json_dtype(values)
        numeric = {"integer", "number"}
        if actual == feature.dtype or {actual, feature.dtype} <= numeric:
            continue
        example = values.iloc[0]
        example = example.item() if isinstance(example, np.generic) else example
        changes.append(
            f"column {feature.name!r} held {feature.dtype} values in training but holds "
            f"{actual} values now (e.g. {example!r})"
        )
    return changes


def check_batch(
    frame: pd.DataFrame, schema: DataSchema, checks: ChecksParams, source: Path | str
) -> None:
    """Check new data against the schema the current model was trained on, and the limits.

    Used on the monitor's current batch and on new training data before it is added: a missing
    column or a type change there would otherwise silently change the model's inputs.
    """
    columns = [str(column) for column in frame.columns]
    missing = [name for name in schema.feature_names if name not in columns]
    if missing:
        named = ", ".join(f"{name!r}{did_you_mean(name, columns)}" for name in missing)
        raise RatchetError(
            f"{source} lacks the feature column(s) {named} that the model's schema "
            f"({SCHEMA_FILE}) lists; its columns are: {', '.join(columns)}. Fix the export, or "
            "retrain on data with the new columns"
        )
    problems = type_changes(frame, schema)
    problems += quality_problems(frame, schema.feature_names, schema.target, checks)
    if problems:
        raise RatchetError(
            f"{source}: "
            + "; ".join(problems)
            + ". Fix the export; a deliberate change needs retraining on data that has it"
        )


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
                f"{did_you_mean(column, [str(c) for c in raw.columns])}"
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


def read_split(path: Path) -> pd.DataFrame:
    """A split the prepare stage wrote."""
    if not path.is_file():
        raise RatchetError(f"{path} not found: run `dvc repro` (the prepare stage writes it)")
    return pd.read_parquet(path)
