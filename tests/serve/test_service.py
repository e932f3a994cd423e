"""The BentoML service in-process: built from a stored model, called over its ASGI app.

Each model is trained by the real stages on the fixture data and imported into a temporary BentoML
store by the real `import_model`; the user's store (~/bentoml) is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ratchet.core.errors import RatchetError
from ratchet.core.schema import DataSchema, Feature
from ratchet.serve import contract as contracts
from ratchet.serve import scoring
from ratchet.serve import store as stores
from tests.conftest import (
    BIN,
    REGRESSION_DATA,
    classification_frame,
    make_project,
    regression_frame,
    train_workspace,
)
from tests.serve.conftest import VALID, Served, rows, serve


def test_regression_batch_predicts_what_the_model_predicts(regression: Served) -> None:
    records = rows(regression_frame(), 5)
    with regression.client() as client:
        response = client.post("/predict", json={"records": records})
    assert response.status_code == 200
    body = response.json()
    expected = regression.model.predict(pd.DataFrame(records))
    assert body["predictions"] == pytest.approx(expected.tolist(), rel=1e-12)
    sha256 = hashlib.sha256((regression.workspace / "artifacts/model.joblib").read_bytes())
    assert body["model_version"] == sha256.hexdigest()[:12] == regression.tag.split(":")[1]
    assert set(body) == {"model_version", "predictions"}


def test_classification_returns_classes_and_their_probabilities(classification: Served) -> None:
    records = rows(classification_frame(), 6)
    with classification.client() as client:
        response = client.post("/predict", json={"records": records})
    assert response.status_code == 200
    body = response.json()
    model = classification.model
    frame = pd.DataFrame(records)
    assert body["predictions"] == model.predict(frame).tolist()
    assert len(body["probabilities"]) == 6
    for row, expected in zip(body["probabilities"], model.predict_proba(frame), strict=True):
        assert set(row) == {"high", "low"}
        assert [row[str(label)] for label in model.classes_] == pytest.approx(expected.tolist())
        assert sum(row.values()) == pytest.approx(1.0)


BAD_RECORDS = [
    pytest.param({"size": 2.5, "age": 7}, "records[0].colour", "Field required", id="missing"),
    pytest.param({**VALID, "size": "2.5"}, "records[0].size", "valid number", id="str-for-number"),
    pytest.param({**VALID, "age": 7.5}, "records[0].age", "valid integer", id="float-for-integer"),
    pytest.param({**VALID, "age": True}, "records[0].age", "valid integer", id="bool-for-integer"),
    pytest.param({**VALID, "size": None}, "records[0].size", "valid number", id="null"),
    pytest.param(
        {**VALID, "colour": "purple"},
        "records[0].colour",
        'unknown category "purple"; expected one of "blue", "green", "red"',
        id="unknown-category",
    ),
    pytest.param({**VALID, "colour": 1}, "records[0].colour", "valid string", id="int-for-str"),
    pytest.param({**VALID, "price": 3.0}, "records[0].price", "Extra inputs", id="extra-field"),
    pytest.param(
        {**VALID, "age": 2**60}, "records[0].age", "less than or equal", id="huge-integer"
    ),
]


@pytest.mark.parametrize(("record", "where", "message"), BAD_RECORDS)
def test_a_bad_record_gets_a_400_naming_its_field(
    regression: Served, record: dict[str, Any], where: str, message: str
) -> None:
    with regression.client() as client:
        response = client.post("/predict", json={"records": [VALID, record]})
    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith(f"{where.replace('[0]', '[1]')}: ")
    assert message in body["error"]
    assert "/docs.json" in body["detail"]


@pytest.mark.parametrize(
    ("content", "headers", "message"),
    [
        pytest.param(
            b'{"records": []}', {}, "records: List should have at least 1 item", id="empty"
        ),
        pytest.param(
            json.dumps({"records": [VALID] * (contracts.MAX_RECORDS + 1)}).encode(),
            {},
            f"records: List should have at most {contracts.MAX_RECORDS} items",
            id="oversized",
        ),
        pytest.param(b'{"rows": []}', {}, "records: Field required", id="no-records"),
        pytest.param(b'[{"size": 1}]', {}, "request body: Input should be", id="list-body"),
        pytest.param(b"{not json", {}, "request body: Invalid JSON", id="not-json"),
        pytest.param(
            b'{"records": [{"size": NaN, "age": 1, "colour": "red"}]}',
            {},
            "records[0].size: Input should be a finite number",
            id="nan",
        ),
    ],
)
def test_a_bad_request_gets_a_400_with_a_message(
    regression: Served, content: bytes, headers: dict[str, str], message: str
) -> None:
    with regression.client() as client:
        response = client.post(
            "/predict", content=content, headers={"content-type": "application/json", **headers}
        )
    assert response.status_code == 400
    body = response.json()
    assert message in body["error"]
    assert set(body) == {"error", "detail"}  # the shape BentoML's OpenAPI spec documents


@pytest.fixture(scope="module")
def forest(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Served:
    """A random forest: it works in float32, so 1e300 overflows it and sklearn raises."""
    workspace = tmp_path_factory.mktemp("forest")
    train_workspace(workspace, REGRESSION_DATA, regression_frame(), estimator="random_forest")
    return serve(workspace)


def test_values_the_model_cannot_score_get_a_400_not_a_500(forest: Served) -> None:
    with forest.client() as client:
        response = client.post("/predict", json={"records": [{**VALID, "size": 1e300}]})
        fine = client.post("/predict", json={"records": [VALID]})
    assert response.status_code == 400
    assert "the model cannot score these records" in response.json()["error"]
    assert "size 0" in response.json()["error"]  # names the training ranges
    assert fine.status_code == 200


def test_concurrent_requests_share_a_prediction_but_fail_apart(forest: Served) -> None:
    contract = contracts.build_contract(forest.schema, "v1")
    model = forest.model
    frame = regression_frame(rows=40, seed=5)[["size", "age", "colour"]]
    bodies = [json.loads(frame.iloc[i : i + 4].to_json(orient="records")) for i in range(0, 40, 4)]
    bodies.insert(3, [VALID, {**VALID, "size": 1e300}])
    requests = [
        contract.request.model_validate({"records": body}).records  # type: ignore[attr-defined]
        for body in bodies
    ]
    batches: list[int] = []

    def score(grouped: list[list[Any]]) -> list[scoring.Outcome]:
        batches.append(len(grouped))
        return scoring.score_requests(model, contract, grouped)

    async def concurrently() -> list[Any]:
        batcher = scoring.Batcher(score)
        answers = await asyncio.gather(*map(batcher, requests), return_exceptions=True)
        for records in requests[:3]:  # one at a time: nobody waits for company
            await batcher(records)
        return answers

    answers = asyncio.run(concurrently())
    assert batches == [len(requests), 1, 1, 1]
    for index, (records, answer) in enumerate(zip(requests, answers, strict=True)):
        if index == 3:
            assert isinstance(answer, scoring.Unscorable)
        else:
            alone = scoring.score_requests(model, contract, [records])[0]
            assert answer == alone


def test_predictions_run_on_a_single_openmp_thread(regression: Served) -> None:
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    assert regression.model is not None  # scikit-learn's OpenMP runtime is loaded
    batcher = scoring.Batcher(lambda grouped: [])
    libraries = batcher.executor.submit(threadpool_info).result()
    openmp = [library["num_threads"] for library in libraries if library["user_api"] == "openmp"]
    assert openmp and set(openmp) == {1}


def test_bentoml_probes_answer(regression: Served) -> None:
    # /metrics needs the Prometheus multiprocess set-up of `bentoml serve`: the e2e test checks it.
    with regression.client() as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200


def test_openapi_spec_is_derived_from_the_training_schema(
    regression: Served, classification: Served
) -> None:
    with regression.client() as client:
        spec = client.get("/docs.json").json()
    record = spec["components"]["schemas"]["Record"]
    assert list(record["properties"]) == ["size", "age", "colour"]
    assert record["required"] == ["size", "age", "colour"]
    assert record["additionalProperties"] is False
    assert record["properties"]["colour"]["enum"] == ["blue", "green", "red"]
    assert record["properties"]["age"]["type"] == "integer"
    request = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert request["schema"]["properties"]["records"]["maxItems"] == contracts.MAX_RECORDS

    with classification.client() as client:
        spec = client.get("/docs.json").json()
    response = spec["paths"]["/predict"]["post"]["responses"]["200"]["content"]
    properties = response["application/json"]["schema"]["properties"]
    assert properties["predictions"]["items"]["enum"] == ["high", "low"]
    assert spec["components"]["schemas"]["Probabilities"]["required"] == ["high", "low"]


def test_the_request_example_is_accepted(regression: Served) -> None:
    example = contracts.example_record(regression.schema)
    assert example == {"size": pytest.approx(5.0, abs=0.1), "age": 24, "colour": "blue"}
    with regression.client() as client:
        assert client.post("/predict", json={"records": [example]}).status_code == 200


def test_any_column_names_and_types_make_a_contract() -> None:
    """A forker's columns may shadow pydantic names and hold booleans or numeric categories."""
    schema = DataSchema(
        task="classification",
        target="y",
        classes=[0, 1],
        features=[
            Feature(name="schema", kind="numeric", dtype="number", minimum=0, maximum=1),
            Feature(name="model_config", kind="numeric", dtype="boolean", minimum=0, maximum=1),
            Feature(
                name="sepal length (cm)", kind="categorical", dtype="number", categories=[0.5, 1.5]
            ),
        ],
    )
    contract = contracts.build_contract(schema, "abc")
    record = {"schema": 0.3, "model_config": True, "sepal length (cm)": 1.5}
    parsed = contract.request.model_validate({"records": [record]})
    assert parsed.records[0].model_dump(by_alias=True) == record  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown category 2.5"):
        contract.request.model_validate({"records": [{**record, "sepal length (cm)": 2.5}]})
    with pytest.raises(ValueError, match="valid boolean"):
        contract.request.model_validate({"records": [{**record, "model_config": 1}]})
    response = contract.response.model_validate(
        {"model_version": "abc", "predictions": [1], "probabilities": [{"0": 0.2, "1": 0.8}]}
    )
    assert json.loads(response.model_dump_json())["probabilities"] == [{"0": 0.2, "1": 0.8}]


