"""The typed shape of `params.yaml`, validated once when a command starts.

Every knob of the pipeline is here; `python -m ratchet params --schema` prints it as JSON Schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ratchet.errors import RatchetError

PARAMS_FILE = Path("params.yaml")

Task = Literal["regression", "classification"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(Strict):
    """Which CSV to learn from, what to predict and from which columns."""

    path: Path = Field(description="CSV file inside the DVC-tracked data/ folder.")
    target: str = Field(description="Column to predict.")
    task: Task
    numeric: list[str] = Field(default_factory=list, description="Numeric feature columns.")
    categorical: list[str] = Field(default_factory=list, description="Categorical columns.")

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @model_validator(mode="after")
    def _features_are_distinct(self) -> DataParams:
        if not self.features:
            raise ValueError("list at least one column under data.numeric or data.categorical")
        seen: set[str] = set()
        for column in self.features:
            if column in seen:
                raise ValueError(f"column {column!r} is listed twice among the features")
            seen.add(column)
        if self.target in seen:
            raise ValueError(f"the target {self.target!r} is also listed as a feature (leakage)")
        return self


class SplitParams(Strict):
    """How rows are held out for evaluation."""

    method: Literal["time", "random"] = "random"
    time_column: str | None = Field(
        default=None, description="With method: time, the latest rows by this column are held out."
    )
    test_size: float = Field(gt=0, lt=1)
    seed: int = 42

    @model_validator(mode="after")
    def _time_split_has_column(self) -> SplitParams:
        if self.method == "time" and not self.time_column:
            raise ValueError("split.method is 'time': set split.time_column")
        return self


class TrainParams(Strict):
    """The estimator (named in the recipe) and its hyperparameters."""

    estimator: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    seed: int = 42


class Params(Strict):
    data: DataParams
    split: SplitParams
    train: TrainParams


def format_validation_error(source: Path, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"{where}: {item['msg']}")
    return f"{source}: " + "; ".join(problems)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, or raise a RatchetError that says what is wrong with it."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RatchetError(f"{path} not found: run from the project root") from None
    except yaml.YAMLError as exc:
        raise RatchetError(f"{path} is not valid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise RatchetError(f"{path} must be a YAML mapping of sections (data, split, train, ...)")
    return raw


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Load and validate params.yaml: an unknown section or key is an error, not ignored."""
    raw = read_yaml(path)
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise RatchetError(format_validation_error(path, exc)) from None
