"""The pipeline's commands: the DVC stages, the reproduction, the current model's summary, and
params."""

from __future__ import annotations

import argparse

from ratchet.core.cli import Commands

# `summary`'s exit code when no run in the MLflow store logged the current model: `make run`
# then runs evaluate again, which logs one.
NO_RUN = 3


def cmd_prepare(args: argparse.Namespace) -> int:
    from ratchet.core.settings import load_params
    from ratchet.pipeline import stages

    n_train, n_test = stages.prepare(load_params())
    print(f"prepare: {n_train} training rows, {n_test} test rows")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ratchet.core.paths import MODEL_FILE
    from ratchet.core.settings import load_params
    from ratchet.pipeline import stages

    digest = stages.train(load_params())
    print(f"train: wrote {MODEL_FILE} (sha256 {digest[:12]})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ratchet.core.settings import load_params
    from ratchet.pipeline import stages, tracking

    scores, run_id = stages.evaluate(load_params())
    print("evaluate: " + ", ".join(f"{name}={value:g}" for name, value in scores.items()))
    if run_id is None:
        print("evaluate: not logged to MLflow (RATCHET_TRACKING=off)")
    else:
        print(f"evaluate: MLflow run {run_id} in {tracking.tracking_uri()}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    import json

    from ratchet.core.errors import RatchetError
    from ratchet.core.files import sha256
    from ratchet.core.paths import METRICS_FILE, MODEL_FILE
    from ratchet.pipeline import tracking

    if not METRICS_FILE.is_file() or not MODEL_FILE.is_file():
        raise RatchetError("no trained model yet: run `make run` (or `dvc repro`)")
    run_id = tracking.find_run(sha256(MODEL_FILE))
    scores = json.loads(METRICS_FILE.read_text())
    print(f"metrics ({METRICS_FILE}):")
    for name, value in scores.items():
        print(f"  {name:<10} {value:g}")
    where = tracking.tracking_uri()
    if run_id is None:
        print(
            f"MLflow: no run in {where} logged this model (dvc restored it rather than ran "
            "evaluate); `dvc repro --force --single-item evaluate` logs one"
        )
        return NO_RUN
    print(f"MLflow: run {run_id} in {where}; browse it with `make ui`")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ratchet.github.actions import current
    from ratchet.pipeline.reproduction import RECORD, reproduce

    result = reproduce()
    for problem in result.problems():
        print(f"reproduce: {problem}")
    if result.verdict != "reproduced":
        print(f"reproduce: FAIL ({result.verdict}); wrote {RECORD}")
        return 1
    print(f"reproduce: dvc.lock is what this branch's code, data and params make ({RECORD})")
    if result.model_sha256:
        current().set_outputs(**{"model-sha256": result.model_sha256})
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    import json
    import sys

    from ratchet.core.paths import PARAMS_FILE
    from ratchet.core.settings import Params, load_params
    from ratchet.pipeline import stages

    if args.schema:
        print(json.dumps(Params.model_json_schema(), indent=2))
        return 0
    params = load_params()
    data_checked = stages.check(params)
    print(params.model_dump_json(indent=2))
    path = params.data.path
    if data_checked:
        said = f"{PARAMS_FILE} is valid, and {path} has the columns and values it names"
    else:
        said = (
            f"{PARAMS_FILE} is valid, but {path} is not here, so the columns it names were not "
            "checked: `dvc pull data.dvc` fetches the data"
        )
    print(f"params: {said}", file=sys.stderr)
    return 0


def register(commands: Commands) -> None:
    commands.add("prepare", cmd_prepare, "DVC stage: validate the raw CSV, write schema and split")
    commands.add("train", cmd_train, "DVC stage: fit the recipe's model on the training split")
    commands.add(
        "evaluate", cmd_evaluate, "DVC stage: score the test split, write metrics, log to MLflow"
    )
    commands.add(
        "summary",
        cmd_summary,
        "print the current metrics and the MLflow run of the current model (exit 3: no run in "
        "the store logged it)",
    )
    commands.add(
        "reproduce",
        cmd_reproduce,
        "pull the data, retrain every stage from scratch and hold the committed dvc.lock and "
        "results against the result (exit 1: refused, stale, different or failed)",
    )
    params = commands.add(
        "params",
        cmd_params,
        "check params.yaml, and the data against it, as the stages will; print it as validated, "
        "or its JSON Schema",
    )
    params.add_argument("--schema", action="store_true", help="print the JSON Schema instead")
