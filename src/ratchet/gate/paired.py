"""Champion and challenger on the same rows: each metric for both, their difference, and a paired
bootstrap interval of that difference.

Pure numpy. Both models are scored on the same resamples of the same rows, so the noise the two
share (hard rows, easy rows) cancels out of the difference: its interval is much narrower than
either metric's own. The metrics agree with scikit-learn's (tests hold them to it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Rows of resampled indices held in memory at once, as resamples x rows.
CHUNK_CELLS = 2_000_000


@dataclass(frozen=True)
class Scored:
    """What one model said about the rows: its predictions and, if it has them, probabilities
    with one column per class of `classes`."""

    predicted: np.ndarray
    probabilities: np.ndarray | None = None


@dataclass(frozen=True)
class Paired:
    """One metric for both models on the same rows, and the interval of their difference."""

    champion: float
    challenger: float
    low: float  # the interval of challenger - champion
    high: float

    @property
    def delta(self) -> float:
        return self.challenger - self.champion


Metric = Callable[[np.ndarray, np.ndarray, Scored, Sequence[Any]], np.ndarray]


def _rmse(index: np.ndarray, actual: np.ndarray, scored: Scored, _: Sequence[Any]) -> np.ndarray:
    squared = (actual - scored.predicted.astype(float)) ** 2
    return np.asarray(np.sqrt(squared[index].mean(axis=1)))


def _mae(index: np.ndarray, actual: np.ndarray, scored: Scored, _: Sequence[Any]) -> np.ndarray:
    return np.asarray(np.abs(actual - scored.predicted.astype(float))[index].mean(axis=1))


def _r2(index: np.ndarray, actual: np.ndarray, scored: Scored, _: Sequence[Any]) -> np.ndarray:
    residual = ((actual - scored.predicted.astype(float)) ** 2)[index].sum(axis=1)
    rows = actual[index]
    total = ((rows - rows.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1 - residual / total, np.nan)


def _accuracy(
    index: np.ndarray, actual: np.ndarray, scored: Scored, _: Sequence[Any]
) -> np.ndarray:
    return np.asarray((actual == scored.predicted)[index].mean(axis=1))


def _f1_macro(
    index: np.ndarray, actual: np.ndarray, scored: Scored, classes: Sequence[Any]
) -> np.ndarray:
    """Macro F1 over the classes present in each resample (truth or prediction), as sklearn."""
    total = np.zeros(len(index))
    present = np.zeros(len(index))
    for label in classes:
        truth, said = actual == label, scored.predicted == label
        tp = (truth & said)[index].sum(axis=1)
        fp = (~truth & said)[index].sum(axis=1)
        fn = (truth & ~said)[index].sum(axis=1)
        seen = (tp + fp + fn) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(seen, 2 * tp / (2 * tp + fp + fn), 0.0)
        total += f1
        present += seen
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(present > 0, total / present, np.nan)


def _auc(index: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of each resample: the Mann-Whitney statistic, ties averaged."""
    from scipy.stats import rankdata  # type: ignore[import-untyped]

    ranks = rankdata(score[index], axis=1)
    hits = positive[index]
    n_pos = hits.sum(axis=1)
    n_neg = hits.shape[1] - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = ((ranks * hits).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def _roc_auc(
    index: np.ndarray, actual: np.ndarray, scored: Scored, classes: Sequence[Any]
) -> np.ndarray:
    """Binary: the positive class is the second; more classes: one-vs-rest, macro, as sklearn."""
    if scored.probabilities is None:
        return np.full(len(index), np.nan)
    if len(classes) == 2:
        return _auc(index, actual == classes[1], scored.probabilities[:, 1])
    per_class = [
        _auc(index, actual == label, scored.probabilities[:, column])
        for column, label in enumerate(classes)
    ]
    return np.asarray(np.mean(per_class, axis=0))


METRICS: dict[str, Metric] = {
    "rmse": _rmse,
    "mae": _mae,
    "r2": _r2,
    "accuracy": _accuracy,
    "f1_macro": _f1_macro,
    "roc_auc": _roc_auc,
}


def measure(name: str, actual: np.ndarray, scored: Scored, classes: Sequence[Any] = ()) -> float:
    """One metric on all rows."""
    index = np.arange(len(actual))[np.newaxis, :]
    return float(METRICS[name](index, actual, scored, classes)[0])


def paired_bootstrap(
    names: Sequence[str],
    actual: np.ndarray,
    champion: Scored,
    challenger: Scored,
    *,
    classes: Sequence[Any] = (),
    resamples: int,
    seed: int,
    confidence: float,
) -> dict[str, Paired]:
    """Each metric for both models on all rows, and the percentile interval of the difference
    over `resamples` resamples of the rows, the same resamples for both. Deterministic for a seed.
    """
    rows = len(actual)
    rng = np.random.default_rng(seed)
    deltas: dict[str, list[np.ndarray]] = {name: [] for name in names}
    chunk = max(1, CHUNK_CELLS // max(rows, 1))
    for start in range(0, resamples, chunk):
        index = rng.integers(0, rows, size=(min(chunk, resamples - start), rows))
        for name in names:
            metric = METRICS[name]
            deltas[name].append(
                metric(index, actual, challenger, classes)
                - metric(index, actual, champion, classes)
            )
    tail = (1 - confidence) / 2 * 100
    paired = {}
    for name in names:
        spread = np.concatenate(deltas[name])
        spread = spread[np.isfinite(spread)]
        low, high = (
            (float(np.percentile(spread, tail)), float(np.percentile(spread, 100 - tail)))
            if spread.size
            else (float("nan"), float("nan"))
        )
        paired[name] = Paired(
            champion=measure(name, actual, champion, classes),
            challenger=measure(name, actual, challenger, classes),
            low=low,
            high=high,
        )
    return paired
