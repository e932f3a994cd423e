"""Batch scoring: the service's checks on every row, chunk by chunk, and nothing written on a
refusal; the same policies for unseen categories and empty values as the service and the model."""

from __future__ import annotations

import io
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from ratchet.core.errors import RatchetError
from ratchet.core.schema import DataSchema
from ratchet.serve.batch import predict_file
from tests.conftest import (
    CLASSIFICATION_DATA,
    REGRESSION_DATA,
    Project,
    classification_frame,
    regression_frame,
    train_workspace,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workspace = tmp_path_factory.mktemp("trained")
    train_workspace(workspace, REGRESSION_DATA, regression_frame())
    return workspace


def load(workspace: Path) -> tuple[object, DataSchema]:
    model = joblib.load(workspace / "artifacts/model.joblib")
    return model, DataSchema.load(workspace / "artifacts/schema.json")


def test_every_row_is_scored_as_the_model_scores_it(trained: Path, tmp_path: Path) -> None:
    model, schema = load(trained)
    records = regression_frame(rows=500, seed=4)
    records.to_csv(tmp_path / "in.csv", index=False)
    log = io.StringIO()
    scored = predict_file(
        tmp_path / "in.csv", tmp_path / "out.csv", model, schema, chunk_rows=64, progress=log
    )
    assert scored.rows == 500
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == [*records.columns, "prediction"]
    expected = model.predict(records[schema.feature_names])
    np.testing.assert_allclose(out["prediction"], expected)
    progress = log.getvalue().splitlines()
    assert progress[0] == "predict, 64 rows a chunk: 1/8 chunks (12%)"
    assert progress[-1].startswith("predict, 64 rows a chunk: 8 chunks in ") and len(progress) == 8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.assign(colour=f["colour"].where(f.index != 130, "purple")),
            r"column 'colour' holds \"purple\", a category training never saw, at CSV "
            r"line\(s\) 132 \(data.unseen is refuse\)",
        ),
        (
            lambda f: f.assign(age=f["age"].astype(object).where(f.index % 50 != 7, "old")),
            r"column 'age' holds \"old\", not a finite integer, at CSV line\(s\) 9, 59\. ",
        ),
        (
            lambda f: f.assign(age=f["age"].astype(float).where(f.index != 3, 7.5)),
            r"column 'age' holds \"7.5\", not a finite integer, at CSV line\(s\) 5",
        ),
        (
            lambda f: f.assign(size=f["size"].where(f.index != 199, np.nan)),
            r"column 'size' is empty at CSV line\(s\) 201 \(data.nulls is refuse\)",
        ),
        (lambda f: f.drop(columns="size"), r"lacks the feature column\(s\) 'size'"),
        (
            lambda f: f.assign(colour=f["colour"].where(f.index != 1, "x" * 500)),
            r"holds \"xxxx[x]*\.\.\. \(\d+ more characters\), a category",
        ),
    ],
    ids=["unseen", "text", "decimal", "empty", "missing", "long"],
)
def test_what_the_service_refuses_is_refused_and_nothing_is_written(
    trained: Path, tmp_path: Path, change, message: str
) -> None:  # type: ignore[no-untyped-def]
    model, schema = load(trained)
    change(regression_frame(rows=200, seed=4)).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(RatchetError, match=message):
        predict_file(tmp_path / "in.csv", tmp_path / "out.csv", model, schema, chunk_rows=64)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.csv"]  # no output, no temp


def test_an_empty_file_is_refused(trained: Path, tmp_path: Path) -> None:
    model, schema = load(trained)
    (tmp_path / "in.csv").write_text("")
    with pytest.raises(RatchetError, match="is empty: expected a header row"):
        predict_file(tmp_path / "in.csv", tmp_path / "out.csv", model, schema)
    (tmp_path / "in.csv").write_text("size,age,colour\n")
    with pytest.raises(RatchetError, match="has a header but no rows"):
        predict_file(tmp_path / "in.csv", tmp_path / "out.csv", model, schema)
    assert not (tmp_path / "out.csv").exists()


def test_a_classifier_adds_the_probability_of_each_class(tmp_path: Path) -> None:
    train_workspace(tmp_path / "w", CLASSIFICATION_DATA, classification_frame())
    model, schema = load(tmp_path / "w")
    classification_frame(rows=30, seed=5).to_csv(tmp_path / "in.csv", index=False)
    predict_file(tmp_path / "in.csv", tmp_path / "out.csv", model, schema)
    out = pd.read_csv(tmp_path / "out.csv")
    assert set(out["prediction"]) <= {"high", "low"}
    np.testing.assert_allclose(out["probability_high"] + out["probability_low"], 1.0)
    features = pd.read_csv(tmp_path / "in.csv")[schema.feature_names]
    assert out["prediction"].tolist() == model.predict(features).tolist()
    expected = model.predict_proba(features)
    np.testing.assert_allclose(out[["probability_high", "probability_low"]], expected)


def test_the_command_exits_1_and_leaves_nothing(trained: Path, tmp_path: Path) -> None:
    regression_frame(rows=20).assign(colour="purple").to_csv(tmp_path / "in.csv", index=False)
    result = Project(trained).here(
        "predict", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv")
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "a category training never saw" in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_replaying_a_missing_file_names_it(trained: Path, tmp_path: Path) -> None:
    from ratchet.serve.replay import replay

    _, schema = load(trained)
    with pytest.raises(RatchetError, match="missing.csv not found: give the CSV of records"):
        replay(tmp_path / "missing.csv", "http://127.0.0.1:9", schema)
