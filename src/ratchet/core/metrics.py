"""The metrics the pipeline reports: which exist for each task, which way is better, and how a
metrics file is read."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Literal

from ratchet.core.errors import RatchetError

Better = Literal["higher", "lower"]

# What the evaluate stage writes to reports/metrics.json, per task.
METRICS: dict[str, dict[str, Better]] = {
    "regression": {"rmse": "lower", "mae": "lower", "r2": "higher"},
    "classification": {"accuracy": "higher", "f1_macro": "higher", "roc_auc": "higher"},
}


def better(name: str) -> Better | None:
    """Which way is better for a metric the pipeline reports; None for an unknown one."""
    for metrics in METRICS.values():
        if name in metrics:
            return metrics[name]
    return None


def parse_metrics(text: str, where: str) -> dict[str, float]:
    """A metrics file is a flat JSON object of numbers; anything else is corrupt."""
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RatchetError(f"{where} is not valid JSON ({exc})") from None
    if not isinstance(loaded, dict) or not loaded:
        raise RatchetError(f"{where} must be a non-empty JSON object of metric values")
    metrics = {}
    for name, value in loaded.items():
        number = math.nan
        if isinstance(value, int | float) and not isinstance(value, bool):
            with contextlib.suppress(OverflowError):  # an integer too large for a float
                number = float(value)
        if not math.isfinite(number):
            raise RatchetError(f"{where}: metric {name!r} is {value!r:.40}, not a finite number")
        metrics[name] = number
    return metrics