def test_records_become_columns_of_the_schema_types() -> None:
    """Each column gets its schema's type, whatever JSON number a client sent; a column with a
    null is left to pandas, as the model was trained on it."""
    schema = DataSchema(
        task="regression",
        target="y",
        features=[
            Feature(name="size", kind="numeric", dtype="number", nulls="impute"),
            Feature(name="age", kind="numeric", dtype="integer"),
            Feature(name="new", kind="numeric", dtype="boolean"),
            Feature(name="colour", kind="categorical", dtype="string", categories=["blue"]),
        ],
    )
    contract = contracts.build_contract(schema, "abc")
    body = {"records": [{"size": 3, "age": 4, "new": True, "colour": "blue"}]}
    records = contract.request.model_validate(body).records  # type: ignore[attr-defined]
    frame = scoring.records_frame(contract, records)
    assert frame.dtypes.astype(str).to_dict() == {
        "size": "float64",
        "age": "int64",
        "new": "bool",
        "colour": "object",
    }
    assert frame.to_dict("records") == body["records"]
    body["records"].append({**body["records"][0], "size": None})
    records = contract.request.model_validate(body).records  # type: ignore[attr-defined]
    frame = scoring.records_frame(contract, records)
    assert frame["size"].dtype == "float64" and frame["size"].isna().tolist() == [False, True]


