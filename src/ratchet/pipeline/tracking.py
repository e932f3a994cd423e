"""MLflow tracking: where runs go, and what each training run records.

A run holds what a reviewer opens in `make ui`: the metrics, the params (flattened, as
`train.estimator`), the git commit (`mlflow.source.git.commit`, which the UI links, and whether
the tree was dirty), the data's version and profile (`data/`: the row counts, and a table of the
features from the schema), the plots as images (`plots/`), and the model with its signature.

The local default is an SQLite store in `mlruns/`; set MLFLOW_TRACKING_URI to use a server.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ratchet.core.dvc import data_version
from ratchet.core.errors import RatchetError
from ratchet.core.git import head_commit
from ratchet.core.paths import DATA_SUMMARY_FILE, SCHEMA_FILE
from ratchet.core.schema import DataSchema

if TYPE_CHECKING:
    import pandas as pd

LOCAL_STORE = Path("mlruns")
# What loading a logged model needs besides MLflow, pinned to the versions that trained it.
MODEL_REQUIREMENTS = ("scikit-learn", "skops", "pandas", "numpy", "scipy")
EXPERIMENT = "ratchet"


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, or the local store of the project in the working directory: by its
    absolute path, since MLflow keeps one store per URI for the life of the process."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{LOCAL_STORE.resolve()}/mlflow.db"


def enabled() -> bool:
    """Whether the evaluate stage logs its run: RATCHET_TRACKING=off turns it off (unset or empty:
    `on`)."""
    value = (os.environ.get("RATCHET_TRACKING") or "on").strip().lower()
    if value not in ("on", "off"):
        raise RatchetError(f"RATCHET_TRACKING is {value!r}: set it to `on` or `off`, or unset it")
    return value == "on"


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast with a clear message instead of letting MLflow retry for minutes."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # the server answered; authentication and the like are MLflow's to report
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RatchetError(
            f"MLflow tracking server {uri} is unreachable ({reason}): start it, fix "
            f"MLFLOW_TRACKING_URI, or unset it to track in the local store {LOCAL_STORE}/"
        ) from None


def experiment_name() -> str:
    """The MLflow experiment (and registered model): MLFLOW_EXPERIMENT_NAME, else `ratchet`."""
    return os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)


def start(uri: str) -> Any:
    """Point MLflow at `uri` and select the experiment; returns the mlflow module."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    experiment = experiment_name()
    if uri.startswith("sqlite:///") and mlflow.get_experiment_by_name(experiment) is None:
        # Keep the local store's artifacts beside its database, not in the working directory.
        LOCAL_STORE.mkdir(exist_ok=True)
        mlflow.create_experiment(experiment, (LOCAL_STORE / "artifacts").resolve().as_uri())
    mlflow.set_experiment(experiment)
    return mlflow


def log_training_run(
    *,
    model: Any,
    params: dict[str, Any],
    scores: dict[str, float],
    example: pd.DataFrame,
    tags: dict[str, str],
    plots: Mapping[str, pd.DataFrame],
) -> str:
    """Record one trained model with its params, metrics, plots, data profile, signature and
    lineage; returns the run id. `plots` is the evaluate stage's plot data, drawn here."""
    uri = tracking_uri()
    check_reachable(uri)
    if uri.startswith("sqlite:///"):
        LOCAL_STORE.mkdir(exist_ok=True)
    mlflow = start(uri)
    import skops.io
    from mlflow.models import infer_signature

    from ratchet.pipeline.evaluation import figures

    commit, dirty = head_commit()
    with mlflow.start_run() as run:
        mlflow.set_tags(
            {
                "mlflow.source.git.commit": commit,  # what MLflow's UI shows as the source
                "git_commit": commit,
                "git_dirty": str(dirty).lower(),
                "data_md5": data_version(),
                **tags,
            }
        )
        mlflow.log_params(params)
        mlflow.log_metrics(scores)
        log_data_profile(mlflow)
        for name, figure in figures(plots).items():
            mlflow.log_figure(figure, f"plots/{name}")
        with warnings.catch_warnings():
            # MLflow hints that integer columns cannot hold missing values: true, and expected.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(example, model.predict(example))
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            # skops refuses to load types it does not know; trust exactly those of this model.
            skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
            # What loading the model needs, pinned to this environment; spares MLflow's slow
            # inference of the whole project's requirements.
            pip_requirements=[
                f"mlflow=={mlflow.__version__}",  # the client may be mlflow-skinny: same version
                *(f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS),
            ],
        )
        return str(run.info.run_id)


def log_data_profile(mlflow: Any) -> None:
    """The data the model learnt from: the prepare stage's row counts (`data/summary.json`) and
    each feature's kind, type, range or categories, and empty-value policy (`data/features.json`,
    a table)."""
    if DATA_SUMMARY_FILE.is_file():
        mlflow.log_dict(json.loads(DATA_SUMMARY_FILE.read_text()), "data/summary.json")
    if SCHEMA_FILE.is_file():
        schema = DataSchema.load(SCHEMA_FILE)
        mlflow.log_table(feature_table(schema), "data/features.json")


def feature_table(schema: DataSchema) -> dict[str, list[Any]]:
    """One row per feature, as MLflow's table view shows it."""
    rows = [
        {
            "feature": f.name,
            "kind": f.kind,
            "type": f.dtype,
            "minimum": f.minimum,
            "maximum": f.maximum,
            "categories": shown(f.categories or []),
            "empty values": f.nulls,
        }
        for f in schema.features
    ]
    return {column: [row[column] for row in rows] for column in rows[0]} if rows else {}


def shown(categories: list[Any], most: int = 10) -> str:
    """A feature's categories as text: the first `most`, and how many there are in all."""
    listed = ", ".join(str(category) for category in categories[:most])
    return listed if len(categories) <= most else f"{listed}, ... ({len(categories)} in all)"


def find_run(model_sha256: str) -> str | None:
    """The newest run that logged the model with this hash, if the store has one.

    A lookup only: it creates neither the local store nor the experiment.
    """
    uri = tracking_uri()
    check_reachable(uri)
    if uri.startswith("sqlite:///") and not LOCAL_STORE.is_dir():
        return None
    import mlflow

    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(experiment_name())
    if experiment is None:
        return None
    runs = mlflow.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string=f"tags.model_sha256 = '{model_sha256}'",
        order_by=["start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return str(runs[0].info.run_id) if runs else None
