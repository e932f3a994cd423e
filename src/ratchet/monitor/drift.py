"""Drift monitoring: is the data the model sees now still like the data it was trained on?

Evidently tests each feature of a batch of recent data (current) against the training split
(reference). The verdict, the JSON summary and the exit code are Ratchet's, so a scheduled
workflow can act on them. Only the standard library is imported at module level: the workflow job
that files the drift issue reads the summary with the system Python and no install.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ratchet.core.errors import RatchetError
from ratchet.core.paths import DRIFT_HTML, DRIFT_SUMMARY

if TYPE_CHECKING:
    import pandas as pd

    from ratchet.core.schema import DataSchema
    from ratchet.core.settings import MonitorParams, Params

# `python -m ratchet monitor` exits with this on drift; 0 means no drift, 1 an error.
DRIFT_EXIT_CODE = 3
# A logged value farther outside the training range than this many times its width is no
# measurement of the same quantity (a unit mix-up is a factor of 1000) but a client's placeholder
# or overflow, such as 1e300: it is left out of the tests and counted, and numpy never sees it.
FAR = 1e6


@dataclass(frozen=True)
class ColumnDrift:
    name: str
    kind: str
    method: str
    threshold: float
    score: float | None  # None when Evidently could not compute it (e.g. an all-empty column)
    drifted: bool


@dataclass(frozen=True)
class DriftSummary:
    """What `reports/drift.json` holds: the verdict, and each feature's test."""

    reference: str
    reference_rows: int
    current: str
    current_rows: int
    drift_share: float  # the limit, monitor.drift_share
    drifted_share: float  # the share of features that drifted
    columns: tuple[ColumnDrift, ...]
    current_detail: str = ""  # what the current rows are, in words
    left_out: int = 0  # current rows left out: a value far outside the training range (FAR)
    out_of_range: dict[str, int] = field(default_factory=dict)  # such values, per feature

    @property
    def drift(self) -> bool:
        return self.drifted_share >= self.drift_share

    @property
    def drifted_columns(self) -> list[str]:
        return [column.name for column in self.columns if column.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": "drift" if self.drift else "no drift",
            "drift": self.drift,
            "drifted_columns": self.drifted_columns,
            "drifted_share": self.drifted_share,
            "drift_share": self.drift_share,
            "reference": {"path": self.reference, "rows": self.reference_rows},
            "current": {
                "path": self.current,
                "rows": self.current_rows,
                "detail": self.current_detail,
            },
            "left_out": {"rows": self.left_out, "out_of_range": self.out_of_range},
            "columns": {
                column.name: {
                    "kind": column.kind,
                    "method": column.method,
                    "threshold": column.threshold,
                    "score": column.score,
                    "drifted": column.drifted,
                }
                for column in self.columns
            },
            "report": str(DRIFT_HTML),
        }

    @classmethod
    def from_dict(cls, raw: Any) -> DriftSummary:
        return cls(
            reference=str(raw["reference"]["path"]),
            reference_rows=int(raw["reference"]["rows"]),
            current=str(raw["current"]["path"]),
            current_rows=int(raw["current"]["rows"]),
            current_detail=str(raw["current"]["detail"]),
            left_out=int(raw["left_out"]["rows"]),
            out_of_range={
                str(name): int(count) for name, count in raw["left_out"]["out_of_range"].items()
            },
            drift_share=float(raw["drift_share"]),
            drifted_share=float(raw["drifted_share"]),
            columns=tuple(
                ColumnDrift(
                    name=str(name),
                    kind=str(column["kind"]),
                    method=str(column["method"]),
                    threshold=float(column["threshold"]),
                    score=None if column["score"] is None else float(column["score"]),
                    drifted=bool(column["drifted"]),
                )
                for name, column in raw["columns"].items()
            ),
        )


def load_summary(path: Path = DRIFT_SUMMARY) -> DriftSummary:
    """Read a summary the monitor wrote; anything else is an error, never a silent 'no drift'."""
    try:
        return DriftSummary.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise RatchetError(f"{path} not found: run `python -m ratchet monitor` first") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise RatchetError(
            f"{path} is not a drift summary written by `python -m ratchet monitor`: rerun it"
        ) from None


# --- Evidently -------------------------------------------------------------------------------