def test_import_model_is_idempotent_and_records_lineage(regression: Served) -> None:
    import bentoml

    with contextlib.chdir(regression.workspace):
        again = stores.import_model()
    assert again == stores.Imported(regression.tag, created=False)
    stored = bentoml.models.get(regression.tag)
    metadata = stored.info.metadata
    assert str(metadata["model_sha256"]).startswith(regression.tag.split(":")[1])
    assert metadata["metrics"] == {"score": 1.0}
    assert metadata["task"] == "regression"
    assert {"git_commit", "data_md5"} <= set(metadata)
    schema_copy = Path(stored.path_of(stores.STORED_SCHEMA)).read_text()
    assert schema_copy == (regression.workspace / "artifacts/schema.json").read_text()


def test_import_model_refuses_a_model_dvc_lock_does_not_name(store: Path, tmp_path: Path) -> None:
    train_workspace(tmp_path, REGRESSION_DATA, regression_frame())
    with (tmp_path / "artifacts/model.joblib").open("ab") as model:
        model.write(b"\0")
    with (
        contextlib.chdir(tmp_path),
        pytest.raises(
            RatchetError,
            match=(r"artifacts/model.joblib is not the version dvc.lock records .*run `dvc repro`"),
        ),
    ):
        stores.import_model()


def test_import_model_needs_the_trained_outputs(store: Path, tmp_path: Path) -> None:
    with contextlib.chdir(tmp_path), pytest.raises(RatchetError, match="run `make run`"):
        stores.import_model()


