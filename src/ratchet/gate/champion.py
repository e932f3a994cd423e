"""The champion (the base branch's model) and the anchor (the newest release's), to be scored
beside this branch's on this branch's rows.

Each is the model its commit's dvc.lock names, trained by that commit's code: taken from the DVC
cache or remote when its hash is the one the lock records, and otherwise trained again from the
commit in a git worktree, on data re-hashed against the commit's data.dvc. Main's dvc.lock is
itself verified by a forced reproduction on every push, so a hash that matches it names a model
CI could make.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet.core.dvc import this_python_first, verify_tracked
from ratchet.core.errors import RatchetError
from ratchet.core.files import md5
from ratchet.core.git import git
from ratchet.core.paths import DATA_DVC_FILE, MODEL_FILE
from ratchet.core.process import call, failure
from ratchet.core.settings import DataParams
from ratchet.gate.revision import Revision


@dataclass(frozen=True)
class Champion:
    """A commit's model, or why there is none."""

    model: Any | None
    source: str  # where the model came from, or why it is missing
    md5: str | None = None


def unlike(base: DataParams, branch: DataParams) -> str | None:
    """Why the two models cannot be scored on this branch's rows, in plain words; None if they can.

    The base model reads its own features, so features this branch adds do not matter; a changed
    target or task, or a base feature this branch drops or reads as another kind, does.
    """
    if base.task != branch.task:
        return f"this pull request changes the task from {base.task} to {branch.task}"
    if base.target != branch.target:
        return f"this pull request changes the target from {base.target!r} to {branch.target!r}"
    dropped = sorted(set(base.features) - set(branch.features))
    if dropped:
        return f"this pull request drops the feature(s) {', '.join(dropped)} the base model reads"
    switched = sorted(set(base.numeric) & set(branch.categorical))
    switched += sorted(set(base.categorical) & set(branch.numeric))
    if switched:
        return f"this pull request reads {', '.join(switched)} as another kind of feature"
    return None


def find_model(revision: Revision) -> Champion:
    """The model a commit's lock names: from the DVC cache or remote, else trained again."""
    commit, expected = revision.commit, revision.model_md5
    if expected is None:
        return Champion(None, f"the dvc.lock of {commit[:12]} names no {MODEL_FILE}")
    stored = from_dvc(commit, expected)
    if stored is not None:
        source = f"md5 {expected[:8]} as its dvc.lock records, from the DVC cache or remote"
        return Champion(load(stored), source, expected)
    try:
        trained, trained_md5 = retrain(commit)
    except RatchetError as exc:
        return Champion(None, f"the model is in no DVC cache or remote, and {exc}")
    if trained_md5 != expected:
        source = (
            f"retrained from {commit[:12]} (md5 {trained_md5[:8]}; its dvc.lock records "
            f"{expected[:8]}: that lock is stale)"
        )
    else:
        source = f"retrained from {commit[:12]} (md5 {trained_md5[:8]}, as its dvc.lock)"
    return Champion(load(trained), source, trained_md5)


def load(content: bytes) -> Any:
    import joblib

    return joblib.load(io.BytesIO(content))


def from_dvc(commit: str, expected: str) -> bytes | None:
    """The model base's lock names, from the DVC cache or remote, if it is there and its hash is
    the recorded one."""
    import dvc.api
    from dvc.exceptions import DvcException

    try:
        with dvc.api.open(MODEL_FILE.as_posix(), repo=".", rev=commit, mode="rb") as handle:
            content: bytes = handle.read()
    except (DvcException, OSError):
        return None
    import hashlib

    return content if hashlib.md5(content).hexdigest() == expected else None


@contextlib.contextmanager
def worktree(commit: str) -> Iterator[Path]:
    """A detached git worktree of `commit`, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="ratchet-base-") as parent:
        folder = Path(parent) / "base"
        git("worktree", "add", "--quiet", "--detach", str(folder), commit)
        try:
            yield folder
        finally:
            git("worktree", "remove", "--force", str(folder))


def retrain(commit: str) -> tuple[bytes, str]:
    """Train a commit's model again with its code, params and data, in a worktree that shares
    this repository's DVC cache; returns the model and its md5. The data is re-hashed against the
    commit's data.dvc first: a cache or remote that serves other bytes under its name fails."""
    cache = Path(".dvc/cache").resolve()
    with worktree(commit) as base:
        env = {**this_python_first(), "PYTHONPATH": str(base / "src")}  # base's code, not ours

        def dvc(*args: str) -> None:
            command = [sys.executable, "-m", "dvc", *args]
            result = call(command, cwd=base, env=env)
            if result.returncode != 0:
                raise RatchetError(f"retraining it from {commit[:12]}: {failure(command, result)}")

        dvc("config", "--local", "cache.dir", str(cache))
        dvc("pull", "--quiet", str(DATA_DVC_FILE))
        try:
            verify_tracked(DATA_DVC_FILE, root=base)
        except RatchetError as exc:
            raise RatchetError(f"retraining it from {commit[:12]} was refused: {exc}") from None
        dvc("repro", "--force", "--quiet", "train")
        model = base / MODEL_FILE
        return model.read_bytes(), md5(model)
