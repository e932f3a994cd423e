"""The one way Ratchet runs git."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from ratchet.core.errors import RatchetError
from ratchet.core.process import call, run


def git_call(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `git ARGS` and return what happened, for callers that read the exit code themselves."""
    return call(["git", *args], env=env)


def git(*args: str, env: Mapping[str, str] | None = None) -> str:
    """Run `git ARGS`; its standard output, stripped, or a RatchetError with what git said."""
    return run(["git", *args], env=env).strip()


def show(commit: str, path: Path) -> str | None:
    """A file's text at a commit, or None when the commit does not have it.

    A file git cannot read (a shallow or partial clone) is an error, never "absent": a gate would
    otherwise take it for a base without metrics and pass.
    """
    result = git_call("show", f"{commit}:{path.as_posix()}")
    if result.returncode == 0:
        return result.stdout
    listed = git_call("ls-tree", "--name-only", commit, "--", path.as_posix())
    if listed.returncode == 0 and not listed.stdout.strip():
        return None
    raise RatchetError(
        f"cannot read {path} at {commit[:12]} ({result.stderr.strip()}): fetch it with full "
        "history (fetch-depth: 0)"
    )


def tracked_files() -> list[str]:
    """Every path git tracks in the working tree, as committed names (no quoting)."""
    return [path for path in git("ls-files", "-z").split("\0") if path]


def resolve(revision: str, role: str = "revision") -> str:
    """The commit a revision names, or a RatchetError that says how to make it known."""
    result = git_call("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if result.returncode != 0:
        raise RatchetError(
            f"unknown {role} {revision!r}: fetch it (`git fetch origin {revision}`, or check out "
            "with full history: fetch-depth: 0)"
        )
    return result.stdout.strip()


def head_commit() -> tuple[str, bool]:
    """The commit checked out and whether tracked files differ from it; ("unknown", False) outside
    a git repository."""
    commit = git_call("rev-parse", "HEAD")
    status = git_call("status", "--porcelain", "--untracked-files=no")
    if commit.returncode != 0 or status.returncode != 0:
        return "unknown", False
    return commit.stdout.strip(), bool(status.stdout.strip())
