"""Where the pipeline's files live, relative to the project root (kept import-light)."""

from pathlib import Path

PARAMS_FILE = Path("params.yaml")
DATA_DVC_FILE = Path("data.dvc")
TRAIN_FILE = Path("artifacts/split/train.parquet")
TEST_FILE = Path("artifacts/split/test.parquet")
MODEL_FILE = Path("artifacts/model.joblib")
METRICS_FILE = Path("reports/metrics.json")
DATA_SUMMARY_FILE = Path("reports/data.json")
PLOTS_DIR = Path("reports/plots")