def detect_drift(
    reference: pd.DataFrame, current: pd.DataFrame, schema: DataSchema, monitor: MonitorParams
) -> tuple[dict[str, Any], str]:
    """Run Evidently's drift preset on the schema's features: its results and its HTML report."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    features = schema.feature_names
    definition = DataDefinition(
        numerical_columns=[f.name for f in schema.features if f.kind == "numeric"],
        categorical_columns=[f.name for f in schema.features if f.kind == "categorical"],
    )
    columns = monitor.columns
    methods = {name: t.method for name, t in columns.items() if t.method is not None}
    preset = DataDriftPreset(
        columns=features,
        drift_share=monitor.drift_share,
        method=monitor.default.method,
        threshold=monitor.default.threshold,
        per_column_method=methods,
        per_column_threshold={
            name: t.threshold for name, t in columns.items() if t.threshold is not None
        },
    )
    try:
        snapshot = Report([preset], include_tests=True).run(
            current_data=Dataset.from_pandas(current[features].copy(), data_definition=definition),
            reference_data=Dataset.from_pandas(
                reference[features].copy(), data_definition=definition
            ),
        )
    except ValueError as exc:
        # Evidently's public API names no error type for a test it does not know, or one that does
        # not fit the column's kind: a ValueError whose message names the test params.yaml set.
        named = {method for method in (monitor.default.method, *methods.values()) if method}
        if not any(method in str(exc) for method in named):
            raise
        raise RatchetError(f"params.yaml: monitor: {exc}") from None
    return snapshot.dict(), str(snapshot.get_html_str(as_iframe=False))


def leave_out_far_values(
    current: pd.DataFrame, schema: DataSchema
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The current rows without those holding a value far outside the training range (FAR times
    its width beyond it, or infinite), and how many such values each feature held. Evidently's
    histograms and variances would overflow on them (a client may send 1e300, and the service
    accepts any finite number); an empty value is kept, for the null-share check."""
    import numpy as np

    far = np.zeros(len(current), dtype=bool)
    counts: dict[str, int] = {}
    for feature in schema.features:
        if feature.kind != "numeric" or feature.minimum is None or feature.maximum is None:
            continue
        values = current[feature.name].to_numpy(dtype=float)
        reach = FAR * max(feature.maximum - feature.minimum, 1.0)
        out = (values < feature.minimum - reach) | (values > feature.maximum + reach)  # NaN: no
        if out.any():
            counts[feature.name] = int(out.sum())
            far |= out
    return current.loc[~far].reset_index(drop=True), counts


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def summarize(
    result: dict[str, Any],
    schema: DataSchema,
    drift_share: float,
    reference: tuple[str, int],
    current: tuple[str, int],
    *,
    current_detail: str = "",
    left_out: int = 0,
    out_of_range: dict[str, int] | None = None,
) -> DriftSummary:
    """Turn Evidently's result into the summary: per feature its test, overall the drifted share.

    Evidently 0.7 reports no dataset-drift flag: the share comes from its DriftedColumnsCount
    metric, and each feature's verdict from the test on its ValueDrift metric. A test that did
    not pass or fail (an error) fails the whole check rather than counting as no drift.
    """
    share: float | None = None
    drift_metrics: dict[str, dict[str, Any]] = {}
    for metric in result["metrics"]:
        kind = metric["config"]["type"].rsplit(":", 1)[-1]
        if kind == "DriftedColumnsCount":
            share = float(metric["value"]["share"])
        elif kind == "ValueDrift":
            drift_metrics[metric["id"]] = metric
    statuses = {test["metric_config"]["metric_id"]: test for test in result["tests"]}

    kinds = {feature.name: feature.kind for feature in schema.features}
    columns = []
    for metric_id, metric in drift_metrics.items():
        name = metric["config"]["column"]
        test = statuses.get(metric_id)
        if test is None or test["status"] not in ("SUCCESS", "FAIL"):
            why = test["description"] if test else "no test result"
            raise RatchetError(f"Evidently could not test column {name!r} for drift: {why}")
        columns.append(
            ColumnDrift(
                name=name,
                kind=kinds[name],
                method=str(metric["config"]["method"]),
                threshold=float(metric["config"]["threshold"]),
                score=_finite(metric["value"]),
                drifted=test["status"] == "FAIL",
            )
        )
    tested = {column.name for column in columns}
    if share is None or tested != set(kinds):
        missing = sorted(set(kinds) - tested)
        raise RatchetError(f"Evidently's result lacks the drift share or columns {missing}")
    order = {name: index for index, name in enumerate(schema.feature_names)}
    return DriftSummary(
        reference=reference[0],
        reference_rows=reference[1],
        current=current[0],
        current_rows=current[1],
        drift_share=drift_share,
        drifted_share=share,
        columns=tuple(sorted(columns, key=lambda column: order[column.name])),
        current_detail=current_detail,
        left_out=left_out,
        out_of_range=out_of_range or {},
    )


