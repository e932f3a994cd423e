"""Holding a committed dvc.lock against the reproduced one: what is stale, what differs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from ratchet.core.errors import RatchetError
from ratchet.pipeline.reproduction import Reproduction, compare_locks, tracking

LOCK: dict[str, Any] = {
    "schema": "2.0",
    "stages": {
        "prepare": {
            "cmd": "python -m ratchet.pipeline prepare",
            "deps": [{"path": "data", "md5": "d1.dir"}, {"path": "src/ratchet/core", "md5": "c1"}],
            "params": {"params.yaml": {"split": {"test_size": 0.2, "seed": 42}}},
            "outs": [{"path": "artifacts/split", "md5": "s1.dir"}],
        },
        "train": {
            "cmd": "python -m ratchet.pipeline train",
            "deps": [{"path": "artifacts/split/train.parquet", "md5": "t1"}],
            "params": {"params.yaml": {"train": {"estimator": "ridge"}}},
            "outs": [{"path": "artifacts/model.joblib", "md5": "m1"}],
        },
    },
}


def changed(**edits: Any) -> dict[str, Any]:
    lock = copy.deepcopy(LOCK)
    for where, value in edits.items():
        stage, section, index, key = where.split("__")
        lock["stages"][stage][section][int(index)][key] = value
    return lock


def test_the_same_lock_is_reproduced() -> None:
    assert compare_locks(LOCK, copy.deepcopy(LOCK)) == ([], [])


def test_changed_deps_and_params_are_stale_and_named() -> None:
    reproduced = changed(prepare__deps__1__md5="c2")
    reproduced["stages"]["train"]["params"]["params.yaml"]["train"]["estimator"] = "ridge2"
    stale, differs = compare_locks(LOCK, reproduced)
    assert stale == ["params.yaml: train.estimator", "src/ratchet/core"]
    assert differs == []


def test_outputs_that_the_code_does_not_make_differ() -> None:
    """A hand-edited metric with its md5, or a lock pointed at another model."""
    stale, differs = compare_locks(changed(train__outs__0__md5="forged"), LOCK)
    assert (stale, differs) == ([], ["artifacts/model.joblib"])


def test_a_new_or_removed_stage_and_a_changed_command_are_stale() -> None:
    reproduced = copy.deepcopy(LOCK)
    reproduced["stages"]["evaluate"] = {"cmd": "python -m ratchet.pipeline evaluate"}
    reproduced["stages"]["train"]["cmd"] = "python -m ratchet.pipeline train --fast"
    stale, _ = compare_locks(LOCK, reproduced)
    assert stale == ["stage evaluate (new)", "stage train's command"]
    assert compare_locks(reproduced, LOCK)[0] == [
        "stage evaluate (removed)",
        "stage train's command",
    ]


def test_a_broken_committed_lock_is_stale_in_every_stage() -> None:
    from ratchet.core.settings import loose_yaml

    stale, _ = compare_locks(loose_yaml("stages: {prepare: ["), LOCK)
    assert stale == ["stage prepare (new)", "stage train (new)"]


def test_problems_say_what_to_do() -> None:
    stale = Reproduction("stale", stale=["src/ratchet/core"]).problems()
    assert stale == [
        "dvc.lock is stale: run make run and commit dvc.lock (src/ratchet/core changed since it "
        "was written)"
    ]
    (differs,) = Reproduction("differs", differs=["reports/metrics.json"]).problems()
    assert differs.startswith(
        "the committed results differ from what this branch's code makes: reports/metrics.json"
    )
    assert Reproduction("reproduced").problems() == []


def test_no_record_means_nothing_was_reproduced(tmp_path: Path) -> None:
    with pytest.raises(RatchetError, match=r"not found: this branch was not reproduced"):
        Reproduction.load(tmp_path / "reproduction.json")
    (tmp_path / "reproduction.json").write_text('{"verdict": "reproduced", "extra": 1}')
    with pytest.raises(RatchetError, match="is not a reproduction record"):
        Reproduction.load(tmp_path / "reproduction.json")


def test_a_dep_that_another_stage_outputs_is_a_consequence_not_a_cause() -> None:
    """New data changes the split (prepare's output), hence train's dep: only data is named."""
    reproduced = changed(prepare__deps__0__md5="d2.dir", prepare__outs__0__md5="s2.dir")
    reproduced["stages"]["train"]["deps"][0]["md5"] = "t2"
    stale, differs = compare_locks(LOCK, reproduced)
    assert stale == ["data"] and differs == ["artifacts/split"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "off"),  # a runner's local store would be thrown away
        ({"RATCHET_TRACKING": ""}, "off"),  # empty is unset
        ({"MLFLOW_TRACKING_URI": "https://mlflow.example.com"}, "on"),
        ({"RATCHET_TRACKING": "on"}, "on"),
        ({"MLFLOW_TRACKING_URI": "https://mlflow.example.com", "RATCHET_TRACKING": "off"}, "off"),
    ],
)
def test_a_reproduction_logs_to_mlflow_only_where_the_run_outlives_it(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MLFLOW_TRACKING_URI", "RATCHET_TRACKING"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert tracking() == expected
