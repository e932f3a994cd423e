"""Command line: `python -m ratchet COMMAND`.

Each command imports what it needs when it runs, so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Command = Callable[[argparse.Namespace], int]


def cmd_prepare(args: argparse.Namespace) -> int:
    from ratchet import stages
    from ratchet.settings import load_params

    n_train, n_test = stages.prepare(load_params())
    print(f"prepare: {n_train} training rows, {n_test} test rows")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ratchet import stages
    from ratchet.settings import load_params

    digest = stages.train(load_params())
    print(f"train: wrote {stages.MODEL_FILE} (sha256 {digest[:12]})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ratchet import stages, tracking
    from ratchet.settings import load_params

    scores, run_id = stages.evaluate(load_params())
    print("evaluate: " + ", ".join(f"{name}={value:g}" for name, value in scores.items()))
    print(f"evaluate: MLflow run {run_id} in {tracking.tracking_uri()}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    import hashlib
    import json

    from ratchet import stages, tracking
    from ratchet.errors import RatchetError

    if not stages.METRICS_FILE.is_file() or not stages.MODEL_FILE.is_file():
        raise RatchetError("no trained model yet: run `make run` (or `dvc repro`)")
    scores = json.loads(stages.METRICS_FILE.read_text())
    print(f"metrics ({stages.METRICS_FILE}):")
    for name, value in scores.items():
        print(f"  {name:<10} {value:g}")
    digest = hashlib.sha256(stages.MODEL_FILE.read_bytes()).hexdigest()
    run_id = tracking.find_run(digest)
    where = tracking.tracking_uri()
    if run_id is None:
        print(f"MLflow: no run in {where} logged this model (it was trained with another store)")
    else:
        print(f"MLflow: run {run_id} in {where}; browse it with `make ui`")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    import json

    from ratchet.settings import Params, load_params

    if args.schema:
        print(json.dumps(Params.model_json_schema(), indent=2))
    else:
        print(load_params().model_dump_json(indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ratchet",
        description="Ratchet: train, gate, serve and monitor a model from Git.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    add("prepare", cmd_prepare, "DVC stage: validate the raw CSV, write the schema and the split")
    add("train", cmd_train, "DVC stage: fit the recipe's model on the training split")
    add("evaluate", cmd_evaluate, "DVC stage: score the test split, write metrics, log to MLflow")
    add("summary", cmd_summary, "print the current metrics and the MLflow run of the current model")
    params = add("params", cmd_params, "print params.yaml as validated, or its JSON Schema")
    params.add_argument("--schema", action="store_true", help="print the JSON Schema instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ratchet.errors import RatchetError

    try:
        code: int = args.handler(args)
    except RatchetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