def run_monitor(params: Params) -> DriftSummary:
    """Compare the current batch with the training split; write the HTML report and the summary.

    Old reports are removed first, so a failed run never leaves an earlier verdict behind.
    """
    from ratchet.core.data import check_batch, read_split
    from ratchet.core.files import text, write_all
    from ratchet.core.paths import TRAIN_FILE
    from ratchet.core.schema import DataSchema
    from ratchet.monitor.current import current_batch

    for stale in (DRIFT_HTML, DRIFT_SUMMARY):
        stale.unlink(missing_ok=True)
    schema = DataSchema.load()
    reference = read_split(TRAIN_FILE)
    batch = current_batch(params.monitor)
    check_batch(batch.frame, schema, params.checks, batch.source)  # a path or a URL
    current, out_of_range = leave_out_far_values(batch.frame, schema)
    if current.empty:
        raise RatchetError(
            f"{batch.source}: every one of the {len(batch.frame):,} rows holds a value far "
            f"outside the training range ({_far_values(out_of_range)}): find the client that "
            "sends them"
        )
    result, html = detect_drift(reference, current, schema, params.monitor)
    summary = summarize(
        result,
        schema,
        params.monitor.drift_share,
        reference=(str(TRAIN_FILE), len(reference)),
        current=(batch.source, len(current)),
        current_detail=batch.detail,
        left_out=len(batch.frame) - len(current),
        out_of_range=out_of_range,
    )
    write_all(
        {
            DRIFT_HTML: text(html),
            DRIFT_SUMMARY: text(json.dumps(summary.to_dict(), indent=2) + "\n"),
        }
    )
    return summary


# --- What people read --------------------------------------------------------------------------


def headline(summary: DriftSummary) -> str:
    """One line: the verdict, and how many features drifted against the limit."""
    verdict, side = ("drift", "at or over") if summary.drift else ("no drift", "under")
    return (
        f"{verdict}: {len(summary.drifted_columns)} of {len(summary.columns)} features drifted "
        f"({summary.drifted_share:.0%}, {side} monitor.drift_share {summary.drift_share:.0%})"
    )


def compared(summary: DriftSummary) -> str:
    """Which data were compared: the current rows, where from, and the reference."""
    current = summary.current_detail or f"{summary.current_rows:,} rows of {summary.current}"
    line = (
        f"{current} with the training split {summary.reference} ({summary.reference_rows:,} rows)"
    )
    if summary.left_out:
        rows = "1 row" if summary.left_out == 1 else f"{summary.left_out:,} rows"
        line += (
            f"; {rows} left out, holding values far outside the training range "
            f"({_far_values(summary.out_of_range)})"
        )
    return line


def _far_values(out_of_range: dict[str, int]) -> str:
    return ", ".join(f"{name}: {count:,}" for name, count in out_of_range.items())


def render_markdown(summary: DriftSummary, run_url: str | None = None) -> str:
    """The summary as Markdown: for the job summary, and the drift issue."""
    lines = [
        f"### Drift check: {headline(summary)}",
        "",
        f"Compared {compared(summary)}.",
        "",
        "| feature | kind | test | threshold | score | drifted |",
        "|---|---|---|---:|---:|---|",
    ]
    for column in sorted(summary.columns, key=lambda column: not column.drifted):
        score = "n/a" if column.score is None else f"{column.score:.4g}"
        lines.append(
            f"| {column.name} | {column.kind} | {column.method} | {column.threshold:g} "
            f"| {score} | {'**yes**' if column.drifted else 'no'} |"
        )
    where = f"the `drift-report` artifact of [this run]({run_url})" if run_url else DRIFT_HTML
    lines += ["", f"Per-feature distributions: {where}."]
    return "\n".join(lines) + "\n"
