"""The typed shape of `params.yaml`, validated once when a command starts.

Every knob of Ratchet is here; `python -m ratchet params --schema` prints it as JSON Schema.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ratchet.core.errors import RatchetError
from ratchet.core.metrics import METRICS
from ratchet.core.paths import PARAMS_FILE, PREDICTIONS

Task = Literal["regression", "classification"]
# A category the model never saw in training: refused, or treated as the model's "unknown" level.
Unseen = Literal["refuse", "unknown"]
# An empty feature value: refused, or imputed by the model.
Nulls = Literal["refuse", "impute"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DataParams(Strict):
    """Which CSV to learn from, what to predict and from which columns."""

    path: Path = Field(description="CSV file inside the DVC-tracked data/ folder.")
    target: str = Field(description="Column to predict.")
    task: Task
    numeric: list[str] = Field(default_factory=list, description="Numeric feature columns.")
    categorical: list[str] = Field(default_factory=list, description="Categorical columns.")
    unseen: Unseen | dict[str, Unseen] = Field(
        default="refuse",
        description="A category training never saw: refuse it, or map it to the unknown level "
        "the model learns from rare categories. One policy, or one per categorical column "
        "(unlisted ones refuse).",
    )
    nulls: Nulls = Field(
        default="refuse",
        description="An empty feature value: refuse it (in training too), or let the model "
        "impute it.",
    )

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def unseen_policy(self, column: str) -> Unseen:
        if isinstance(self.unseen, dict):
            return self.unseen.get(column, "refuse")
        return self.unseen

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
        if isinstance(self.unseen, dict):
            stray = sorted(set(self.unseen) - set(self.categorical))
            if stray:
                raise ValueError(f"unseen names {stray}, which are not data.categorical columns")
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


class MetricRule(Strict):
    """When a metric blocks a merge: compared with the base branch and with the anchor (so that
    many small regressions cannot add up), and against fixed bounds."""

    better: Literal["higher", "lower"]
    min: float | None = Field(default=None, description="Fail when the metric is below this.")
    max: float | None = Field(default=None, description="Fail when the metric is above this.")
    max_regression: float | None = Field(
        default=None, ge=0, description="Largest allowed move in the worse direction, in units."
    )
    max_regression_pct: float | None = Field(
        default=None, ge=0, description="Largest allowed move in the worse direction, in percent."
    )
    max_cumulative_regression: float | None = Field(
        default=None,
        ge=0,
        description="Largest allowed move against the anchor (the newest release's model), in "
        "units; null: max_regression's.",
    )
    max_cumulative_regression_pct: float | None = Field(
        default=None,
        ge=0,
        description="The same against the anchor, in percent; null: max_regression_pct's.",
    )
    slice_max_regression: float | None = Field(
        default=None, ge=0, description="The same, in any one slice of gate.slices, in units."
    )
    slice_max_regression_pct: float | None = Field(
        default=None, ge=0, description="The same, in any one slice of gate.slices, in percent."
    )

    @property
    def cumulative_limits(self) -> tuple[float | None, float | None]:
        """The limits against the anchor: the cumulative ones where set, else the per-PR ones."""
        if self.max_cumulative_regression is None and self.max_cumulative_regression_pct is None:
            return self.max_regression, self.max_regression_pct
        return self.max_cumulative_regression, self.max_cumulative_regression_pct


class BootstrapParams(Strict):
    """The paired bootstrap that puts an interval around each metric's change."""

    resamples: int = Field(default=1000, ge=100, le=100_000)
    seed: int = 42
    confidence: float = Field(default=0.95, ge=0.5, lt=1)


class SliceParams(Strict):
    """Subgroups of the test rows, by the values of categorical features, shown metric by metric."""

    columns: list[str] = Field(default_factory=list, description="Categorical features.")
    min_rows: int = Field(
        default=30, ge=1, description="Smaller slices are shown and flagged, never gated."
    )


class GateParams(Strict):
    """The merge gate. With no max_regression(_pct), any regression of a metric fails."""

    fail_on: Literal["point", "interval"] = Field(
        default="point",
        description="point: fail when the measured change regresses past the limit. interval: "
        "fail only when the whole interval of the change does.",
    )
    bootstrap: BootstrapParams = Field(default_factory=BootstrapParams)
    slices: SliceParams = Field(default_factory=SliceParams)
    metrics: dict[str, MetricRule] = Field(min_length=1)


