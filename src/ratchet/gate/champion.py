"""The champion: the base branch's model, to be scored beside this branch's on this branch's rows.

It is the model base's dvc.lock names, trained by base's code: taken from the DVC cache or
remote when its hash is the one the lock records, and otherwise trained again from the base
commit in a git worktree. Main's dvc.lock is itself verified by a forced reproduction on every
push, so a hash that matches it names a model CI could make.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ratchet.core.dvc import locked_md5, this_python_first
from ratchet.core.errors import RatchetError
from ratchet.core.files import md5
from ratchet.core.git import git, show
from ratchet.core.paths import LOCK_FILE, MODEL_FILE, PARAMS_FILE
from ratchet.core.settings import DataParams, loose_yaml


@dataclass(frozen=True)
class Champion:
    """The base's model, or why there is none."""

    model: Any | None
    source: str  # where the model came from, or why it is missing


def base_data(commit: str) -> DataParams | None:
    """The base's `data:` section (target, task, features), None if it has none or it is bad."""
    raw = loose_yaml(show(commit, PARAMS_FILE))
    try:
        return DataParams.model_validate(raw.get("data"))
    except ValidationError:
        return None


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


def find_champion(base_commit: str) -> Champion:
    """The base's model: from the DVC cache or remote by base's lock, else trained again."""
    expected = locked_md5(loose_yaml(show(base_commit, LOCK_FILE)), MODEL_FILE)
    if expected is None:
        return Champion(None, f"the base's dvc.lock names no {MODEL_FILE}")
    stored = from_dvc(base_commit, expected)
    if stored is not None:
        return Champion(load(stored), f"base's dvc.lock (md5 {expected[:8]}), DVC cache or remote")
    try:
        trained, trained_md5 = retrain(base_commit)
    except RatchetError as exc:
        return Champion(None, f"the base model is in no DVC cache or remote, and {exc}")
    if trained_md5 != expected:
        source = (
            f"retrained from {base_commit[:12]} (md5 {trained_md5[:8]}; the base's dvc.lock "
            f"records {expected[:8]}: main's lock is stale)"
        )
    else:
        source = f"retrained from {base_commit[:12]} (md5 {trained_md5[:8]}, as its dvc.lock)"
    return Champion(load(trained), source)


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
    """Train the base model again with base's code, params and data, in a worktree that shares
    this repository's DVC cache; returns the model and its md5."""
    cache = Path(".dvc/cache").resolve()
    with worktree(commit) as base:
        env = {**this_python_first(), "PYTHONPATH": str(base / "src")}  # base's code, not ours
        dvc = [sys.executable, "-m", "dvc"]
        for command in (
            [*dvc, "config", "--local", "cache.dir", str(cache)],
            [*dvc, "pull", "--quiet", "data.dvc"],
            [*dvc, "repro", "--force", "--quiet", "train"],
        ):
            result = subprocess.run(
                command, cwd=base, env=env, capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                said = (result.stderr.strip() or result.stdout.strip()).splitlines()[-3:]
                raise RatchetError(f"retraining it from {commit[:12]} failed: {' | '.join(said)}")
        model = base / MODEL_FILE
        return model.read_bytes(), md5(model)
