"""Where the project's files live, relative to its root: each path is named once, here."""

from pathlib import Path

PARAMS_FILE = Path("params.yaml")
DVC_FILE = Path("dvc.yaml")
LOCK_FILE = Path("dvc.lock")
DATA_DVC_FILE = Path("data.dvc")

# The pipeline's outputs (dvc.yaml): split, schema and model in the DVC cache, reports in git.
TRAIN_FILE = Path("artifacts/split/train.parquet")
TEST_FILE = Path("artifacts/split/test.parquet")
SCHEMA_FILE = Path("artifacts/schema.json")
MODEL_FILE = Path("artifacts/model.joblib")
METRICS_FILE = Path("reports/metrics.json")
DATA_SUMMARY_FILE = Path("reports/data.json")
PLOTS_DIR = Path("reports/plots")

# Written by commands outside the pipeline (git-ignored).
PR_REPORT_DIR = Path("reports/pr")
DRIFT_HTML = Path("reports/drift.html")
DRIFT_SUMMARY = Path("reports/drift.json")
# The prediction log's sink (monitor.predictions, RATCHET_PREDICTION_LOG): a folder or fsspec URL.
PREDICTIONS = "predictions"
