"""What a pull request writes is never what the check judges: forged metrics, a lock pointed at
another model, a stale lock and a broken training all fail, with a report (an unknown base, in
test_pr_loop.py, too)."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from tests.conftest import Project
from tests.gate.conftest import branch, pr_check, set_train

pytestmark = pytest.mark.slow


def lock_entry(project: Project, path: str) -> dict[str, object]:
    lock = yaml.safe_load(project.read("dvc.lock"))
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            if out["path"] == path:
                return out  # type: ignore[no-any-return]
    raise AssertionError(f"dvc.lock has no {path}")


def set_lock_entry(project: Project, path: str, **fields: object) -> None:
    lock = yaml.safe_load(project.read("dvc.lock"))
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            if out["path"] == path:
                out.update(fields)
    (project.path / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))


def test_hand_edited_metrics_with_their_md5_fail(loop: Project) -> None:
    branch(loop, "forged-metrics")
    metrics = json.loads(loop.read("reports/metrics.json"))
    forged = json.dumps({**metrics, "rmse": metrics["rmse"] / 2}, indent=2) + "\n"
    (loop.path / "reports/metrics.json").write_text(forged)
    set_lock_entry(
        loop, "reports/metrics.json", md5=hashlib.md5(forged.encode()).hexdigest(), size=len(forged)
    )
    loop.commit("better metrics, by hand")
    loop.dvc("status", "--quiet")  # DVC sees nothing amiss (it exits 1 on a change)

    result, gate = pr_check(loop)
    assert result.returncode != 0 and gate["verdict"] == "fail"
    (problem,) = gate["problems"]
    assert problem.startswith(
        "the committed results differ from what this branch's code makes: reports/metrics.json"
    )
    assert json.loads(loop.read("reports/metrics.json")) == metrics  # judged: the reproduction
    report = loop.read("reports/pr/report.md")
    assert report.startswith(
        "## ❌ Metrics gate failed against `main`: the committed results differ"
    )
    reproduced = json.loads(loop.read("reports/pr/reproduced/reports/metrics.json"))
    assert reproduced == metrics  # what to commit instead, in the check's artifact


def test_a_lock_pointed_at_another_model_in_the_remote_fails_and_that_model_is_never_fetched(
    loop: Project,
) -> None:
    branch(loop, "other-model")
    set_train(loop, max_iter=5)
    loop.repro()
    loop.dvc("push", "-q")  # the other model now sits in the remote and the cache
    other = lock_entry(loop, "artifacts/model.joblib")
    branch(loop, "pointed")
    set_lock_entry(loop, "artifacts/model.joblib", md5=other["md5"], size=other["size"])
    loop.commit("a model from elsewhere")

    result, gate = pr_check(loop)
    assert result.returncode != 0
    assert gate["problems"][0].startswith(
        "the committed results differ from what this branch's code makes: artifacts/model.joblib"
    )
    trained = hashlib.md5((loop.path / "artifacts/model.joblib").read_bytes()).hexdigest()
    assert trained != other["md5"]  # retrained from this branch's code, not fetched


def test_a_stale_lock_fails_naming_what_changed(loop: Project) -> None:
    branch(loop, "stale")
    set_train(loop, max_iter=40)
    loop.commit("a new hyperparameter, without dvc repro")
    result, gate = pr_check(loop)
    assert result.returncode != 0
    assert gate["problems"] == [
        "dvc.lock is stale: run make run and commit dvc.lock (params.yaml: "
        "train.hyperparameters.max_iter changed since it was written)"
    ]
    assert "reproduce: FAIL (stale)" in result.stdout


def test_failed_training_fails_closed_with_a_report(loop: Project) -> None:
    branch(loop, "broken")
    set_train(loop, max_iter="many")
    loop.commit("a typo")
    result, gate = pr_check(loop)
    assert result.returncode != 0 and gate["verdict"] == "fail"
    assert gate["problems"][0].startswith("the pipeline could not be reproduced: ")
    assert "> [!CAUTION]" in loop.read("reports/pr/report.md")