@pytest.mark.parametrize("tag", ["ratchet:nope", ""])
def test_a_missing_model_is_a_clear_error(store: Path, tag: str) -> None:
    from ratchet.serve.service import create_service

    with pytest.raises(
        RatchetError, match=rf"model '{tag}' is not in the BentoML store: run `make"
    ):
        create_service(tag)


def no_traceback_one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    # make's own "make: ***" line, or "make[1]: ***" under another make (as in `make test`)
    [line] = [
        line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?: ", line)
    ]
    return line


def test_make_serve_before_make_run_says_what_to_do(tmp_path: Path) -> None:
    project = make_project(tmp_path / "fork", with_make=True)
    result = project.run(
        "make", "-s", "--assume-old=.venv/.installed", "serve",
        env={"BENTOML_HOME": str(tmp_path / "bentoml")}, check=False,
    )  # fmt: skip
    line = no_traceback_one_line(result)
    assert (
        line
        == "error: artifacts/model.joblib not found: run `make run` (or `dvc pull && dvc repro`)"
    )


def test_bentoml_serve_without_a_model_says_what_to_do(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "bentoml"), "serve", "ratchet.serve.service:Ratchet", "--arg", "model="],
        env={**os.environ, "BENTOML_HOME": str(tmp_path), "BENTOML_DO_NOT_TRACK": "True"},
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    line = no_traceback_one_line(result)
    assert line.startswith("error: model '' is not in the BentoML store: run `make run`")


def test_describe_validation_error_names_each_place() -> None:
    body = {
        "error": "2 validation errors",
        "detail": [
            {"loc": ["records", 3, "colour"], "msg": "Field required"},
            {"loc": [], "msg": "Invalid JSON"},
        ],
    }
    described = contracts.describe_validation_error(body)
    assert described["error"] == "records[3].colour: Field required; request body: Invalid JSON"


@pytest.fixture(scope="module")
def lenient(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Served:
    """A model whose colour maps unseen categories to its unknown level and that imputes nulls."""
    workspace = tmp_path_factory.mktemp("lenient")
    data = {**REGRESSION_DATA, "unseen": {"colour": "unknown"}, "nulls": "impute"}
    train_workspace(workspace, data, regression_frame())
    return serve(workspace)


def test_the_unseen_and_null_policies_hold_in_the_service(lenient: Served) -> None:
    records = [{**VALID, "colour": "purple"}, {**VALID, "size": None}]
    with lenient.client() as client:
        response = client.post("/predict", json={"records": records})
        spec = client.get("/docs.json").json()
    assert response.status_code == 200, response.text
    expected = lenient.model.predict(pd.DataFrame(records).astype({"size": float}))
    assert response.json()["predictions"] == pytest.approx(expected.tolist(), rel=1e-12)
    record = spec["components"]["schemas"]["Record"]["properties"]
    assert "enum" not in json.dumps(record["colour"])  # any colour is taken
    assert "Any other value is treated as the model's unknown level" in json.dumps(record["colour"])


def test_a_classifier_without_probabilities_is_served_with_its_classes(
    store: Path, tmp_path: Path
) -> None:
    from tests.conftest import CLASSIFICATION_DATA

    train_workspace(tmp_path / "w", CLASSIFICATION_DATA, classification_frame(), estimator="ridge")
    served = serve(tmp_path / "w")
    records = rows(classification_frame(), 4)
    with served.client() as client:
        body = client.post("/predict", json={"records": records}).json()
    assert set(body) == {"model_version", "predictions"}
    assert body["predictions"] == served.model.predict(pd.DataFrame(records)).tolist()


def test_bentoml_usage_tracking_is_off_where_the_template_runs_it() -> None:
    """The Makefile exports it to every target (the workflows' included), the image carries it
    (bentofile.yaml's envs), the pod sets it (deploy/base)."""
    import yaml

    from tests.conftest import ROOT

    shown = subprocess.run(
        ["make", "-s", "--eval=show: ; @echo $$BENTOML_DO_NOT_TRACK", "show"],
        cwd=ROOT, env={k: v for k, v in os.environ.items() if k != "BENTOML_DO_NOT_TRACK"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert shown.stdout.strip() == "True"
    bentofile = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    assert {"name": "BENTOML_DO_NOT_TRACK", "value": "True"} in bentofile["envs"]
    assert "BENTOML_DO_NOT_TRACK" in (ROOT / "deploy/base/deployment.yaml").read_text()
