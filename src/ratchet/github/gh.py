"""The GitHub CLI: issues, pull requests, releases and API calls.

`gh` takes its token from GH_TOKEN and its repository from GH_REPO or the git remote.
"""

from __future__ import annotations

import json
from typing import Any

from ratchet.core.errors import RatchetError
from ratchet.core.process import run


def gh(*args: str, stdin: str = "") -> str:
    """Run `gh ARGS`; its standard output, or a RatchetError with what gh said.

    Standard input is always given (empty by default), so gh never waits for a person.
    """
    return run(["gh", *args], stdin=stdin)


def gh_json(*args: str) -> Any:
    """Run a `gh ... --json` query and parse its answer."""
    output = gh(*args)
    try:
        return json.loads(output or "null")
    except json.JSONDecodeError:
        raise RatchetError(
            f"`gh {' '.join(args[:2])}` did not answer JSON: {output[:200]!r}"
        ) from None
