"""What DVC records about the project: the data version, the outputs dvc.lock names, the outputs
dvc.yaml leaves to git, and whether pulled data is the data a .dvc file names."""

from __future__ import annotations

import hashlib
import json
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
    return recorded_md5(read_yaml(dvc_file)) or "unknown"


def recorded_md5(dvc_file: dict[str, Any]) -> str | None:
    """The md5 a .dvc file's (first) output records, from its parsed YAML; None if none."""
    outs = dvc_file.get("outs") or [{}]
    found = outs[0].get("md5") if isinstance(outs[0], dict) else None
    return str(found) if found else None


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


def stage_outputs(dvc_yaml: Path = DVC_FILE) -> dict[str, bool]:
    """Every output dvc.yaml declares, and whether DVC caches it (False: `cache: false`, left to
    git: metrics, plots and the like)."""
    outputs: dict[str, bool] = {}
    for stage in (read_yaml(dvc_yaml).get("stages") or {}).values():
        for section in ("outs", "metrics", "plots"):
            for entry in stage.get(section) or []:
                if isinstance(entry, str):
                    outputs[entry] = True
                elif isinstance(entry, dict):
                    for path, options in entry.items():
                        cached = not (isinstance(options, dict) and options.get("cache") is False)
                        outputs[str(path)] = cached
    return outputs


def committed_outputs(dvc_yaml: Path = DVC_FILE) -> list[str]:
    """The outputs dvc.yaml leaves to git (`cache: false`): metrics, plots and the like."""
    return [path for path, cached in stage_outputs(dvc_yaml).items() if not cached]


def dvc_md5(path: Path) -> str:
    """DVC 3's md5 of a file, or of a folder: `<md5>.dir`, the md5 of the folder's sorted JSON
    listing of relative paths and file md5s. Computed here from the bytes on disk, trusting no
    hash that DVC's cache or state recorded."""
    if path.is_file():
        return md5(path)
    listing = sorted(
        (
            {"md5": md5(file), "relpath": file.relative_to(path).as_posix()}
            for file in path.rglob("*")
            if file.is_file()
        ),
        key=lambda entry: entry["relpath"],
    )
    content = json.dumps(listing, sort_keys=True).encode("utf-8")
    return hashlib.md5(content).hexdigest() + ".dir"


def verify_tracked(dvc_file: Path = DATA_DVC_FILE, root: Path = Path()) -> None:
    """Fail unless what `dvc_file` tracks hashes, byte for byte, to the md5 it records.

    `dvc pull` trusts an object's name in the remote: a copy whose object holds other bytes under
    the recorded md5 is pulled, and `dvc status` then reports nothing. Re-hashing catches it.
    """
    for out in read_yaml(root / dvc_file).get("outs") or []:
        relative, expected = Path(str(out.get("path"))), str(out.get("md5"))
        path = root / dvc_file.parent / relative
        if not path.exists():
            raise RatchetError(f"{relative} is missing: pull it first (`dvc pull {dvc_file}`)")
        actual = dvc_md5(path)
        if actual != expected:
            raise RatchetError(
                f"{relative} does not hash to what {dvc_file} records (md5 {actual[:8]} != "
                f"{expected[:8]}): {', '.join(changed_files(path, root)) or relative.as_posix()} "
                "changed after it was committed, or the DVC remote or cache serves other bytes "
                "under its name. Check the remote (.dvc/config), then pull again"
            )


def changed_files(path: Path, root: Path) -> list[str]:
    """The files under a tracked folder whose bytes differ from DVC's listing of it (best effort:
    the names for an error message; the listing itself comes from the cache)."""
    if not path.is_dir():
        return []
    try:
        from dvc.api import DVCFileSystem

        listed = DVCFileSystem(str(root)).find(
            path.relative_to(root).as_posix(), detail=True, dvc_only=True
        )
    except Exception:  # the hint is optional: the hash mismatch is the finding
        return []
    names = []
    for name, info in listed.items():
        file = root / name
        if not file.is_file() or md5(file) != info.get("md5"):
            names.append(name)
    listed_names = set(listed)
    names += [
        file.relative_to(root).as_posix()
        for file in path.rglob("*")
        if file.is_file() and file.relative_to(root).as_posix() not in listed_names
    ]
    return sorted(names)
