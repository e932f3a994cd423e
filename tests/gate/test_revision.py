"""The anchor, found in a real git history of params.yaml, dvc.lock and data.dvc: the newest
release, or the first model since the data, target, task or metrics last changed."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ratchet.gate.revision import Revision, find_anchor
from tests.conftest import GATES, REGRESSION_DATA, small_params


class History:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
        return subprocess.run(
            command, cwd=self.folder, check=True, capture_output=True, text=True
        ).stdout.strip()

    def commit(self, model: str | None, data: str = "d1.dir", **changes: Any) -> str:
        """A commit whose lock names `model` (None: no model yet), on data `data`."""
        params = small_params(REGRESSION_DATA)
        params["data"].update(changes.get("data_params", {}))
        params["gate"] = {"metrics": changes.get("metrics", GATES["regression"])}
        outs = [] if model is None else [{"path": "artifacts/model.joblib", "md5": model}]
        lock = {"schema": "2.0", "stages": {"train": {"cmd": "train", "outs": outs}}}
        files = {
            "params.yaml": params,
            "dvc.lock": lock,
            "data.dvc": {"outs": [{"md5": data, "path": "data"}]},
        }
        for name, content in files.items():
            (self.folder / name).write_text(yaml.safe_dump(content))
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", f"model {model}")
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    with contextlib.chdir(tmp_path):
        yield History(tmp_path)


def anchor_of(history: History) -> tuple[str, str]:
    anchor = find_anchor(Revision.read(history.git("rev-parse", "HEAD")))
    assert anchor is not None
    return str(anchor.revision.model_md5), anchor.why


def test_before_any_release_the_anchor_is_the_first_model(history: History) -> None:
    history.commit(None)
    assert find_anchor(Revision.read(history.git("rev-parse", "HEAD"))) is None  # bootstrap
    history.commit("a")
    history.commit("b")
    (history.folder / "README.md").write_text("docs\n")
    history.commit("b")
    assert anchor_of(history) == ("a", "the first model (no release yet)")


def test_the_newest_release_is_the_anchor(history: History) -> None:
    history.commit("a")
    history.commit("b")
    history.git("tag", "-a", "v1.0.0", "-m", "first")
    history.commit("c")
    history.git("tag", "v1.1.0")
    history.commit("d")
    assert anchor_of(history) == ("c", "the newest release, v1.1.0")


def test_a_change_of_data_target_or_metrics_starts_the_count_again(history: History) -> None:
    history.commit("a")
    history.git("tag", "v1.0.0")
    history.commit("b")
    history.commit("c", data="d2.dir")  # the model before it may have trained on d2's test rows
    history.commit("d", data="d2.dir")
    since = "the first model since the data, target, task or metrics changed (no release since)"
    assert anchor_of(history) == ("c", since)
    history.commit("e", data="d2.dir", data_params={"target": "age", "numeric": ["size"]})
    history.commit("f", data="d2.dir", data_params={"target": "age", "numeric": ["size"]})
    assert anchor_of(history) == ("e", since)
    metrics = {"rmse": {"better": "lower"}}
    history.commit(
        "g", data="d2.dir", data_params={"target": "age", "numeric": ["size"]}, metrics=metrics
    )
    assert anchor_of(history) == ("g", since)
