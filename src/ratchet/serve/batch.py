"""Batch scoring: a CSV in, the same rows with their predictions out, by the service's rules.

Each chunk is checked as the service checks a request (every feature column present, values of
the schema's types, the policies for categories training never saw and for empty values), then
scored. The output is written beside its destination and moved into place only once every row
was scored: a refused file leaves no output behind. Memory stays flat on any number of rows.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from ratchet.core.data import csv_lines
from ratchet.core.errors import RatchetError
from ratchet.core.files import write_all
from ratchet.core.progress import progress as show
from ratchet.core.schema import DataSchema, Feature
from ratchet.serve.contract import clip
from ratchet.serve.scoring import predict

CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class Scored:
    rows: int
    seconds: float


def problems_of(feature: Feature, values: pd.Series) -> list[str]:
    """What the service would refuse in one column of a chunk, with the CSV lines."""
    name = feature.name

    def problem(wrong: pd.Series, shown: pd.Series, what: str) -> str:
        example = clip(json.dumps(shown[wrong].iloc[0], default=str))
        lines = csv_lines(wrong.reindex(values.index, fill_value=False))
        return f"column {name!r} holds {example}, {what}, at {lines}"

    problems = []
    empty = values.isna()
    if empty.any() and feature.nulls == "refuse":
        problems.append(f"column {name!r} is empty at {csv_lines(empty)} (data.nulls is refuse)")
    present = values[~empty]
    if feature.dtype in ("integer", "number"):
        numbers = pd.to_numeric(present, errors="coerce")
        wrong = numbers.isna() | ~np.isfinite(numbers.astype(float))
        if feature.dtype == "integer":
            wrong |= numbers.notna() & (numbers % 1 != 0)
        if wrong.any():
            return [*problems, problem(wrong, present.astype(str), f"not a finite {feature.dtype}")]
        present = numbers
    elif feature.dtype == "boolean":
        truth = present.astype(str).str.lower()
        wrong = ~truth.isin(["true", "false"])
        if wrong.any():
            return [*problems, problem(wrong, present.astype(str), "not true or false")]
        present = truth == "true"
    if feature.kind == "categorical" and feature.unseen == "refuse":
        unseen = ~present.isin(set(feature.categories or []))
        if unseen.any():
            what = "a category training never saw"
            problems.append(problem(unseen, present, what) + " (data.unseen is refuse)")
    return problems


def typed(feature: Feature, values: pd.Series) -> pd.Series:
    """The column as the model was trained on it (checked values only)."""
    if feature.dtype in ("integer", "number"):
        return pd.to_numeric(values)
    if feature.dtype == "boolean":
        return values.map(lambda v: v if pd.isna(v) else str(v).lower() == "true")
    return values


def check(frame: pd.DataFrame, schema: DataSchema, source: Path) -> pd.DataFrame:
    """The chunk's features, checked and typed; a RatchetError naming every problem otherwise."""
    columns = [str(column) for column in frame.columns]
    missing = [name for name in schema.feature_names if name not in columns]
    if missing:
        raise RatchetError(
            f"{source} lacks the feature column(s) {', '.join(map(repr, missing))}; "
            f"its columns are: {clip(', '.join(columns), 500)}"
        )
    problems = [
        problem
        for feature in schema.features
        for problem in problems_of(feature, frame[feature.name])
    ]
    if problems:
        raise RatchetError(f"{source}: " + "; ".join(problems) + ". Nothing was written")
    return pd.DataFrame(
        {feature.name: typed(feature, frame[feature.name]) for feature in schema.features}
    )


def score(model: Any, features: pd.DataFrame, schema: DataSchema) -> pd.DataFrame:
    """The predictions and, for a classifier that has them, the probabilities per class."""
    predicted, probabilities = predict(model, features, schema.gives_probabilities(model))
    scored = pd.DataFrame({"prediction": predicted}, index=features.index)
    if probabilities is not None:
        for column, label in enumerate(model.classes_):
            scored[f"probability_{label}"] = probabilities[:, column]
    return scored


def count_rows(path: Path) -> int:
    """Data rows in a CSV, for the progress line (a quoted newline makes this an estimate)."""
    with path.open("rb") as handle:
        return max(
            sum(block.count(b"\n") for block in iter(lambda: handle.read(2**20), b"")) - 1, 0
        )


def predict_file(
    source: Path,
    destination: Path,
    model: Any,
    schema: DataSchema,
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: TextIO | None = sys.stderr,
    clock: Callable[[], float] = time.perf_counter,
) -> Scored:
    """Score `source` into `destination`, chunk by chunk; nothing is left behind on an error."""
    if not source.is_file():
        raise RatchetError(f"{source} not found: give the CSV of records to score")
    text_columns = {f.name: str for f in schema.features if f.dtype == "string"}
    total = count_rows(source)
    report = progress if progress is not None and total > 2 * chunk_rows else None
    started, rows = clock(), 0

    def write(staged: Path) -> None:
        nonlocal rows
        reader = pd.read_csv(source, chunksize=chunk_rows, dtype=text_columns)
        chunks: Iterable[pd.DataFrame] = reader
        if report is not None:  # the count of chunks is an estimate: see count_rows
            label = f"predict, {chunk_rows:,} rows a chunk"
            chunks = show(
                reader, label=label, total=-(-total // chunk_rows), unit="chunks", stream=report
            )
        for number, chunk in enumerate(chunks):
            if chunk.empty:
                continue
            features = check(chunk, schema, source)
            out = pd.concat([chunk, score(model, features, schema)], axis=1)
            out.to_csv(staged, mode="a", header=number == 0, index=False)
            rows += len(chunk)
        if rows == 0:
            raise RatchetError(f"{source} has a header but no rows to score")

    try:
        write_all({destination: write})
    except pd.errors.EmptyDataError:
        raise RatchetError(f"{source} is empty: expected a header row and records") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        said = clip(" ".join(str(exc).split()))
        raise RatchetError(
            f"{source} is not a readable CSV ({said}): fix or re-export it"
        ) from None
    return Scored(rows, clock() - started)
