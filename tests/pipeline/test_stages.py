"""The stages in-process, for both tasks, on tiny real datasets."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml

from ratchet.__main__ import main
from ratchet.core.errors import RatchetError
from ratchet.core.schema import DataSchema
from ratchet.core.settings import TrainParams, load_params
from ratchet.pipeline import stages
from ratchet.recipe import build_estimator
from tests.conftest import (
    CLASSIFICATION_DATA,
    REGRESSION_DATA,
    classification_frame,
    regression_frame,
    small_params,
)


def setup(folder: Path, frame: pd.DataFrame, params: dict[str, object]) -> None:
    (folder / "data").mkdir()
    frame.to_csv(folder / "data" / "table.csv", index=False)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def run_all(folder: Path, logged: bool = True) -> dict[str, float]:
    """Every stage; evaluate logs a run unless `logged` is False (RATCHET_TRACKING=off)."""
    params = load_params()
    stages.prepare(params)
    stages.train(params)
    scores, run_id = stages.evaluate(params)
    assert bool(run_id) == logged
    return scores


def test_regression_end_to_end_in_process(in_tmp: Path) -> None:
    setup(in_tmp, regression_frame(), small_params(REGRESSION_DATA))
    scores = run_all(in_tmp)
    assert scores["r2"] > 0.8
    assert json.loads(Path("reports/metrics.json").read_text()) == scores
    plot = pd.read_csv("reports/plots/predictions.csv")
    assert list(plot.columns) == ["actual", "predicted", "residual"] and len(plot) == 60
    assert (Path("mlruns") / "mlflow.db").is_file()  # made by MLflow here (others copy one)


def test_classification_end_to_end_in_process(local_store: Path) -> None:
    setup(
        local_store,
        classification_frame(),
        small_params(CLASSIFICATION_DATA, "logistic_regression"),
    )
    scores = run_all(local_store)
    assert set(scores) == {"accuracy", "f1_macro", "roc_auc"}
    assert scores["accuracy"] > 0.75
    assert sorted(path.name for path in Path("reports/plots").iterdir()) == [
        "confusion.csv",
        "roc.csv",
    ]
    model = joblib.load(stages.MODEL_FILE)
    assert list(model.classes_) == DataSchema.load().classes


def test_switching_task_removes_the_other_tasks_plots(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RATCHET_TRACKING", "off")  # the plot files, not the runs
    setup(in_tmp, classification_frame(), small_params(CLASSIFICATION_DATA))
    run_all(in_tmp, logged=False)
    frame = classification_frame().assign(label=lambda f: f["size"] * 2)
    frame.to_csv("data/table.csv", index=False)
    params = small_params({**REGRESSION_DATA, "target": "label"})
    Path("params.yaml").write_text(yaml.safe_dump(params))
    run_all(in_tmp, logged=False)
    assert [path.name for path in Path("reports/plots").iterdir()] == ["predictions.csv"]


def test_unknown_estimator_and_hyperparameter() -> None:
    with pytest.raises(RatchetError, match=r"'xgboost' is unknown.*\['hist_gradient_boosting'"):
        build_estimator("regression", TrainParams(estimator="xgboost"))
    bad = TrainParams(estimator="ridge", hyperparameters={"alpah": 1.0})
    with pytest.raises(RatchetError, match=r"\['alpah'\] are not parameters of Ridge.*'alpha'"):
        build_estimator("regression", bad)


def test_bad_hyperparameter_value_fails_before_writing(in_tmp: Path) -> None:
    params = small_params(REGRESSION_DATA)
    params["train"]["hyperparameters"] = {"max_iter": "many"}  # type: ignore[index]
    setup(in_tmp, regression_frame(), params)
    stages.prepare(load_params())
    with pytest.raises(RatchetError, match="train.hyperparameters: The 'max_iter' parameter"):
        stages.train(load_params())
    assert not stages.MODEL_FILE.exists()


def test_evaluate_needs_a_model(in_tmp: Path) -> None:
    setup(in_tmp, regression_frame(), small_params(REGRESSION_DATA))
    stages.prepare(load_params())
    with pytest.raises(RatchetError, match="run `dvc repro`"):
        stages.evaluate(load_params())


def test_unreachable_tracking_server_fails_fast_and_writes_nothing(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(in_tmp, regression_frame(), small_params(REGRESSION_DATA))
    stages.prepare(load_params())
    stages.train(load_params())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: refused
    with pytest.raises(RatchetError, match=r"http://127.0.0.1:9 is unreachable.*unset it"):
        stages.evaluate(load_params())
    assert sorted(p.name for p in Path("reports").rglob("*")) == ["data.json"]  # prepare's only


def test_tracking_off_scores_without_logging_and_summary_says_so(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setup(in_tmp, regression_frame(), small_params(REGRESSION_DATA))
    stages.prepare(load_params())
    stages.train(load_params())
    monkeypatch.setenv("RATCHET_TRACKING", "maybe")
    with pytest.raises(RatchetError, match="RATCHET_TRACKING is 'maybe': set it to `on` or `off`"):
        stages.evaluate(load_params())
    assert not Path("reports/metrics.json").exists()
    monkeypatch.setenv("RATCHET_TRACKING", "off")
    scores, run_id = stages.evaluate(load_params())
    assert run_id is None and json.loads(Path("reports/metrics.json").read_text()) == scores
    assert not Path("mlruns").exists()

    # `make run` evaluates again when summary exits 3: no run logged this model.
    assert main(["summary"]) == 3
    printed = capsys.readouterr().out
    assert f"r2         {scores['r2']:g}" in printed
    assert "MLflow: no run in sqlite:///" in printed
    assert "`dvc repro --force --single-item evaluate` logs one" in printed
    assert not Path("mlruns").exists()  # looked up, not created


def test_flatten_params_for_mlflow() -> None:
    assert stages.flatten({"train": {"seed": 1, "hp": {"a": 2}}, "x": 3}) == {
        "train.seed": 1,
        "train.hp.a": 2,
        "x": 3,
    }


def mlflow_model(run_id: str) -> object:
    import mlflow

    return mlflow.pyfunc.load_model(f"runs:/{run_id}/model")


@pytest.mark.parametrize(("unseen", "nulls"), [("refuse", "refuse"), ("unknown", "impute")])
def test_the_mlflow_model_follows_the_policies_the_service_does(
    local_store: Path, unseen: str, nulls: str
) -> None:
    """The batch route the service is not: MLflow's model refuses (or maps) what it does."""
    params = small_params({**REGRESSION_DATA, "unseen": unseen, "nulls": nulls})
    setup(local_store, regression_frame(), params)
    loaded = load_params()
    stages.prepare(loaded)
    stages.train(loaded)
    _, run_id = stages.evaluate(loaded)
    model = mlflow_model(run_id)
    rows = regression_frame(rows=3, seed=2)[["size", "age", "colour"]]
    odd = rows.assign(colour=["purple", "red", "red"], size=[1.0, None, 2.0])
    if unseen == "refuse":
        with pytest.raises(Exception, match="unknown categories|Input contains NaN"):
            model.predict(odd)  # type: ignore[attr-defined]
    else:
        assert len(model.predict(odd)) == 3  # type: ignore[attr-defined]


def test_training_refuses_an_estimator_the_service_cannot_serve(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from ratchet import recipe

    setup(in_tmp, regression_frame(), small_params(REGRESSION_DATA))
    stages.prepare(load_params())
    monkeypatch.setitem(
        recipe.ESTIMATORS["regression"], "hist_gradient_boosting", HistGradientBoostingClassifier
    )
    with pytest.raises(
        RatchetError,
        match="train.estimator 'hist_gradient_boosting' is not a regressor, but data.task is "
        "regression: the service could not serve its predictions",
    ):
        stages.train(load_params())
    assert not Path("artifacts/model.joblib").exists()
