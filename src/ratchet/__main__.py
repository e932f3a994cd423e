"""`python -m ratchet COMMAND`: every part's commands under one name.

Each part registers its own (`ratchet/<part>/cli.py`); handlers import what they need when they
run, so `--help` stays instant and imports no ML library.
"""

import argparse
import sys
from collections.abc import Sequence

from ratchet.comment import cli as comment
from ratchet.core.cli import build_parser, run
from ratchet.gate import cli as gate
from ratchet.monitor import cli as monitor
from ratchet.pipeline import cli as pipeline
from ratchet.release import cli as release
from ratchet.serve import cli as serve

PARTS = (
    pipeline.register,
    gate.register,
    comment.register,
    serve.register,
    release.register,
    monitor.register,
)


def parser() -> argparse.ArgumentParser:
    return build_parser(
        PARTS,
        "python -m ratchet",
        "Ratchet: train, gate, serve and monitor a model from Git.",
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run(parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
