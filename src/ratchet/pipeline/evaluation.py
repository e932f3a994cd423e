"""Metrics and plot data for a fitted model on held-out rows, and the plots drawn as images for
the MLflow run (pure functions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn import metrics

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DIGITS = 6
SAMPLE = 2_000  # points drawn in a scatter plot, at most (a fixed sample of the test rows)


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


def figures(plots: Mapping[str, pd.DataFrame]) -> dict[str, Figure]:
    """The plot data drawn by scikit-learn's displays, one PNG each: residuals and predicted vs
    actual for a regression; the confusion matrix and, for two classes, the ROC curve for a
    classification. Each is drawn on its own Agg canvas: no display, no pyplot state."""
    from sklearn.metrics import ConfusionMatrixDisplay, PredictionErrorDisplay, RocCurveDisplay

    drawn: dict[str, Figure] = {}
    if (frame := plots.get("predictions.csv")) is not None:
        for name, kind, title in (
            ("residuals.png", "residual_vs_predicted", "Residuals"),
            ("predicted_vs_actual.png", "actual_vs_predicted", "Predicted vs actual"),
        ):
            drawn[name], axes = canvas(f"{title}, test split ({len(frame):,} rows)")
            PredictionErrorDisplay.from_predictions(
                frame["actual"],
                frame["predicted"],
                kind=kind,
                subsample=SAMPLE,
                random_state=0,
                ax=axes,
                scatter_kwargs={"alpha": 0.4, "s": 12},  # dense regions stay readable
            )
    if (frame := plots.get("confusion.csv")) is not None:
        drawn["confusion_matrix.png"], axes = canvas(
            f"Confusion matrix, test split ({len(frame):,} rows)"
        )
        ConfusionMatrixDisplay.from_predictions(
            frame["actual"], frame["predicted"], ax=axes, colorbar=False
        )
    if (frame := plots.get("roc.csv")) is not None:
        drawn["roc.png"], axes = canvas("ROC curve, test split")
        area = float(metrics.auc(frame["fpr"], frame["tpr"]))
        RocCurveDisplay(fpr=frame["fpr"], tpr=frame["tpr"], roc_auc=area).plot(
            ax=axes, plot_chance_level=True
        )
    return drawn


def canvas(title: str) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.set_title(title)
    return figure, axes
