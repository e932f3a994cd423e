"""The model a release ships: exactly the one the tagged commit's dvc.lock names."""

from __future__ import annotations

import subprocess
import sys

from ratchet.core.dvc import check_against_lock
from ratchet.core.errors import RatchetError
from ratchet.core.files import sha256
from ratchet.core.git import git
from ratchet.core.paths import LOCK_FILE, MODEL_FILE


def stream(command: list[str]) -> None:
    """Run a long command with its output shown as it goes."""
    try:
        code = subprocess.run(command, check=False).returncode
    except FileNotFoundError:
        raise RatchetError(f"`{command[0]}` not found on PATH: run `make install`") from None
    if code != 0:
        raise RatchetError(f"`{' '.join(command)}` failed (exit {code}): see its output above")


def pull_model() -> str:
    """Fetch what this commit's dvc.lock names, retraining only what the DVC remote lacks (as
    `make repro` does); returns the model file's sha256.

    Retraining must reproduce the locked outputs exactly (training is seeded): if dvc.lock
    changes, the release would ship a model no commit names, so this fails instead.
    """
    dvc = [sys.executable, "-m", "dvc"]
    stream([*dvc, "pull", "data.dvc"])
    stream([*dvc, "repro", "--pull"])
    if git("status", "--porcelain", "--", str(LOCK_FILE)).strip():
        raise RatchetError(
            f"`dvc repro` changed {LOCK_FILE}: the outputs this commit names are not in the DVC "
            "remote and retraining made different ones; `dvc push` them from where they were "
            "trained, then rerun the release"
        )
    check_against_lock([MODEL_FILE])
    return sha256(MODEL_FILE)
