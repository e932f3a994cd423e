"""Metrics and plot data for a fitted model on held-out rows (pure functions)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics

DIGITS = 6


def regression_metrics(actual: pd.Series, predicted: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(np.sqrt(metrics.mean_squared_error(actual, predicted))),
        "mae": float(metrics.mean_absolute_error(actual, predicted)),
        "r2": float(metrics.r2_score(actual, predicted)),
    }


def classification_metrics(
    actual: pd.Series, predicted: np.ndarray, probabilities: np.ndarray | None, classes: list[Any]
) -> dict[str, float]:
    scores = {
        "accuracy": float(metrics.accuracy_score(actual, predicted)),
        "f1_macro": float(metrics.f1_score(actual, predicted, average="macro")),
    }
    if probabilities is not None and actual.nunique() > 1:
        if len(classes) == 2:
            scores["roc_auc"] = float(
                metrics.roc_auc_score(actual == classes[1], probabilities[:, 1])
            )
        else:
            scores["roc_auc"] = float(
                metrics.roc_auc_score(actual, probabilities, multi_class="ovr", labels=classes)
            )
    return scores


def rounded(scores: dict[str, float]) -> dict[str, float]:
    """Round so that metrics.json diffs show model changes, not float noise."""
    return {name: round(value, DIGITS) for name, value in scores.items()}


def regression_plots(actual: pd.Series, predicted: np.ndarray) -> dict[str, pd.DataFrame]:
    frame = pd.DataFrame({"actual": actual.to_numpy(), "predicted": predicted})
    frame["residual"] = frame["actual"] - frame["predicted"]
    return {"predictions.csv": frame.round(DIGITS)}


def classification_plots(
    actual: pd.Series, predicted: np.ndarray, probabilities: np.ndarray | None, classes: list[Any]
) -> dict[str, pd.DataFrame]:
    plots = {"confusion.csv": pd.DataFrame({"actual": actual.to_numpy(), "predicted": predicted})}
    if probabilities is not None and len(classes) == 2:
        fpr, tpr, _ = metrics.roc_curve(actual == classes[1], probabilities[:, 1])
        plots["roc.csv"] = pd.DataFrame({"fpr": fpr, "tpr": tpr}).round(DIGITS)
    return plots
