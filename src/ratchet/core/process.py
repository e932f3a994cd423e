"""The one way Ratchet runs another program: git, docker, bentoml, dvc, uv, openssl, CML.

Two errors, worded the same for every program: a program that is not there says how to install
it, and a program that fails says what it said.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ratchet.core.errors import RatchetError

# How to get each program the template runs; anything else is "see the README's setup".
INSTALL = {
    "git": "install git",
    "docker": "install Docker",
    "openssl": "install openssl",
    "node": "install Node.js",
}
FROM_THE_LOCK = "run `make install`"  # the project's own tools: dvc, bentoml, uv, mlflow


def program(command: Sequence[str]) -> str:
    """The program a command runs, by name: `git`, or `dvc` for `python -m dvc`."""
    if len(command) > 2 and command[1] == "-m":
        return command[2]
    return Path(command[0]).name


def call(
    command: Sequence[str],
    *,
    stdin: str = "",
    env: Mapping[str, str] | None = None,
    inherit: bool = True,
    cwd: Path | None = None,
    show: bool = False,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `command` and return what happened, for callers that read the exit code themselves.

    `env` is added to this process's environment; without `inherit` it is the whole environment,
    and nothing else of this process's reaches the program. Standard input is always given (empty by
    default), so no program waits for a person. With `show`, the output goes to this process's
    own, as it comes (for long commands), and is not captured.
    """
    name = program(command)
    try:
        return subprocess.run(
            list(command),
            input=None if show else stdin,
            stdin=subprocess.DEVNULL if show else None,
            capture_output=not show,
            text=True,
            check=False,
            env={**os.environ, **(env or {})} if inherit else dict(env or {}),
            cwd=cwd,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise RatchetError(f"{name} not found: {INSTALL.get(name, FROM_THE_LOCK)}") from None
    except OSError as exc:
        raise RatchetError(f"{name} could not be started: {exc}") from None
    except subprocess.TimeoutExpired:
        raise RatchetError(f"`{shown(command)}` did not finish within {timeout:g} s") from None


def run(
    command: Sequence[str],
    *,
    stdin: str = "",
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    show: bool = False,
    timeout: float | None = None,
) -> str:
    """Run `command`; its standard output, or a RatchetError with the last of what it said."""
    result = call(command, stdin=stdin, env=env, cwd=cwd, show=show, timeout=timeout)
    if result.returncode != 0:
        raise RatchetError(failure(command, result))
    return result.stdout or ""


def failure(command: Sequence[str], result: subprocess.CompletedProcess[str]) -> str:
    """`git diff ...` failed (exit 1): the last lines it said, or a pointer to its output."""
    said = (result.stderr or "").strip() or (result.stdout or "").strip()
    if result.stderr is None and result.stdout is None:
        said = "see its output above"
    lines = said.splitlines()[-5:] or ["it said nothing"]
    return f"`{shown(command)}` failed (exit {result.returncode}): {' | '.join(lines)}"


def shown(command: Sequence[str]) -> str:
    """A command as a message names it: `dvc pull data.dvc` for `python -m dvc pull data.dvc`,
    cut at 80 characters."""
    words = list(command)
    text = " ".join([program(words), *words[3 if words[1:2] == ["-m"] else 1 :]])
    return text if len(text) <= 80 else text[:76] + " ..."
