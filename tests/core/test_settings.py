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
