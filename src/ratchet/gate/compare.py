"""Champion and challenger on this branch's test rows: both models' predictions, each gated metric
with the paired interval of its change, and the same for every slice; and the anchor's model on
the same rows, with the same resamples, for the change since the anchor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ratchet.core.settings import DataParams, GateParams
from ratchet.gate.judge import Measured, SliceMeasured
from ratchet.gate.paired import Paired, Scored, paired_bootstrap


def predict(model: Any, frame: pd.DataFrame, features: list[str], classes: list[Any]) -> Scored:
    """The model's predictions on the rows, and its probabilities in the order of `classes` (a
    class the model never saw gets probability 0)."""
    rows = frame[features]
    predicted = np.asarray(model.predict(rows))
    if not classes or not hasattr(model, "predict_proba"):
        return Scored(predicted)
    own = np.asarray(model.predict_proba(rows))
    columns = {label: index for index, label in enumerate(model.classes_)}
    probabilities = np.zeros((len(rows), len(classes)))
    for column, label in enumerate(classes):
        if label in columns:
            probabilities[:, column] = own[:, columns[label]]
    return Scored(predicted, probabilities)


def _measured(paired: Paired) -> Measured:
    """A metric with no value on these rows (r2 of a constant, AUC of one class) is None."""

    def finite(value: float) -> float | None:
        return value if np.isfinite(value) else None

    return Measured(
        finite(paired.champion), finite(paired.challenger), finite(paired.low), finite(paired.high)
    )


def compare(
    champion: tuple[Any, DataParams],
    challenger: tuple[Any, DataParams],
    test: pd.DataFrame,
    gate: GateParams,
    names: Sequence[str],
    *,
    anchor: tuple[Any, DataParams] | None = None,
) -> tuple[dict[str, Measured], list[SliceMeasured], dict[str, Measured] | None]:
    """Score the models on `test` (the challenger's test split), the same resamples for all:
    the champion against the challenger overall and per slice, the anchor against it overall."""
    (base_model, base_data), (model, data) = champion, challenger
    classes = sorted(test[data.target].unique().tolist()) if data.task == "classification" else []
    actual = test[data.target].to_numpy()
    base_scored = predict(base_model, test, base_data.features, classes)
    scored = predict(model, test, data.features, classes)
    settings = gate.bootstrap

    def pair(mask: np.ndarray | None, base_scored: Scored = base_scored) -> dict[str, Paired]:
        def rows(side: Scored) -> Scored:
            if mask is None:
                return side
            probabilities = None if side.probabilities is None else side.probabilities[mask]
            return Scored(side.predicted[mask], probabilities)

        return paired_bootstrap(
            names,
            actual if mask is None else actual[mask],
            rows(base_scored),
            rows(scored),
            classes=classes,
            resamples=settings.resamples,
            seed=settings.seed,
            confidence=settings.confidence,
        )

    measured = {name: _measured(paired) for name, paired in pair(None).items()}
    slices = []
    for column in gate.slices.columns:
        if column not in test.columns:
            continue
        values = test[column].astype(str).to_numpy()
        for value in sorted(set(values)):
            mask = values == value
            metrics = {name: _measured(paired) for name, paired in pair(mask).items()}
            slices.append(SliceMeasured(column, value, int(mask.sum()), metrics))
    if anchor is None:
        return measured, slices, None
    anchor_model, anchor_data = anchor
    anchor_scored = predict(anchor_model, test, anchor_data.features, classes)
    since_anchor = {name: _measured(paired) for name, paired in pair(None, anchor_scored).items()}
    return measured, slices, since_anchor
