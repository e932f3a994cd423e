"""Reproduce, never trust: pull the data and only the data, check that it is the data data.dvc
names, retrain every stage from scratch, then hold the committed results against what the
reproduction wrote.

Before anything runs, files a pull request could commit to stand in for the reproduction or to
change the judge are refused by name: Python startup hooks, a local DVC config, tracked stage
outputs or reports. A lock whose deps or params differ from the reproduction's is stale; a lock or
a committed output (metrics, plots) that differs from what the reproduction wrote, or is missing,
names results that this code does not make. Each fails the check. What was reproduced is kept
beside the verdict, so that a machine whose results differ from CI's can commit CI's.

`main.yml` and the release run this too: a reproduction is the only source of a judged model.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ratchet.core.dvc import committed_outputs, stage_outputs, this_python_first, verify_tracked
from ratchet.core.errors import RatchetError
from ratchet.core.files import sha256, text, write_all
from ratchet.core.git import git_call, show, tracked_files
from ratchet.core.paths import DATA_DVC_FILE, LOCK_FILE, MODEL_FILE, PR_REPORT_DIR
from ratchet.core.process import run
from ratchet.core.settings import flatten, loose_yaml

RECORD = PR_REPORT_DIR / "reproduction.json"
# Where the reproduced lock and git-tracked results go, for the check's artifact.
REPRODUCED = PR_REPORT_DIR / "reproduced"
STALE = "dvc.lock is stale: run make run and commit dvc.lock"

Verdict = Literal["reproduced", "stale", "differs", "refused", "failed"]
# Files Python runs at start-up from any folder on sys.path (site's sitecustomize, usercustomize
# and .pth files): committed, they would run inside the judge before a line of Ratchet does.
STARTUP_HOOKS = ("sitecustomize.py", "usercustomize.py")
LOCAL_DVC_CONFIG = ".dvc/config.local"


@dataclass(frozen=True)
class Reproduction:
    """What reproducing the branch found, as `reports/pr/reproduction.json` records it."""

    verdict: Verdict
    stale: list[str] = field(default_factory=list)  # deps and params recorded differently
    differs: list[str] = field(default_factory=list)  # outputs recorded differently
    error: str | None = None  # why the reproduction itself failed
    refused: list[str] = field(default_factory=list)  # committed files that no check may trust
    model_sha256: str | None = None

    def problems(self) -> list[str]:
        """What fails the check, in the words the report and the log show."""
        if self.verdict == "refused":
            return [f"refused before anything ran: {reason}" for reason in self.refused]
        if self.verdict == "failed":
            return [f"the pipeline could not be reproduced: {self.error}"]
        if self.verdict == "stale":
            return [f"{STALE} ({', '.join(self.stale)} changed since it was written)"]
        if self.verdict == "differs":
            return [
                f"the committed results differ from what this branch's code makes: "
                f"{', '.join(self.differs)}. Commit the reproduced ones (the check's artifact "
                "holds them in reproduced/)"
            ]
        return []

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def load(cls, path: Path = RECORD) -> Reproduction:
        """The record `python -m ratchet reproduce` wrote; without one, nothing was reproduced."""
        try:
            raw = json.loads(path.read_text())
            return cls(**raw)
        except FileNotFoundError:
            raise RatchetError(
                f"{path} not found: this branch was not reproduced, so its results prove nothing. "
                "Run `python -m ratchet reproduce` first (make pr-check runs both)"
            ) from None
        except (json.JSONDecodeError, TypeError) as exc:
            raise RatchetError(
                f"{path} is not a reproduction record ({exc}): reproduce again"
            ) from None


def _entries(stage: dict[str, Any], section: str) -> dict[str, str | None]:
    return {
        str(entry.get("path")): entry.get("md5")
        for entry in stage.get(section) or []
        if isinstance(entry, dict)
    }


def _params(stage: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for file, values in (stage.get("params") or {}).items():
        for name, value in flatten(values if isinstance(values, dict) else {}).items():
            flat[f"{file}: {name}"] = value
    return flat


def _changed(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))


def compare_locks(
    committed: dict[str, Any], reproduced: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """What the committed lock records differently from the reproduced one: (stale, differs).

    Stale: a stage, command, dep or param the reproduction does not match (a dep that another
    stage outputs is left out: it changed because its stage's inputs did). Differs: an output
    whose recorded hash is not the one the reproduction wrote.
    """
    old_stages = committed.get("stages") or {}
    new_stages = reproduced.get("stages") or {}
    made = {path for stage in new_stages.values() for path in _entries(stage, "outs")}

    def upstream(path: str) -> bool:
        return any(path == out or path.startswith(f"{out}/") for out in made)

    stale: list[str] = []
    differs: list[str] = []
    for name in sorted(set(old_stages) | set(new_stages)):
        old, new = old_stages.get(name), new_stages.get(name)
        if old is None or new is None:
            stale.append(f"stage {name} ({'new' if old is None else 'removed'})")
            continue
        if old.get("cmd") != new.get("cmd"):
            stale.append(f"stage {name}'s command")
        deps = _changed(_entries(old, "deps"), _entries(new, "deps"))
        stale += [path for path in deps if not upstream(path)]
        stale += _changed(_params(old), _params(new))
        differs += _changed(_entries(old, "outs"), _entries(new, "outs"))
    return sorted(set(stale)), sorted(set(differs))


def _run(command: list[str], **env: str) -> None:
    """Run a long command with its output shown as it goes, with this Python first on PATH (the
    stages' commands say `python`) and `env` added to the environment."""
    run(command, env={**this_python_first(), **env}, show=True)


def pull_data() -> None:
    """Fetch the data that data.dvc names, and nothing else (`dvc pull data.dvc`).

    One of the tests' two seams in the check, with `rerun_stages`: a test of the judgement rather
    than of DVC runs the same `dvc pull` through DVC's entry point in its own process."""
    _run([sys.executable, "-m", "dvc", "pull", "--quiet", str(DATA_DVC_FILE)])


def rerun_stages(tracking: str) -> None:
    """Run every stage again, whatever dvc.lock records (`dvc repro --force`: no cache or remote
    stands in for a stage), with RATCHET_TRACKING set to `tracking`.

    One of the tests' two seams in the check, with `pull_data`: a test of the judgement rather
    than of DVC puts the same stage commands in this one's place, forked from a process that has
    imported them (`stages_here` in tests/conftest.py)."""
    _run([sys.executable, "-m", "dvc", "repro", "--force"], RATCHET_TRACKING=tracking)


def tracking() -> str:
    """RATCHET_TRACKING for the reproduction's evaluate stage: log the run to MLflow only where it
    outlives the reproduction, a server that MLFLOW_TRACKING_URI names (a CI runner's local store
    is thrown away with the runner), unless RATCHET_TRACKING says otherwise."""
    default = "on" if os.environ.get("MLFLOW_TRACKING_URI") else "off"
    return os.environ.get("RATCHET_TRACKING") or default


def untrusted_files(tracked: list[str]) -> list[str]:
    """Why committed files must not enter the check, one reason per kind, naming the files."""
    reasons = []
    hooks = [path for path in tracked if Path(path).name in STARTUP_HOOKS or path.endswith(".pth")]
    if hooks:
        reasons.append(
            f"{', '.join(hooks)}: Python startup hooks (sitecustomize, usercustomize, .pth) would "
            "run inside the check; remove them"
        )
    if LOCAL_DVC_CONFIG in tracked:
        reasons.append(
            f"{LOCAL_DVC_CONFIG} is committed: it would choose the DVC remote the check pulls "
            "from; remove it (the project's remote is in .dvc/config)"
        )
    outputs = [path for path, cached in stage_outputs().items() if cached]
    standing_in = [
        path
        for path in tracked
        if any(path == out or path.startswith(f"{out}/") for out in outputs)
        or path.startswith(f"{PR_REPORT_DIR.as_posix()}/")
    ]
    if standing_in:
        reasons.append(
            f"{', '.join(standing_in)}: committed in place of what the check makes (stage outputs "
            f"live in the DVC cache, reports in {PR_REPORT_DIR}/ are written by the check); "
            "remove them from git"
        )
    return reasons


def uncommitted_outputs() -> list[str]:
    """The committed outputs (`cache: false`) whose reproduced files differ from HEAD's, or that
    HEAD lacks: a deleted reports/metrics.json is not a base without metrics."""
    paths = committed_outputs()
    if not paths:
        return []
    status = git_call("status", "--porcelain", "-z", "--untracked-files=all", "--", *paths)
    if status.returncode != 0:
        raise RatchetError(f"`git status` failed: {status.stderr.strip()}")
    return sorted({entry[3:] for entry in status.stdout.split("\0") if entry})


def reproduce() -> Reproduction:
    """Refuse untrusted files, pull the data (only the data) and re-hash it against data.dvc, run
    every stage again (`dvc repro --force`: no cache or remote stands in for a stage), then compare
    the lock and the committed outputs at HEAD with what the run wrote. Writes the record and the
    reproduced results to reports/pr/, whatever the verdict."""
    for old in (RECORD, REPRODUCED):
        if old.is_dir():
            shutil.rmtree(old)
        old.unlink(missing_ok=True)
    refused = untrusted_files(tracked_files())
    if refused:
        result = Reproduction(verdict="refused", refused=refused)
        write_all({RECORD: text(result.to_json())})
        return result
    committed_text = show("HEAD", LOCK_FILE)
    try:
        pull_data()
        verify_tracked(DATA_DVC_FILE)
        rerun_stages(tracking())
    except RatchetError as exc:
        result = Reproduction(verdict="failed", error=str(exc))
    else:
        committed = loose_yaml(committed_text)  # a broken lock names no stage: all are stale
        reproduced = yaml.safe_load(LOCK_FILE.read_text()) or {}
        stale, differs = compare_locks(committed, reproduced)
        differs = sorted({*differs, *uncommitted_outputs()})
        if committed_text is None:
            stale = [f"{LOCK_FILE} (not committed)"]
        verdict: Verdict = "stale" if stale else "differs" if differs else "reproduced"
        result = Reproduction(
            verdict=verdict, stale=stale, differs=differs, model_sha256=sha256(MODEL_FILE)
        )
        keep_reproduced()
    write_all({RECORD: text(result.to_json())})
    return result


def keep_reproduced() -> None:
    """Copy the reproduced dvc.lock and the outputs it leaves to git into reports/pr/reproduced/."""
    REPRODUCED.mkdir(parents=True, exist_ok=True)
    shutil.copy2(LOCK_FILE, REPRODUCED / LOCK_FILE.name)
    for output in committed_outputs():
        source = Path(output)
        if source.is_dir():
            shutil.copytree(source, REPRODUCED / source, dirs_exist_ok=True)
        elif source.is_file():
            (REPRODUCED / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, REPRODUCED / source)
