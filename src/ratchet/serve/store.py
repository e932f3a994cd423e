"""The BentoML model store: the pipeline's model, imported under a version that is its hash.

Idempotent: the same model file always gets the same tag. The stored model carries its schema,
from which the service builds its contract.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet.core.errors import RatchetError
from ratchet.core.files import sha256
from ratchet.core.paths import METRICS_FILE, MODEL_FILE, SCHEMA_FILE
from ratchet.serve.contract import Contract, build_contract

# The model's name in the BentoML store; its version is the start of the model file's sha256.
MODEL_NAME = "ratchet"
VERSION_LENGTH = 12
# The files a stored model holds, beside BentoML's own model.yaml.
STORED_MODEL = "model.joblib"
STORED_SCHEMA = "schema.json"


def model_version(sha256: str) -> str:
    return sha256[:VERSION_LENGTH]


@dataclass(frozen=True)
class Imported:
    tag: str
    created: bool


def import_model() -> Imported:
    """Put the pipeline's model into the BentoML store as `ratchet:<sha256 prefix>`.

    Idempotent: the same model file always gets the same tag, and importing it again is a no-op.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    from ratchet.core.dvc import check_against_lock, data_version
    from ratchet.core.git import head_commit
    from ratchet.core.schema import DataSchema

    model_file, schema_file, metrics_file = MODEL_FILE, SCHEMA_FILE, METRICS_FILE
    for path in (model_file, schema_file, metrics_file):
        if not path.is_file():
            raise RatchetError(f"{path} not found: run `make run` (or `dvc pull && dvc repro`)")
    check_against_lock([model_file, schema_file, metrics_file])
    schema = DataSchema.load(schema_file)
    digest = sha256(model_file)
    tag = f"{MODEL_NAME}:{model_version(digest)}"
    try:
        stored = bentoml.models.get(tag)
    except NotFound:
        pass
    else:
        if stored.info.metadata.get("model_sha256") != digest:
            raise RatchetError(
                f"the BentoML store holds another model as {tag}: "
                f"`bentoml models delete {tag}` and import again"
            )
        return Imported(tag, created=False)

    commit, dirty = head_commit()
    model = load_model(model_file.parent, model_file.name)
    metadata = {
        "model_sha256": digest,
        "git_commit": commit,
        "git_dirty": dirty,
        "data_md5": data_version(),
        "task": schema.task,
        "target": schema.target,
        "metrics": json.loads(metrics_file.read_text()),
        "probabilities": schema.gives_probabilities(model),
    }
    labels = {"git_commit": commit[:12], "task": schema.task}
    with bentoml.models.create(tag, labels=labels, metadata=metadata) as stored:
        shutil.copyfile(model_file, stored.path_of(STORED_MODEL))
        shutil.copyfile(schema_file, stored.path_of(STORED_SCHEMA))
    return Imported(tag, created=True)


def read_contract(model_dir: Path, version: str, probabilities: bool) -> Contract:
    """The contract of a stored model, from the schema it was imported with."""
    from ratchet.core.schema import DataSchema

    return build_contract(DataSchema.load(model_dir / STORED_SCHEMA), version, probabilities)


def load_model(model_dir: Path, name: str = STORED_MODEL) -> Any:
    import joblib

    return joblib.load(model_dir / name)
