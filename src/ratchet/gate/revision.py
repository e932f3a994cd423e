"""One commit as the gate sees it, read from git once: its params, lock, metrics and data version;
and the anchor, the model a series of small regressions is also held against.

The gate reads the base branch's files for its rules, its model, its recorded metrics and the
report's diffs. Reading them here, once, with one parser, means every part judges the same text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from ratchet.core.dvc import locked_md5, recorded_md5
from ratchet.core.errors import RatchetError
from ratchet.core.git import git, show
from ratchet.core.metrics import parse_metrics
from ratchet.core.paths import (
    DATA_DVC_FILE,
    DATA_SUMMARY_FILE,
    LOCK_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PARAMS_FILE,
)
from ratchet.core.settings import (
    DataParams,
    GateParams,
    format_validation_error,
    loose_yaml,
    parse_yaml,
)

RELEASE_TAGS = "v*"


@dataclass(frozen=True)
class Revision:
    """A commit's params.yaml, dvc.lock, metrics and data.dvc, as git holds them."""

    commit: str
    params_text: str | None
    lock: dict[str, Any]
    metrics_text: str | None
    data_dvc: dict[str, Any]
    data_summary: str | None = field(default=None, repr=False)

    @classmethod
    def read(cls, commit: str) -> Revision:
        return cls(
            commit=commit,
            params_text=show(commit, PARAMS_FILE),
            lock=loose_yaml(show(commit, LOCK_FILE)),
            metrics_text=show(commit, METRICS_FILE),
            data_dvc=loose_yaml(show(commit, DATA_DVC_FILE)),
            data_summary=show(commit, DATA_SUMMARY_FILE),
        )

    @property
    def short(self) -> str:
        return self.commit[:12]

    @cached_property
    def params(self) -> dict[str, Any]:
        """params.yaml as a mapping; {} when it is missing or broken (`rules` says which)."""
        return loose_yaml(self.params_text)

    def rules(self) -> GateParams | None:
        """The commit's `gate:` section; None without one; a RatchetError when it is broken."""
        where = f"{self.short}:{PARAMS_FILE}"
        if self.params_text is None:
            return None
        section = parse_yaml(self.params_text, where).get("gate")
        if section is None:
            return None
        try:
            return GateParams.model_validate(section)
        except ValidationError as exc:
            raise RatchetError(
                format_validation_error(PARAMS_FILE, exc).replace(str(PARAMS_FILE), where, 1)
            ) from None

    @cached_property
    def data(self) -> DataParams | None:
        """The `data:` section (target, task, features); None if it has none or it is bad."""
        try:
            return DataParams.model_validate(self.params.get("data"))
        except ValidationError:
            return None

    @property
    def metric_names(self) -> set[str]:
        gate = self.params.get("gate")
        metrics = gate.get("metrics") if isinstance(gate, dict) else None
        return set(metrics) if isinstance(metrics, dict) else set()

    @property
    def model_md5(self) -> str | None:
        """The model the commit's dvc.lock names: None means the commit has no model yet."""
        return locked_md5(self.lock, MODEL_FILE)

    def metrics(self) -> dict[str, float] | None:
        """The recorded metrics, None when the commit has none; a RatchetError when broken."""
        if self.metrics_text is None:
            return None
        return parse_metrics(self.metrics_text, f"{self.short}:{METRICS_FILE}")

    @property
    def data_md5(self) -> str | None:
        return recorded_md5(self.data_dvc)

    @property
    def data_rows(self) -> int | None:
        return summary_rows(self.data_summary)


def summary_rows(summary: str | None) -> int | None:
    """The row count in a data summary (reports/data.json), None when it has none."""
    try:
        rows = json.loads(summary).get("rows") if summary else None
    except (json.JSONDecodeError, AttributeError):
        return None
    return rows if isinstance(rows, int) else None


def cannot_compare(old: Revision, data: DataParams | None, metrics: set[str]) -> str | None:
    """Why a model of `old` cannot be judged against one made with `data` and gated by `metrics`:
    a change of target, task or metric set; None if it can be."""
    if old.data is None or data is None:
        return "a params.yaml without a valid data section"
    if old.data.task != data.task:
        return f"the task changed from {old.data.task} to {data.task}"
    if old.data.target != data.target:
        return f"the target changed from {old.data.target!r} to {data.target!r}"
    if old.metric_names != metrics:
        return (
            f"the gated metrics changed from {', '.join(sorted(old.metric_names)) or 'none'} to "
            f"{', '.join(sorted(metrics)) or 'none'}"
        )
    return None


@dataclass(frozen=True)
class Anchor:
    """The model the ratchet holds: the newest release's, or the first after the last reset."""

    revision: Revision
    why: str  # in plain words, for the report


def release_tags() -> dict[str, str]:
    """Each commit that a `v*` tag points at, and its tag (the newest name when several do)."""
    listing = git(
        "for-each-ref",
        "--sort=-creatordate",
        "--format=%(objectname) %(*objectname) %(refname:short)",
        f"refs/tags/{RELEASE_TAGS}",
    )
    tags: dict[str, str] = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 3:  # an annotated tag: the commit it points at is the second
            commit, name = parts[1], parts[2]
        elif len(parts) == 2:
            commit, name = parts
        else:
            continue
        tags.setdefault(commit, name)
    return tags


def find_anchor(base: Revision) -> Anchor | None:
    """The anchor for a pull request into `base`, walking base's first-parent history (the
    commits main has been, newest first):

    - the newest commit a `v*` release tag points at;
    - before any release, the first commit with a model since the data, target, task or metric
      set last changed (what a baseline reset may approve), or since the first model.

    None when base has no model. A change of data ends the walk too: a model trained on other
    data may have trained on the rows that are now the test rows, and would then look better
    than any model that cannot have.
    """
    if base.model_md5 is None:
        return None
    tags = release_tags()
    history = git("rev-list", "--first-parent", base.commit).split()
    # Between two commits that change params.yaml, dvc.lock or data.dvc the model, the data and
    # the rules are the same: only those commits, and tagged ones, need reading.
    changes = git(
        "log",
        "--first-parent",
        "--format=%H",
        base.commit,
        "--",
        *(str(path) for path in (PARAMS_FILE, LOCK_FILE, DATA_DVC_FILE)),
    ).split()
    worth_reading = {*changes, *tags}
    newer, why = base, "the first model (no release yet)"
    for commit in history:
        if commit != base.commit and commit not in worth_reading:
            continue
        revision = base if commit == base.commit else Revision.read(commit)
        if revision.model_md5 is None:
            break  # before the first model: `newer` is the first
        if revision.data_md5 != newer.data_md5 or cannot_compare(
            revision, newer.data, newer.metric_names
        ):
            why = (
                "the first model since the data, target, task or metrics changed (no release since)"
            )
            break  # a reset: `newer` is the first model after it
        if commit in tags:
            return Anchor(revision, f"the newest release, {tags[commit]}")
        newer = revision
    return Anchor(newer, why)
