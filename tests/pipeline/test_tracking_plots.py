"""What a classifier's MLflow run shows: the confusion matrix, the ROC curve and the features'
table, logged by the evaluate stage to the local SQLite store and read back."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from mlflow import MlflowClient

from ratchet.core.settings import load_params
from ratchet.pipeline import evaluation, stages, tracking
from tests.conftest import (
    CLASSIFICATION_DATA,
    classification_frame,
    copy_store,
    train_workspace,
)


@pytest.mark.usefixtures("tracking")
def test_a_classifier_s_run_holds_its_confusion_matrix_and_roc_curve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_mlflow_store: Path
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    copy_store(empty_mlflow_store, tmp_path / "mlruns/mlflow.db")
    train_workspace(tmp_path, CLASSIFICATION_DATA, classification_frame())
    with contextlib.chdir(tmp_path):
        scores, run_id = stages.evaluate(load_params())
    assert run_id is not None
    client = MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db")
    plots = [artifact.path for artifact in client.list_artifacts(run_id, "plots")]
    assert plots == ["plots/confusion_matrix.png", "plots/roc.png"]
    roc = Path(client.download_artifacts(run_id, "plots/roc.png", str(tmp_path)))
    assert roc.read_bytes().startswith(b"\x89PNG\r\n")
    run = client.get_run(run_id)
    assert run.data.metrics["roc_auc"] == scores["roc_auc"]
    features = client.load_table(run.info.experiment_id, "data/features.json", run_ids=[run_id])
    assert features.set_index("feature")["categories"].to_dict() == {
        "size": "",
        "age": "",
        "colour": "blue, green, red",
    }


def test_the_figures_draw_what_the_plot_data_holds() -> None:
    import pandas as pd

    actual = pd.Series(["a", "b", "a", "a"])
    drawn = evaluation.figures(
        evaluation.classification_plots(actual, actual.to_numpy(), None, ["a", "b"])
    )
    assert list(drawn) == ["confusion_matrix.png"]  # no probabilities: no ROC curve
    (axes,) = drawn["confusion_matrix.png"].axes
    cells = sorted(text.get_text() for text in axes.texts)
    assert cells == ["0", "0", "1", "3"]  # a->a 3, b->b 1, no errors
    assert axes.get_title() == "Confusion matrix, test split (4 rows)"


def test_a_feature_s_categories_are_shown_up_to_ten() -> None:
    assert tracking.shown(["red", "blue"]) == "red, blue"
    assert tracking.shown(list(range(12))) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (12 in all)"
