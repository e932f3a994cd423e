"""The command line's frame: each part adds its commands; a RatchetError becomes one line.

Handlers import what they need when they run, so that `--help` and every command start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence

from ratchet.core.errors import RatchetError

Handler = Callable[[argparse.Namespace], int]


class Commands:
    """Where a part registers its commands: `commands.add(name, handler, help)`."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(self, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        command = self._commands.add_parser(name, help=help, description=help)
        command.set_defaults(handler=handler)
        return command


Register = Callable[[Commands], None]


def build_parser(parts: Iterable[Register], prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commands = Commands(parser)
    for register in parts:
        register(commands)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse, run the command, and turn a RatchetError into `error: ...` and exit code 1."""
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except RatchetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return code
