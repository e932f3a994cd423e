"""What the service needs besides BentoML: the request contract, prediction, the model store.

The request and response models are built from the stored model's `schema.json`, so a new dataset
gets a correct API without code changes. This module runs inside the image, which holds no MLflow,
DVC or Evidently: keep its imports to pydantic, pandas, numpy and (lazily) joblib and bentoml.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from ratchet.errors import RatchetError
from ratchet.paths import METRICS_FILE, MODEL_FILE

if TYPE_CHECKING:
    import pandas as pd

    from ratchet.schema import DataSchema, Feature, Scalar

# The model's name in the BentoML store; its version is the start of the model file's sha256.
MODEL_NAME = "ratchet"
VERSION_LENGTH = 12
LOCK_FILE = Path("dvc.lock")
# The files a stored model holds, beside BentoML's own model.yaml.
STORED_MODEL = "model.joblib"
STORED_SCHEMA = "schema.json"
# Rows per request: larger batches are refused with a 400 that says to split them.
MAX_RECORDS = 1000
# JSON numbers beyond 2**53 lose precision in most clients; integer features stay inside.
SAFE_INTEGER = 2**53
PREDICT_ROUTE = "/predict"

PYTHON_TYPES: dict[str, type] = {"integer": int, "number": float, "string": str, "boolean": bool}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def model_version(sha256: str) -> str:
    return sha256[:VERSION_LENGTH]


# --- The request and response contract, derived from the schema -----------------------------------


def one_of(feature: Feature) -> AfterValidator:
    allowed = list(feature.categories or [])
    shown = ", ".join(json.dumps(item) for item in allowed)

    def check(value: Scalar) -> Scalar:
        if value not in allowed:
            raise PydanticCustomError(
                "unknown_category",
                "unknown category {value}; expected one of {allowed}",
                {"value": json.dumps(value), "allowed": shown},
            )
        return value

    return AfterValidator(check)


def feature_field(feature: Feature) -> tuple[Any, Any]:
    """The annotation and Field of one feature: strict JSON types, categories as an enum."""
    python_type = PYTHON_TYPES[feature.dtype]
    if feature.kind == "categorical":
        categories: list[Any] = list(feature.categories or [])
        return (
            Annotated[python_type, one_of(feature)],
            Field(
                alias=feature.name,
                strict=True,
                json_schema_extra={"enum": categories},
                description=f"One of the {len(categories)} categories seen in training.",
            ),
        )
    seen = (
        f"Training data range: {feature.minimum:g} to {feature.maximum:g}."
        if feature.minimum is not None and feature.maximum is not None
        else None
    )
    if feature.dtype == "integer":
        return int, Field(
            alias=feature.name, strict=True, ge=-SAFE_INTEGER, le=SAFE_INTEGER, description=seen
        )
    if feature.dtype == "number":
        return float, Field(alias=feature.name, strict=True, allow_inf_nan=False, description=seen)
    return python_type, Field(alias=feature.name, strict=True)


def example_record(schema: DataSchema) -> dict[str, Scalar]:
    """A valid record: the middle of each numeric range, the first category of each category."""
    record: dict[str, Scalar] = {}
    for feature in schema.features:
        if feature.kind == "categorical":
            record[feature.name] = (feature.categories or [""])[0]
        elif feature.dtype == "boolean":
            record[feature.name] = False
        else:
            middle = ((feature.minimum or 0.0) + (feature.maximum or 0.0)) / 2
            record[feature.name] = round(middle) if feature.dtype == "integer" else middle
    return record


@dataclass(frozen=True)
class Contract:
    """The request and response models of the predict endpoint for one schema and model."""

    schema: DataSchema
    version: str
    record: type[BaseModel]
    request: type[BaseModel]
    response: type[BaseModel]
    probabilities: type[BaseModel] | None


def build_contract(schema: DataSchema, version: str) -> Contract:
    # Fields get positional names and the feature name as alias, so any column name works
    # (even one that shadows a pydantic attribute, like "schema" or "copy").
    record = create_model(  # type: ignore[call-overload]
        "Record",
        __config__=ConfigDict(extra="forbid", title="Record"),
        **{f"feature_{i}": feature_field(feature) for i, feature in enumerate(schema.features)},
    )
    example: dict[str, Any] = {"records": [example_record(schema)]}
    request = create_model(
        "PredictRequest",
        __config__=ConfigDict(
            extra="forbid",
            # OpenAPI 3.0 (which BentoML writes) knows `example`, not JSON Schema's `examples`.
            json_schema_extra={"example": example},
        ),
        records=(
            list[record],
            Field(
                min_length=1,
                max_length=MAX_RECORDS,
                description=f"The rows to score, 1 to {MAX_RECORDS} per request.",
            ),
        ),
    )
    fields: dict[str, Any] = {"model_version": (str, Field(description="The served model."))}
    probabilities = None
    if schema.task == "classification":
        classes = tuple(schema.classes or [])
        probabilities = create_model(  # type: ignore[call-overload]
            "Probabilities",
            __config__=ConfigDict(serialize_by_alias=True),
            **{f"class_{i}": (float, Field(alias=str(label))) for i, label in enumerate(classes)},
        )
        fields["predictions"] = (list[Literal[classes]], ...)  # type: ignore[valid-type]
        fields["probabilities"] = (
            list[probabilities],
            Field(description="Per record, the probability of each class."),
        )
    else:
        fields["predictions"] = (list[float], ...)
    response = create_model("Predictions", **fields)
    return Contract(schema, version, record, request, response, probabilities)


# --- Prediction -----------------------------------------------------------------------------------


class Unscorable(ValueError):
    """Records that pass the schema but that the model cannot score (e.g. 1e300 for a size)."""


def records_frame(contract: Contract, records: list[BaseModel]) -> pd.DataFrame:
    """The records as the DataFrame the model was trained on (columns in schema order)."""
    import pandas as pd

    names = zip(contract.schema.feature_names, contract.record.model_fields, strict=True)
    return pd.DataFrame(
        {name: [getattr(record, field) for record in records] for name, field in names}
    )


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


def score(model: Any, contract: Contract, records: list[BaseModel]) -> Scores:
    """Score validated records; raise Unscorable instead of returning NaN or failing with a 500."""
    import numpy as np

    frame = records_frame(contract, records)
    try:
        with np.errstate(all="ignore"):
            predicted = np.asarray(model.predict(frame))
            probabilities = (
                np.asarray(model.predict_proba(frame))
                if contract.probabilities is not None
                else None
            )
    except ValueError as exc:
        raise Unscorable(
            f"the model cannot score these records ({exc}); values seen in training: "
            f"{ranges(contract.schema)}"
        ) from None
    values = predicted if probabilities is None else probabilities
    bad = ~np.isfinite(values.reshape(len(frame), -1).astype(float)).all(axis=1)
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
            self.draining = loop.create_task(self.drain())
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


def error_body(problem: str, fix: str) -> dict[str, str]:
    """The body of every 400 from the service, as BentoML's OpenAPI spec documents it."""
    return {"error": problem, "detail": fix}


