"""The paired bootstrap: its metrics are scikit-learn's, its intervals are deterministic, and
pairing narrows the interval of a difference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from ratchet.gate import paired
from ratchet.gate.paired import Scored, measure, paired_bootstrap

RNG = np.random.default_rng(0)
ACTUAL = RNG.normal(100, 30, 500)
GOOD = Scored(ACTUAL + RNG.normal(0, 10, 500))
WORSE = Scored(GOOD.predicted + RNG.normal(0, 5, 500))

LABELS = np.array(["a", "b", "c"])
TRUTH = RNG.choice(LABELS, 400)
PROBABILITIES = RNG.dirichlet([1, 1, 1], 400)
PROBABILITIES[np.arange(400), np.searchsorted(LABELS, TRUTH)] += 0.6
PROBABILITIES /= PROBABILITIES.sum(axis=1, keepdims=True)
CLASSIFIED = Scored(LABELS[PROBABILITIES.argmax(axis=1)], PROBABILITIES)


def test_regression_metrics_are_sklearns() -> None:
    predicted = GOOD.predicted
    assert measure("rmse", ACTUAL, GOOD) == pytest.approx(
        np.sqrt(sk.mean_squared_error(ACTUAL, predicted)), rel=1e-12
    )
    assert measure("mae", ACTUAL, GOOD) == pytest.approx(
        sk.mean_absolute_error(ACTUAL, predicted), rel=1e-12
    )
    assert measure("r2", ACTUAL, GOOD) == pytest.approx(sk.r2_score(ACTUAL, predicted), rel=1e-12)


def test_classification_metrics_are_sklearns() -> None:
    classes = list(LABELS)
    predicted = CLASSIFIED.predicted
    assert measure("accuracy", TRUTH, CLASSIFIED, classes) == pytest.approx(
        sk.accuracy_score(TRUTH, predicted)
    )
    assert measure("f1_macro", TRUTH, CLASSIFIED, classes) == pytest.approx(
        sk.f1_score(TRUTH, predicted, average="macro")
    )
    assert measure("roc_auc", TRUTH, CLASSIFIED, classes) == pytest.approx(
        sk.roc_auc_score(TRUTH, PROBABILITIES, multi_class="ovr", labels=classes)
    )
    binary = TRUTH != "a"
    two = Scored(
        np.where(PROBABILITIES[:, 0] < 0.5, True, False),
        np.column_stack([PROBABILITIES[:, 0], 1 - PROBABILITIES[:, 0]]),
    )
    assert measure("roc_auc", binary, two, [False, True]) == pytest.approx(
        sk.roc_auc_score(binary, 1 - PROBABILITIES[:, 0])
    )


def test_f1_counts_only_the_classes_a_resample_holds() -> None:
    """As sklearn: a class in neither truth nor prediction does not drag the macro mean to 0."""
    truth = np.array(["a", "a", "b"])
    said = Scored(np.array(["a", "a", "b"]))
    assert measure("f1_macro", truth, said, ["a", "b", "c"]) == 1.0


def bootstrap(**overrides: object) -> dict[str, paired.Paired]:
    options: dict[str, object] = {"resamples": 400, "seed": 7, "confidence": 0.95, **overrides}
    return paired_bootstrap(["rmse", "mae", "r2"], ACTUAL, GOOD, WORSE, **options)  # type: ignore[arg-type]


def test_the_interval_holds_the_change_and_is_deterministic_for_a_seed() -> None:
    first, again = bootstrap(), bootstrap()
    assert first == again
    rmse = first["rmse"]
    assert rmse.champion < rmse.challenger  # noisier predictions: a real regression
    assert rmse.low <= rmse.delta <= rmse.high
    assert rmse.low > 0  # clear on 500 rows
    assert bootstrap(seed=8)["rmse"] != rmse


def test_pairing_narrows_the_interval_of_the_difference() -> None:
    """Scored on different resamples, the two models' shared hard and easy rows do not cancel
    out of the difference; on the same resamples they do."""
    rng = np.random.default_rng(1)
    size = (400, len(ACTUAL))
    rmse = paired.METRICS["rmse"]
    apart = rmse(rng.integers(0, len(ACTUAL), size), ACTUAL, WORSE, []) - rmse(
        rng.integers(0, len(ACTUAL), size), ACTUAL, GOOD, []
    )
    unpaired_width = np.percentile(apart, 97.5) - np.percentile(apart, 2.5)
    change = bootstrap()["rmse"]
    assert change.high - change.low < unpaired_width / 1.5


def test_chunking_does_not_change_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = bootstrap()
    monkeypatch.setattr(paired, "CHUNK_CELLS", 600)  # one resample of 500 rows at a time
    assert bootstrap() == whole


def test_identical_models_differ_by_exactly_nothing() -> None:
    same = paired_bootstrap(
        ["rmse", "r2"], ACTUAL, GOOD, GOOD, resamples=200, seed=1, confidence=0.95
    )
    assert all((p.delta, p.low, p.high) == (0, 0, 0) for p in same.values())
