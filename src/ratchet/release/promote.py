"""Promotion: the MLflow registry alias `production` follows the released model."""

from __future__ import annotations

from ratchet.core.errors import RatchetError
from ratchet.core.files import sha256 as file_sha256
from ratchet.core.paths import MODEL_FILE


def promote(alias: str, release: str | None, sha256: str | None) -> str:
    """Register the MLflow run's model with this sha256 (default: artifacts/model.joblib's) and
    point `alias` at it.

    Running it again for the same model reuses its version, so promoting an older release's
    checkout is the rollback.
    """
    from ratchet.pipeline import tracking

    if sha256 is None:
        if not MODEL_FILE.is_file():
            raise RatchetError(
                f"{MODEL_FILE} not found: run `make run` (or `python -m ratchet reproduce`)"
            )
        sha256 = file_sha256(MODEL_FILE)
    uri = tracking.tracking_uri()
    run_id = tracking.find_run(sha256)
    if run_id is None:
        raise RatchetError(
            f"no MLflow run in {uri} logged the model with sha256 {sha256[:12]}: train it with "
            "this MLFLOW_TRACKING_URI set (`dvc repro --force`), then promote"
        )
    mlflow = tracking.start(uri)
    client = mlflow.MlflowClient()
    name = tracking.experiment_name()
    versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    if versions:
        version = str(max(int(v.version) for v in versions))
    else:
        version = str(mlflow.register_model(f"runs:/{run_id}/model", name).version)
    try:
        before = str(client.get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        before = None
    client.set_model_version_tag(name, version, "model_sha256", sha256)
    if release:
        client.set_model_version_tag(name, version, "release", release)
    client.set_registered_model_alias(name, alias, version)
    moved = "already" if before == version else f"was {before}" if before else "new alias"
    return f"{name} version {version} (run {run_id}) is @{alias} ({moved}) in {uri}"
