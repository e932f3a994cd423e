"""The feature schema: derived once from the training data, used by every later step.

Training, the data checks, the service's request model and drift monitoring all read
`artifacts/schema.json`, so a new dataset needs no code change anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from ratchet.core.errors import RatchetError
from ratchet.core.paths import SCHEMA_FILE
from ratchet.core.settings import DataParams, Nulls, Task, Unseen

Scalar = bool | int | float | str


class Feature(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["numeric", "categorical"]
    dtype: Literal["integer", "number", "string", "boolean"]
    categories: list[Scalar] | None = None
    minimum: float | None = None
    maximum: float | None = None
    # What the model, the service and batch scoring do with a category training never saw
    # (categorical features), and with an empty value.
    unseen: Unseen | None = None
    nulls: Nulls = "refuse"


class DataSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Task
    target: str
    features: list[Feature]
    classes: list[Scalar] | None = None

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]

    def gives_probabilities(self, model: Any) -> bool:
        """Whether `model` answers with class probabilities: a classifier with predict_proba (one
        without, such as the recipe's ridge, answers with its classes only)."""
        return self.task == "classification" and hasattr(model, "predict_proba")

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def load(cls, path: Path = SCHEMA_FILE) -> DataSchema:
        try:
            return cls.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise RatchetError(f"{path} not found: run `dvc repro` first") from None
        except ValidationError as exc:
            raise RatchetError(
                f"{path} is corrupt ({exc.error_count()} errors, first: {exc.errors()[0]['msg']}): "
                "rerun `dvc repro --force prepare` to write it again"
            ) from None


def json_dtype(series: pd.Series) -> Literal["integer", "number", "string", "boolean"]:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    return "string"


def python_values(values: pd.Series) -> list[Scalar]:
    """Sorted unique values as plain Python scalars (JSON-safe, comparable)."""
    return sorted(values.dropna().unique().tolist())


def infer_schema(frame: pd.DataFrame, data: DataParams) -> DataSchema:
    """Describe the features as they are in `frame` (already validated)."""
    features = []
    for name in data.numeric:
        column = frame[name]
        features.append(
            Feature(
                name=name,
                kind="numeric",
                dtype=json_dtype(column),
                minimum=float(column.min()),
                maximum=float(column.max()),
                nulls=data.nulls,
            )
        )
    for name in data.categorical:
        column = frame[name]
        features.append(
            Feature(
                name=name,
                kind="categorical",
                dtype=json_dtype(column),
                categories=python_values(column),
                unseen=data.unseen_policy(name),
                nulls=data.nulls,
            )
        )
    classes = python_values(frame[data.target]) if data.task == "classification" else None
    return DataSchema(task=data.task, target=data.target, features=features, classes=classes)
