"""Prediction: score validated records, and batch concurrent requests into one prediction.

Runs inside the image: numpy, pandas and the standard library only.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ratchet.serve.contract import MAX_RECORDS, Contract

if TYPE_CHECKING:
    import pandas as pd

    from ratchet.core.schema import DataSchema


class Unscorable(ValueError):
    """Records that pass the schema but that the model cannot score (e.g. 1e300 for a size)."""


# The column types the records arrive in: pydantic has checked each value strictly.
DTYPES = {"integer": "int64", "number": "float64", "boolean": "bool", "string": "object"}


def records_frame(contract: Contract, records: list[BaseModel]) -> pd.DataFrame:
    """The records as the DataFrame the model was trained on (columns in schema order).

    Each column is built with its schema type, so that pandas need not guess it (for one record,
    guessing took two thirds of the time); a column with an empty value is left to pandas.
    """
    import numpy as np
    import pandas as pd

    columns: dict[str, Any] = {}
    for feature, field in zip(contract.schema.features, contract.record.model_fields, strict=True):
        values = [getattr(record, field) for record in records]
        columns[feature.name] = (
            values if None in values else np.array(values, dtype=DTYPES[feature.dtype])
        )
    return pd.DataFrame(columns, copy=False)


def ranges(schema: DataSchema) -> str:
    return ", ".join(
        f"{feature.name} {feature.minimum:g}..{feature.maximum:g}"
        for feature in schema.features
        if feature.kind == "numeric" and feature.minimum is not None and feature.maximum is not None
    )


@dataclass(frozen=True)
class Scores:
    """What the model said about some records, one entry per record."""

    predictions: list[Any]
    probabilities: list[dict[str, float]] | None

    def rows(self, start: int, stop: int) -> Scores:
        probabilities = None if self.probabilities is None else self.probabilities[start:stop]
        return Scores(self.predictions[start:stop], probabilities)


def predict(model: Any, frame: pd.DataFrame, probabilities: bool) -> tuple[Any, Any | None]:
    """The model's predictions and, if asked, its class probabilities. A scikit-learn pipeline
    transforms the rows once for both (its preprocessing is most of a prediction's cost)."""
    if not probabilities:
        return model.predict(frame), None
    steps = getattr(model, "steps", None)
    if steps:
        model, frame = steps[-1][1], model[:-1].transform(frame)
    return model.predict(frame), model.predict_proba(frame)


def score(model: Any, contract: Contract, records: list[BaseModel]) -> Scores:
    """Score validated records; raise Unscorable instead of returning NaN or failing with a 500."""
    import numpy as np

    frame = records_frame(contract, records)
    try:
        with np.errstate(all="ignore"):
            predicted, probabilities = predict(model, frame, contract.probabilities is not None)
            predicted = np.asarray(predicted)
            if probabilities is not None:
                probabilities = np.asarray(probabilities)
    except ValueError as exc:
        raise Unscorable(
            f"the model cannot score these records ({exc}); values seen in training: "
            f"{ranges(contract.schema)}"
        ) from None
    # Numbers that can go wrong: a regression's predictions, a classifier's probabilities.
    values = probabilities if probabilities is not None else predicted
    numeric = contract.schema.task == "regression" or probabilities is not None
    bad = (
        ~np.isfinite(values.reshape(len(frame), -1).astype(float)).all(axis=1)
        if numeric
        else np.zeros(len(frame), dtype=bool)
    )
    if bad.any():
        raise Unscorable(
            f"records {np.flatnonzero(bad)[:10].tolist()} give no finite prediction: their values "
            f"lie far outside those seen in training ({ranges(contract.schema)})"
        )
    if probabilities is None:
        return Scores(predicted.tolist(), None)
    columns = [str(label) for label in model.classes_]
    return Scores(
        predicted.tolist(), [dict(zip(columns, row, strict=True)) for row in probabilities.tolist()]
    )


def respond(contract: Contract, scores: Scores) -> BaseModel:
    output: dict[str, Any] = {"model_version": contract.version, "predictions": scores.predictions}
    if scores.probabilities is not None:
        output["probabilities"] = scores.probabilities
    return contract.response.model_validate(output)


Outcome = BaseModel | Unscorable


def score_requests(
    model: Any, contract: Contract, requests: list[list[BaseModel]]
) -> list[Outcome]:
    """Score several requests' records in one prediction, and answer each request apart.

    If the records cannot be scored together, each request is scored on its own, so that one
    request with unscorable values never fails another.
    """
    try:
        scores = score(model, contract, [record for records in requests for record in records])
    except Unscorable as exc:
        if len(requests) == 1:
            return [exc]
        return [score_requests(model, contract, [records])[0] for records in requests]
    outcomes: list[Outcome] = []
    start = 0
    for records in requests:
        outcomes.append(respond(contract, scores.rows(start, start + len(records))))
        start += len(records)
    return outcomes


def one_openmp_thread() -> None:
    """Limit OpenMP (scikit-learn's tree models) to one thread in the calling thread.

    With a thread per core, OpenMP's idle threads spin and starve the event loop: measured on two
    cores, a single client saw p99 latencies of seconds. Requests are parallel; rows need not be.
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(limits=1, user_api="openmp")


class Batcher:
    """Score concurrent requests together, without making any request wait for others.

    A lone request is scored at once. Requests that arrive while the model is busy are scored
    together next, up to MAX_RECORDS rows: one prediction of 16 rows costs little more than one of
    a single row, so throughput grows with load. Predictions run one at a time on one thread.
    """

    def __init__(self, score: Callable[[list[list[BaseModel]]], list[Outcome]]) -> None:
        self.score = score
        self.pending: deque[tuple[list[BaseModel], asyncio.Future[BaseModel]]] = deque()
        self.draining: asyncio.Task[None] | None = None
        self.executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="score", initializer=one_openmp_thread
        )

    async def __call__(self, records: list[BaseModel]) -> BaseModel:
        """The response for these records; raises Unscorable if the model cannot score them."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BaseModel] = loop.create_future()
        self.pending.append((records, future))
        if self.draining is None or self.draining.done():
            # An empty context: the task, kept until the next one, must not hold the request's.
            self.draining = loop.create_task(self.drain(), context=contextvars.Context())
        return await future

    def next_batch(self) -> list[tuple[list[BaseModel], asyncio.Future[BaseModel]]]:
        batch = [self.pending.popleft()]
        rows = len(batch[0][0])
        while self.pending and rows + len(self.pending[0][0]) <= MAX_RECORDS:
            rows += len(self.pending[0][0])
            batch.append(self.pending.popleft())
        return batch

    async def drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self.pending:
            batch = self.next_batch()
            try:
                outcomes: list[Outcome | Exception] = list(
                    await loop.run_in_executor(
                        self.executor, self.score, [records for records, _ in batch]
                    )
                )
            except Exception as exc:  # a fault, not bad input: each request gets BentoML's 500
                outcomes = [exc] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # the client went away
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