class ChecksParams(Strict):
    """Limits the data must meet before training, so a broken export fails loudly, not quietly."""

    min_rows: int = Field(default=50, ge=1, description="Fewer rows means a truncated export.")
    max_null_share: float = Field(
        default=0.1, ge=0, le=1, description="Largest share of empty values in any feature column."
    )
    target_min: float | None = Field(default=None, description="Smallest valid regression target.")
    target_max: float | None = Field(default=None, description="Largest valid regression target.")


class DriftTest(Strict):
    """An Evidently drift test and its threshold; null keeps Evidently's choice."""

    method: str | None = Field(
        default=None,
        description="Evidently stat test, e.g. ks, wasserstein, psi, jensenshannon, chisquare.",
    )
    threshold: float | None = Field(
        default=None, gt=0, description="p-value for tests, distance for distances."
    )


class MonitorParams(Strict):
    """Drift monitoring: which recent data to compare with the training split, and when to act."""

    predictions: str = Field(
        default=PREDICTIONS,
        min_length=1,
        description="Where the services ship their prediction logs, an fsspec URL: a folder, "
        "s3://bucket/prefix or gs://bucket/prefix (RATCHET_PREDICTION_LOG). Read first.",
    )
    window_rows: int = Field(default=10_000, ge=1, description="The newest logged records read.")
    window_hours: float | None = Field(
        default=None, gt=0, description="Only records logged in these last hours."
    )
    min_rows: int = Field(
        default=200,
        ge=1,
        description="With fewer logged records in the window, the CSV at `current` is compared.",
    )
    current: Path = Field(
        default=Path("data/current.csv"),
        description="CSV of recent inputs, compared when the prediction log has too few.",
    )
    drift_share: float = Field(
        default=0.5, gt=0, le=1, description="Drift when at least this share of features drift."
    )
    default: DriftTest = Field(default_factory=DriftTest, description="Test for every feature.")
    columns: dict[str, DriftTest] = Field(
        default_factory=dict, description="Per-feature tests that replace the default."
    )


class Params(Strict):
    data: DataParams
    split: SplitParams
    train: TrainParams
    gate: GateParams
    checks: ChecksParams = Field(default_factory=ChecksParams)
    monitor: MonitorParams = Field(default_factory=MonitorParams)

    @model_validator(mode="after")
    def _sections_name_known_columns(self) -> Params:
        unknown = sorted(set(self.monitor.columns) - set(self.data.features))
        if unknown:
            raise ValueError(
                f"monitor.columns names {unknown}, which are not features listed under data"
            )
        has_range = self.checks.target_min is not None or self.checks.target_max is not None
        if has_range and self.data.task != "regression":
            raise ValueError(
                "checks.target_min/target_max apply to regression targets only: set both to null "
                f"for a {self.data.task} task"
            )
        problems = gate_problems(self.gate, self.data)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def did_you_mean(name: str, choices: list[str]) -> str:
    """` (did you mean 'x'?)` for the choice closest to a misspelt name, or nothing."""
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def gate_problems(gate: GateParams, data: DataParams) -> list[str]:
    """What in the gate's rules the task cannot meet: a metric it does not report, a direction
    that contradicts the metric, a slice column that is no categorical feature."""
    reported = METRICS[data.task]
    problems = []
    for name, rule in gate.metrics.items():
        if name not in reported:
            problems.append(
                f"gate.metrics.{name}: the {data.task} task reports {', '.join(reported)}, "
                f"not {name!r}{did_you_mean(name, list(reported))}"
            )
        elif rule.better != reported[name]:
            problems.append(
                f"gate.metrics.{name}.better is {rule.better!r}, but {reported[name]} {name} "
                "is better"
            )
    for column in gate.slices.columns:
        if column not in data.categorical:
            problems.append(
                f"gate.slices.columns names {column!r}, which is not a categorical feature "
                "under data.categorical"
            )
    return problems


def format_validation_error(source: Path, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        problems.append(f"{where}: {item['msg']}")
    return f"{source}: " + "; ".join(problems)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, or raise a RatchetError that says what is wrong with it."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RatchetError(f"{path} not found: run from the project root") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """Parse params.yaml's text (`source` says where it came from, for the message)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RatchetError(f"{source} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise RatchetError(f"{source} must be a YAML mapping of sections (data, split, train, ...)")
    return raw


def loose_yaml(text: str | None) -> dict[str, Any]:
    """A YAML mapping from text that may be missing or broken (another commit's file): {} then,
    and the caller says what is missing."""
    try:
        loaded = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Load and validate params.yaml: an unknown section or key is an error, not ignored."""
    raw = read_yaml(path)
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise RatchetError(format_validation_error(path, exc)) from None


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as dotted names: {"train": {"seed": 1}} -> {"train.seed": 1}.

    An empty mapping stays a value of its own, so that a diff still shows it.
    """
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
