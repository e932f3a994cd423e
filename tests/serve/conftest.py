"""The serve tests' fixtures: models trained by the real stages on the fixture data and imported
into a temporary BentoML store by the real `import_model` (the user's ~/bentoml is never touched),
and their services, called in process over their ASGI apps."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import pandas as pd
import pytest

from ratchet.core.schema import DataSchema
from ratchet.serve import store as stores
from tests.conftest import (
    CLASSIFICATION_DATA,
    REGRESSION_DATA,
    classification_frame,
    regression_frame,
    train_workspace,
)

if TYPE_CHECKING:
    from starlette.testclient import TestClient

VALID = {"size": 2.5, "age": 7, "colour": "red"}


@contextlib.contextmanager
def bentoml_home(home: Path) -> Iterator[Path]:
    """Point this process's BentoML at a temporary home and model store."""
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.models import ModelStore

    (home / "models").mkdir(parents=True, exist_ok=True)
    with (
        BentoMLContainer.bentoml_home.patch(str(home)),
        BentoMLContainer.model_store.patch(ModelStore(str(home / "models"))),
    ):
        yield home


APPS = itertools.count()  # one metrics namespace per app in this process


@dataclass
class Served:
    """A stored model, its service, and the artifacts it was imported from."""

    tag: str
    workspace: Path
    service: Any

    @property
    def schema(self) -> DataSchema:
        return DataSchema.load(self.workspace / "artifacts/schema.json")

    @property
    def model(self) -> Any:
        return joblib.load(self.workspace / "artifacts/model.joblib")

    @functools.cached_property
    def app(self) -> Any:
        # Each app registers its Prometheus metrics in this process's one registry: give each
        # service its own namespace (the same model can be served twice: tests/deploy serves
        # one too), and build its app once.
        namespace = f"test_{self.tag.split(':')[1]}_{next(APPS)}"
        self.service.config["metrics"] = {"namespace": namespace}
        return self.service.to_asgi()

    def client(self) -> TestClient:
        """An HTTP client of the app that runs its lifespan (so the service is instantiated)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # starlette would rather we installed httpx2
            from starlette.testclient import TestClient
        return TestClient(self.app, raise_server_exceptions=False)


def serve(workspace: Path) -> Served:
    from ratchet.serve.service import create_service

    with contextlib.chdir(workspace):
        imported = stores.import_model()
    return Served(imported.tag, workspace, create_service(imported.tag))


# One store and one service per model for the whole session (per xdist worker): an app registers
# its metrics in the process's one Prometheus registry, which refuses them twice.
@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with bentoml_home(tmp_path_factory.mktemp("bentoml")) as home:
        yield home


@pytest.fixture(scope="session")
def regression(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Served:
    workspace = tmp_path_factory.mktemp("regression")
    train_workspace(workspace, REGRESSION_DATA, regression_frame())
    return serve(workspace)


@pytest.fixture(scope="session")
def classification(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Served:
    workspace = tmp_path_factory.mktemp("classification")
    train_workspace(workspace, CLASSIFICATION_DATA, classification_frame())
    return serve(workspace)


@pytest.fixture(autouse=True)
def prediction_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's served predictions go to its own sink, a folder, through its own spool."""
    from ratchet.serve.prediction_log import ENV_SINK, ENV_SPOOL

    monkeypatch.setenv(ENV_SINK, str(tmp_path / "predictions"))
    monkeypatch.setenv(ENV_SPOOL, str(tmp_path / "spool"))
    return tmp_path / "predictions"


@pytest.fixture(autouse=True)
def quiet_bentoml() -> Iterator[None]:
    """BentoML logs a traceback for every refused request; the tests refuse many on purpose."""
    logger = logging.getLogger("bentoml")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def rows(frame: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(
        frame[["size", "age", "colour"]].head(n).to_json(orient="records")
    )
    return records