def describe_validation_error(body: dict[str, Any]) -> dict[str, str]:
    """Turn BentoML's validation error (a list of pydantic errors) into one readable message.

    Each problem is named by its place in the request, e.g. `records[0].colour: Field required`.
    """
    problems = []
    for item in body.get("detail") or []:
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in item.get("loc") or []
        )
        where = where.lstrip(".") or "request body"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    shown = "; ".join(problems[:5]) + (
        f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    )
    return error_body(
        shown or str(body.get("error", "invalid request")),
        f'send a JSON object {{"records": [...]}} with 1 to {MAX_RECORDS} records as the '
        "OpenAPI spec at /docs.json describes",
    )


# --- The BentoML model store ----------------------------------------------------------------------


def locked_md5(lock: dict[str, Any], path: Path) -> str | None:
    """The md5 that dvc.lock records for a stage output, if any stage outputs `path`."""
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if Path(out.get("path", "")) == path:
                return str(out.get("md5"))
    return None


def check_against_lock(files: list[Path], lock_file: Path = LOCK_FILE) -> None:
    """Fail unless each file is the version dvc.lock names, so a release ships what it says."""
    from ratchet.settings import read_yaml

    if not lock_file.is_file():
        raise RatchetError(f"{lock_file} not found: run `dvc repro` to train and record the model")
    lock = read_yaml(lock_file)
    for path in files:
        expected = locked_md5(lock, path)
        if expected is None:
            raise RatchetError(f"{lock_file} records no stage output {path}: run `dvc repro`")
        actual = hashlib.md5(path.read_bytes()).hexdigest()
        if actual != expected:
            raise RatchetError(
                f"{path} is not the version {lock_file} records (md5 {actual[:8]} != "
                f"{expected[:8]}): run `dvc repro` (or `dvc checkout` to restore it)"
            )


