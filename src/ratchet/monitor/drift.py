"""Drift monitoring: is the data the model sees now still like the data it was trained on?

Evidently tests each feature of a batch of recent data (current) against the training split
(reference). The verdict, the JSON summary and the exit code are Ratchet's, so a scheduled
workflow can act on them. Only the standard library is imported at module level: the workflow job
that files the drift issue reads the summary with the system Python and no install.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
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
            "current": {"path": self.current, "rows": self.current_rows},
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
    from evidently.legacy.calculations.stattests.registry import (
        StatTestInvalidFeatureTypeError,
        StatTestNotFoundError,
    )
    from evidently.presets import DataDriftPreset

    features = schema.feature_names
    check_spans(reference, current, schema)
    definition = DataDefinition(
        numerical_columns=[f.name for f in schema.features if f.kind == "numeric"],
        categorical_columns=[f.name for f in schema.features if f.kind == "categorical"],
    )
    columns = monitor.columns
    preset = DataDriftPreset(
        columns=features,
        drift_share=monitor.drift_share,
        method=monitor.default.method,
        threshold=monitor.default.threshold,
        per_column_method={name: t.method for name, t in columns.items() if t.method is not None},
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
    except (StatTestNotFoundError, StatTestInvalidFeatureTypeError) as exc:
        raise RatchetError(f"params.yaml: monitor: {exc}") from None
    return snapshot.dict(), str(snapshot.get_html_str(as_iframe=False))


def check_spans(reference: pd.DataFrame, current: pd.DataFrame, schema: DataSchema) -> None:
    """Refuse numbers so far apart that no histogram can hold them (e.g. 1e308 and -1e308, which
    a client may send and the service accepts), naming the column: Evidently would fail deep
    inside numpy instead."""
    import numpy as np

    for feature in schema.features:
        if feature.kind != "numeric":
            continue
        both = np.concatenate(
            [
                reference[feature.name].to_numpy(dtype=float),
                current[feature.name].to_numpy(dtype=float),
            ]
        )
        both = both[np.isfinite(both)]
        with np.errstate(over="ignore"):
            span = float(both.max() - both.min()) if both.size else 0.0
        if not np.isfinite(span) or span > 1e300:
            raise RatchetError(
                f"column {feature.name!r} of the current data spans {both.min():g} to "
                f"{both.max():g}, too far apart to compare with the training data (seen in "
                f"training: {feature.minimum:g} to {feature.maximum:g}): find the client that "
                "sends such values, and leave them out of the window"
            )


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def summarize(
    result: dict[str, Any],
    schema: DataSchema,
    drift_share: float,
    reference: tuple[str, int],
    current: tuple[str, int],
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
    )


def recent_inputs(params: Params) -> tuple[pd.DataFrame, str]:
    """The newest records of the prediction log at monitor.predictions, when its window holds at
    least monitor.min_rows of them; else what `current_batch` in src/ratchet/sources.py returns.
    The rows, and where they came from."""
    import pandas as pd

    from ratchet import sources
    from ratchet.core.predictions import read_logged_features

    monitor = params.monitor
    logged, broken = read_logged_features(
        monitor.predictions, rows=monitor.window_rows, hours=monitor.window_hours
    )
    if len(logged) < monitor.min_rows:
        return sources.current_batch(params)
    skipped = f"; {broken} unreadable lines skipped" if broken else ""
    where = f"{monitor.predictions} (the newest {len(logged):,} served records{skipped})"
    return pd.DataFrame(logged), where


def run_monitor(params: Params) -> DriftSummary:
    """Compare the current batch with the training split; write the HTML report and the summary.

    Old reports are removed first, so a failed run never leaves an earlier verdict behind.
    """
    from ratchet.core.data import check_batch, read_split
    from ratchet.core.files import text, write_all
    from ratchet.core.paths import TRAIN_FILE
    from ratchet.core.schema import DataSchema

    for stale in (DRIFT_HTML, DRIFT_SUMMARY):
        stale.unlink(missing_ok=True)
    schema = DataSchema.load()
    reference = read_split(TRAIN_FILE)
    current, source = recent_inputs(params)
    check_batch(current, schema, params.checks, source)  # a path or a URL
    result, html = detect_drift(reference, current, schema, params.monitor)
    summary = summarize(
        result,
        schema,
        params.monitor.drift_share,
        reference=(str(TRAIN_FILE), len(reference)),
        current=(source, len(current)),
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


def render_markdown(summary: DriftSummary, run_url: str | None = None) -> str:
    """The summary as Markdown: for the job summary, and the drift issue."""
    lines = [
        f"### Drift check: {headline(summary)}",
        "",
        f"Reference: `{summary.reference}` ({summary.reference_rows:,} rows). "
        f"Current: `{summary.current}` ({summary.current_rows:,} rows).",
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
