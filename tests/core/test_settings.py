"""params.yaml is validated once, and every mistake names its field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ratchet.core.errors import RatchetError
from ratchet.core.settings import Params, load_params
from tests.conftest import REGRESSION_DATA, ROOT, small_params


def write(path: Path, content: object) -> Path:
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def test_shipped_params_are_valid() -> None:
    params = load_params(ROOT / "params.yaml")
    assert params.data.target not in params.data.features


def test_small_params_are_valid(tmp_path: Path) -> None:
    params = load_params(write(tmp_path / "params.yaml", small_params(REGRESSION_DATA)))
    assert params.data.features == ["size", "age", "colour"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["data"].update(task="ranking"), "data.task"),
        (lambda p: p["split"].update(test_size=1.5), "split.test_size"),
        (lambda p: p["split"].update(time_column=None), "set split.time_column"),
        (lambda p: p["data"].update(numeric=["size", "size"]), "listed twice"),
        (lambda p: p["data"].update(numeric=["price"]), "leakage"),
        (lambda p: p["data"].update(numeric=[], categorical=[]), "at least one column"),
        (lambda p: p["train"].update(estimatr="x"), "train.estimatr"),
        (lambda p: p.update(trian={}), "trian"),
        (lambda p: p.pop("train"), "train: Field required"),
    ],
)
def test_bad_params_name_the_field(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    params = small_params(REGRESSION_DATA)
    change(params)
    with pytest.raises(RatchetError, match=message):
        load_params(write(tmp_path / "params.yaml", params))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("data: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("", "mapping"),
    ],
)
def test_malformed_yaml_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(RatchetError, match=message):
        load_params(write(tmp_path / "params.yaml", content))


def test_missing_params_file(tmp_path: Path) -> None:
    with pytest.raises(RatchetError, match="not found"):
        load_params(tmp_path / "params.yaml")


def test_schema_lists_every_section() -> None:
    schema = json.loads(json.dumps(Params.model_json_schema()))
    assert {"data", "split", "train"} <= set(schema["properties"])


@pytest.mark.parametrize(
    ("task", "gate", "message"),
    [
        (
            "classification",
            {"auc": {"better": "higher"}},
            r"gate.metrics.auc: the classification task reports accuracy, f1_macro, roc_auc, "
            r"not 'auc' \(did you mean 'roc_auc'\?\)",
        ),
        (
            "regression",
            {"accuracy": {"better": "higher"}},
            "the regression task reports rmse, mae, r2, not 'accuracy'",
        ),
        (
            "regression",
            {"rmse": {"better": "higher"}},
            "gate.metrics.rmse.better is 'higher', but lower rmse is better",
        ),
    ],
)
def test_the_gate_names_only_metrics_the_task_reports(
    tmp_path: Path, task: str, gate: dict[str, object], message: str
) -> None:
    data = {**REGRESSION_DATA, "task": task}
    params = {**small_params(data), "gate": {"metrics": gate}}
    params["checks"] = {"min_rows": 100}
    with pytest.raises(RatchetError, match=message):
        load_params(write(tmp_path / "params.yaml", params))


def test_slices_are_categorical_features(tmp_path: Path) -> None:
    params = small_params(REGRESSION_DATA)
    params["gate"]["slices"] = {"columns": ["size"]}
    with pytest.raises(RatchetError, match="'size', which is not a categorical feature"):
        load_params(write(tmp_path / "params.yaml", params))
    params["gate"]["slices"] = {"columns": ["colour"], "min_rows": 10}
    assert load_params(write(tmp_path / "params.yaml", params)).gate.slices.columns == ["colour"]


def test_a_target_range_on_a_classification_task_says_how_to_fix_it(tmp_path: Path) -> None:
    params = small_params({**REGRESSION_DATA, "task": "classification"})
    params["gate"] = {"metrics": {"accuracy": {"better": "higher"}}}
    params["checks"] = {"target_min": 0}
    with pytest.raises(RatchetError, match="set both to null for a classification task"):
        load_params(write(tmp_path / "params.yaml", params))
