"""The serving commands."""

from __future__ import annotations

import argparse
import sys

from ratchet.core.cli import Commands


def cmd_import_model(args: argparse.Namespace) -> int:
    from ratchet.serve.store import import_model

    imported = import_model()
    state = "added to" if imported.created else "already in"
    print(f"import-model: {imported.tag} {state} the BentoML store", file=sys.stderr)
    print(imported.tag)  # alone on stdout, for `--arg model=$(python -m ratchet import-model)`
    return 0


def register(commands: Commands) -> None:
    commands.add(
        "import-model",
        cmd_import_model,
        "put artifacts/model.joblib into the BentoML store; print its tag",
    )