@dataclass(frozen=True)
class Imported:
    tag: str
    created: bool


def import_model() -> Imported:
    """Put the pipeline's model into the BentoML store as `ratchet:<sha256 prefix>`.

    Idempotent: the same model file always gets the same tag, and importing it again is a no-op.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    from ratchet.schema import SCHEMA_FILE, DataSchema
    from ratchet.tracking import data_version, git_commit

    model_file, schema_file, metrics_file = MODEL_FILE, SCHEMA_FILE, METRICS_FILE
    for path in (model_file, schema_file, metrics_file):
        if not path.is_file():
            raise RatchetError(f"{path} not found: run `make run` (or `dvc pull && dvc repro`)")
    check_against_lock([model_file, schema_file, metrics_file])
    schema = DataSchema.load(schema_file)
    sha256 = file_sha256(model_file)
    tag = f"{MODEL_NAME}:{model_version(sha256)}"
    try:
        stored = bentoml.models.get(tag)
    except NotFound:
        pass
    else:
        if stored.info.metadata.get("model_sha256") != sha256:
            raise RatchetError(
                f"the BentoML store holds another model as {tag}: "
                f"`bentoml models delete {tag}` and import again"
            )
        return Imported(tag, created=False)

    commit, dirty = git_commit()
    metadata = {
        "model_sha256": sha256,
        "git_commit": commit,
        "git_dirty": dirty,
        "data_md5": data_version(),
        "task": schema.task,
        "target": schema.target,
        "metrics": json.loads(metrics_file.read_text()),
    }
    labels = {"git_commit": commit[:12], "task": schema.task}
    with bentoml.models.create(tag, labels=labels, metadata=metadata) as model:
        shutil.copyfile(model_file, model.path_of(STORED_MODEL))
        shutil.copyfile(schema_file, model.path_of(STORED_SCHEMA))
    return Imported(tag, created=True)


def read_contract(model_dir: Path, version: str) -> Contract:
    """The contract of a stored model, from the schema it was imported with."""
    from ratchet.schema import DataSchema

    return build_contract(DataSchema.load(model_dir / STORED_SCHEMA), version)


def load_model(model_dir: Path) -> Any:
    import joblib

    return joblib.load(model_dir / STORED_MODEL)


# --- Building the bento ---------------------------------------------------------------------------

BENTOFILE = Path("bentofile.yaml")
BUILD_CONTEXT = Path("src")
# Generated by `export_requirements` (git-ignored); BentoML reads it only from inside src/.
REQUIREMENTS_FILE = BUILD_CONTEXT / "requirements.txt"
# Installed by uv.lock for training, tracking and monitoring, but never imported by the service.
NOT_SERVED = ("dvc", "evidently", "mlflow", "pyarrow")


def export_requirements(output: Path = REQUIREMENTS_FILE) -> None:
    """The image's packages: uv.lock's exact versions, minus what only the pipeline uses."""
    if not Path("uv.lock").is_file():
        raise RatchetError("uv.lock not found: run from the project root (or `uv lock`)")
    command = [
        "uv",
        "export",
        "--frozen",
        "--no-dev",
        "--no-hashes",
        "--no-emit-project",
        "--no-header",
        "--no-annotate",
        "--quiet",
    ]
    for package in NOT_SERVED:
        command += ["--prune", package]
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=output.parent, delete=False) as handle:
        staged = Path(handle.name)
    try:
        run([*command, "--output-file", str(staged)])
        staged.replace(output)
    finally:
        staged.unlink(missing_ok=True)


def run(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RatchetError(f"`{command[0]}` not found on PATH: see the README's setup") from None
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()
        raise RatchetError(f"`{' '.join(command[:3])} ...` failed: {' | '.join(output[-5:])}")
    return result.stdout


def build_bento(version: str | None) -> str:
    """Import the current model, then build the service around it; returns the bento tag.

    The bento records the model's exact tag (as the bento argument `model`) and holds no copy
    of it: `bentoml containerize` adds it from the store.
    """
    import bentoml
    from bentoml.exceptions import BentoMLException

    imported = import_model()
    export_requirements()
    try:
        bento = bentoml.bentos.build_bentofile(
            str(BENTOFILE.resolve()),
            build_ctx=str(BUILD_CONTEXT.resolve()),
            version=version,
            args={"model": imported.tag},
        )
    except BentoMLException as exc:
        raise RatchetError(f"bentoml build failed: {exc}") from None
    return str(bento.tag)
