"""The GitHub CLI: issues, pull requests, releases and API calls.

`gh` takes its token from GH_TOKEN and its repository from GH_REPO or the git remote.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from ratchet.core.errors import RatchetError


def gh(*args: str, stdin: str = "") -> str:
    """Run `gh ARGS`; its standard output, or a RatchetError with what gh said.

    Standard input is always given (empty by default), so gh never waits for a person.
    """
    try:
        result = subprocess.run(
            ["gh", *args], input=stdin, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise RatchetError(
            "gh (the GitHub CLI) is not on PATH: install it from https://cli.github.com "
            "(GitHub's runners have it)"
        ) from None
    if result.returncode != 0:
        said = (result.stderr.strip() or result.stdout.strip()).replace("\n", " ")
        raise RatchetError(f"`gh {' '.join(args[:2])}` failed: {said}")
    return result.stdout


def gh_json(*args: str) -> Any:
    """Run a `gh ... --json` query and parse its answer."""
    output = gh(*args)
    try:
        return json.loads(output or "null")
    except json.JSONDecodeError:
        raise RatchetError(
            f"`gh {' '.join(args[:2])}` did not answer JSON: {output[:200]!r}"
        ) from None
