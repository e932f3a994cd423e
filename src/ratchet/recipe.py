"""Yours to edit: the model recipe, i.e. feature preparation and the estimators params may name.

Everything it needs comes from params.yaml; the pipeline calls `build_model` and treats the result
as a plain scikit-learn estimator.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ratchet.core.errors import RatchetError
from ratchet.core.settings import DataParams, TrainParams

# The names params.yaml may use under train.estimator, per task.
ESTIMATORS: dict[str, dict[str, type[BaseEstimator]]] = {
    "regression": {
        "hist_gradient_boosting": HistGradientBoostingRegressor,
        "random_forest": RandomForestRegressor,
        "ridge": Ridge,
    },
    "classification": {
        "hist_gradient_boosting": HistGradientBoostingClassifier,
        "random_forest": RandomForestClassifier,
        "logistic_regression": LogisticRegression,
    },
}


def build_preprocessor(data: DataParams) -> ColumnTransformer:
    """Impute and scale numeric columns; impute and one-hot encode categorical ones.

    Unknown categories at prediction time encode as all zeros instead of failing, so a category
    first seen in production degrades gracefully.
    """
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    return ColumnTransformer(
        [("numeric", numeric, data.numeric), ("categorical", categorical, data.categorical)],
        verbose_feature_names_out=False,
    )


def build_estimator(task: str, train: TrainParams) -> BaseEstimator:
    choices = ESTIMATORS[task]
    if train.estimator not in choices:
        raise RatchetError(
            f"params.yaml: train.estimator {train.estimator!r} is unknown for task {task!r}; "
            f"choose one of {sorted(choices)} or add yours to ESTIMATORS in src/ratchet/recipe.py"
        )
    estimator = choices[train.estimator]()
    accepted = estimator.get_params()
    unknown = sorted(set(train.hyperparameters) - set(accepted))
    if unknown:
        raise RatchetError(
            f"params.yaml: train.hyperparameters {unknown} are not parameters of "
            f"{type(estimator).__name__}; valid ones: {sorted(accepted)}"
        )
    settings: dict[str, Any] = dict(train.hyperparameters)
    if "random_state" in accepted:
        settings.setdefault("random_state", train.seed)
    return estimator.set_params(**settings)


def build_model(data: DataParams, train: TrainParams) -> Pipeline:
    """The unit that is trained, versioned, tracked and served."""
    return Pipeline(
        [("preprocess", build_preprocessor(data)), ("model", build_estimator(data.task, train))]
    )
