"""What DVC records about the project: the data version, the outputs dvc.lock names, and the
outputs dvc.yaml leaves to git."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ratchet.core.errors import RatchetError
from ratchet.core.files import md5
from ratchet.core.paths import DATA_DVC_FILE, DVC_FILE, LOCK_FILE
from ratchet.core.settings import read_yaml


def this_python_first() -> dict[str, str]:
    """This environment with this Python's folder first on PATH: the stages' commands say
    `python`, and DVC runs them with the PATH it is given."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path}


def data_version(dvc_file: Path = DATA_DVC_FILE) -> str:
    """The DVC hash of the data folder as data.dvc records it."""
    if not dvc_file.is_file():
        return "untracked"
    outs = read_yaml(dvc_file).get("outs") or [{}]
    return str(outs[0].get("md5", "unknown"))


def locked_md5(lock: dict[str, Any], path: Path) -> str | None:
    """The md5 that dvc.lock records for a stage output, if any stage outputs `path`."""
    for stage in (lock.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            if Path(out.get("path", "")) == path:
                return str(out.get("md5"))
    return None


def check_against_lock(files: list[Path], lock_file: Path = LOCK_FILE) -> None:
    """Fail unless each file is the version dvc.lock names, so what ships is what was recorded."""
    if not lock_file.is_file():
        raise RatchetError(f"{lock_file} not found: run `dvc repro` to train and record the model")
    lock = read_yaml(lock_file)
    for path in files:
        expected = locked_md5(lock, path)
        if expected is None:
            raise RatchetError(f"{lock_file} records no stage output {path}: run `dvc repro`")
        actual = md5(path)
        if actual != expected:
            raise RatchetError(
                f"{path} is not the version {lock_file} records (md5 {actual[:8]} != "
                f"{expected[:8]}): run `dvc repro` (or `dvc checkout` to restore it)"
            )


def committed_outputs(dvc_yaml: Path = DVC_FILE) -> list[str]:
    """The outputs dvc.yaml leaves to git (`cache: false`): metrics, plots and the like."""
    paths = []
    for stage in (read_yaml(dvc_yaml).get("stages") or {}).values():
        for section in ("outs", "metrics", "plots"):
            for entry in stage.get(section) or []:
                if isinstance(entry, dict):
                    paths += [
                        path
                        for path, options in entry.items()
                        if isinstance(options, dict) and options.get("cache") is False
                    ]
    return paths
