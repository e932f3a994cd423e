"""Write outputs all at once or not at all, and fingerprint files."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

Writer = Callable[[Path], object]


def write_all(outputs: dict[Path, Writer]) -> None:
    """Write each output to a temporary file beside it, then move them all into place.

    A failure while writing leaves no output behind, so a failed step never looks done.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, write in outputs.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            os.close(handle)
            temporary = Path(name)
            temporary.chmod(0o644)
            staged.append((temporary, path))
            write(temporary)
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, path in staged:
        temporary.replace(path)


def text(content: str) -> Writer:
    return lambda path: path.write_text(content, encoding="utf-8")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def md5(path: Path) -> str:
    """The hash DVC records for a file in dvc.lock."""
    return hashlib.md5(path.read_bytes()).hexdigest()
