"""The DVC stages: each reads its inputs, calls the pure core, and writes its outputs at once.

`dvc.yaml` runs them as `python -m ratchet.pipeline prepare|train|evaluate`.
"""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import pandas as pd

from ratchet.core import data as data_io
from ratchet.core.errors import RatchetError
from ratchet.core.files import Writer, sha256, text, write_all
from ratchet.core.paths import (
    DATA_SUMMARY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PLOTS_DIR,
    SCHEMA_FILE,
    TEST_FILE,
    TRAIN_FILE,
)
from ratchet.core.schema import DataSchema, infer_schema
from ratchet.core.settings import Params, flatten


def checked_data(
    params: Params,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, DataSchema]:
    """The raw CSV checked against params.yaml and the limits, its train and test rows, and the
    feature schema derived from it."""
    raw = data_io.read_csv(params.data.path)
    frame = data_io.validate(raw, params.data, params.data.path)
    data_io.check_quality(frame, params.data, params.checks, params.data.path)
    schema = infer_schema(frame, params.data)
    train, test = data_io.split(frame, raw, params.split, params.data.task, params.data.target)
    return raw, train, test, schema


def check(params: Params) -> bool:
    """Check, before any stage runs, what the stages would refuse: the estimator and the names of
    its hyperparameters, as train does, and the data, as prepare does. Returns False when the data
    is not here to check (not pulled)."""
    from ratchet.recipe import build_estimator

    estimator = build_estimator(params.data.task, params.train)
    check_servable(estimator, params.data.task, params.train.estimator)
    if not params.data.path.is_file():
        return False
    checked_data(params)
    return True


def prepare(params: Params) -> tuple[int, int]:
    """Validate the raw CSV, derive the feature schema, and split train/test."""
    raw, train, test, schema = checked_data(params)
    write_all(
        {
            TRAIN_FILE: lambda path: train.to_parquet(path, index=False),
            TEST_FILE: lambda path: test.to_parquet(path, index=False),
            SCHEMA_FILE: text(schema.to_json()),
            DATA_SUMMARY_FILE: text(data_summary(raw, train, test)),
        }
    )
    keep_only(TRAIN_FILE.parent, {TRAIN_FILE.name, TEST_FILE.name})
    return len(train), len(test)


def data_summary(raw: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame) -> str:
    """Row counts, committed to git so a pull request can say how its data differs."""
    summary = {
        "rows": len(raw),
        "columns": len(raw.columns),
        "train_rows": len(train),
        "test_rows": len(test),
    }
    return json.dumps(summary, indent=2) + "\n"


def train(params: Params) -> str:
    """Fit the recipe's model on the training split; returns the model file's sha256."""
    import joblib

    from ratchet.recipe import build_model

    schema = DataSchema.load()
    frame = data_io.read_split(TRAIN_FILE)
    categories = {f.name: list(f.categories or []) for f in schema.features if f.categories}
    model = build_model(params.data, params.train, categories)
    check_servable(model, params.data.task, params.train.estimator)
    try:
        model.fit(frame[schema.feature_names], frame[schema.target])
    except ValueError as exc:
        # A bad hyperparameter: scikit-learn's InvalidParameterError, which it keeps in a private
        # module, is both a ValueError and a TypeError (bad data is only a ValueError).
        if not isinstance(exc, TypeError):
            raise
        raise RatchetError(f"params.yaml: train.hyperparameters: {exc}") from None
    write_all({MODEL_FILE: lambda path: joblib.dump(model, path)})
    return sha256(MODEL_FILE)


def check_servable(model: object, task: str, name: str) -> None:
    """Refuse, before training, a model the service could not serve: one that predicts the wrong
    kind of value for the task. (A classifier without predict_proba is served without
    probabilities.)"""
    from sklearn.base import is_classifier, is_regressor

    fits = is_regressor(model) if task == "regression" else is_classifier(model)
    if not fits:
        kind = "regressor" if task == "regression" else "classifier"
        raise RatchetError(
            f"params.yaml: train.estimator {name!r} is not a {kind}, but data.task is {task}: "
            f"the service could not serve its predictions. Choose a {kind} in ESTIMATORS "
            "(src/ratchet/recipe.py)"
        )


def evaluate(params: Params) -> tuple[dict[str, float], str | None]:
    """Score the model on the test split, write metrics and plot data, log the run to MLflow
    (unless RATCHET_TRACKING=off: then the run id is None)."""
    import joblib

    from ratchet.pipeline import evaluation, tracking

    schema = DataSchema.load()
    test = data_io.read_split(TEST_FILE)
    if not MODEL_FILE.is_file():
        raise RatchetError(f"{MODEL_FILE} not found: run `dvc repro` (the train stage writes it)")
    model = joblib.load(MODEL_FILE)
    features, actual = test[schema.feature_names], test[schema.target]
    predicted = model.predict(features)
    if schema.task == "regression":
        scores = evaluation.regression_metrics(actual, predicted)
        plots = evaluation.regression_plots(actual, predicted)
    else:
        classes = list(model.classes_)
        probabilities = model.predict_proba(features) if hasattr(model, "predict_proba") else None
        scores = evaluation.classification_metrics(actual, predicted, probabilities, classes)
        plots = evaluation.classification_plots(actual, predicted, probabilities, classes)
    scores = evaluation.rounded(scores)

    run_id = None
    if tracking.enabled():
        run_id = tracking.log_training_run(
            model=model,
            params=flatten(params.model_dump(mode="json")),
            scores=scores,
            example=features.head(5),
            tags={"model_sha256": sha256(MODEL_FILE)},
            plots=plots,
        )
    outputs: dict[Path, Writer] = {METRICS_FILE: text(json.dumps(scores, indent=2) + "\n")}
    for name, frame in plots.items():
        outputs[PLOTS_DIR / name] = partial(frame.to_csv, index=False)
    write_all(outputs)
    keep_only(PLOTS_DIR, set(plots))  # drops another task's plots
    return scores, run_id


def keep_only(folder: Path, names: set[str]) -> None:
    """Remove what a stage did not write from its output folder, once it has written its outputs:
    DVC keeps the folder as it was (`persist: true`), so that a failed stage changes nothing."""
    for path in folder.iterdir():
        if path.name in names:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
