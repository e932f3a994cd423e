"""The serving commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ratchet.core.cli import Commands


def cmd_import_model(args: argparse.Namespace) -> int:
    from ratchet.serve.store import import_model

    imported = import_model()
    state = "added to" if imported.created else "already in"
    print(f"import-model: {imported.tag} {state} the BentoML store", file=sys.stderr)
    print(imported.tag)  # alone on stdout, for `--arg model=$(python -m ratchet import-model)`
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import joblib

    from ratchet.core.dvc import check_against_lock
    from ratchet.core.errors import RatchetError
    from ratchet.core.paths import MODEL_FILE, SCHEMA_FILE
    from ratchet.core.schema import DataSchema
    from ratchet.serve.batch import predict_file

    for path in (MODEL_FILE, SCHEMA_FILE):
        if not path.is_file():
            raise RatchetError(f"{path} not found: run `make run` first")
    check_against_lock([MODEL_FILE, SCHEMA_FILE])
    scored = predict_file(args.input, args.output, joblib.load(MODEL_FILE), DataSchema.load())
    rate = scored.rows / max(scored.seconds, 1e-9)
    print(
        f"predict: wrote {scored.rows:,} predictions to {args.output} in {scored.seconds:.1f} s "
        f"({rate:,.0f} rows/s)"
    )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from ratchet.core.schema import DataSchema
    from ratchet.serve.replay import replay

    answered, refused = replay(args.input, args.url, DataSchema.load(), args.batch)
    print(f"replay: {answered:,} records answered, {refused:,} refused, by {args.url}")
    return 0


def register(commands: Commands) -> None:
    predict = commands.add(
        "predict",
        cmd_predict,
        "score a CSV with the current model, refusing what the service refuses (exit 1: "
        "nothing written)",
    )
    predict.add_argument("input", type=Path, help="the records, as CSV with the feature columns")
    predict.add_argument(
        "-o", "--output", type=Path, required=True, help="the CSV to write: the rows, scored"
    )
    replay = commands.add(
        "replay",
        cmd_replay,
        "send a CSV's records to a running service, as traffic (fills its prediction log)",
    )
    replay.add_argument("input", type=Path, help="the records, as CSV with the feature columns")
    replay.add_argument(
        "--url", default="http://127.0.0.1:3000", help="the service (default: make serve's)"
    )
    replay.add_argument("--batch", type=int, default=100, help="records a request (default 100)")
    commands.add(
        "import-model",
        cmd_import_model,
        "put artifacts/model.joblib into the BentoML store; print its tag",
    )
