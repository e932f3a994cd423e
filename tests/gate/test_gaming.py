"""A pull request that games the gate, the ways it was tried, on real branches: each fails its
check and the message names the cause."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import Project, regression_frame
from tests.gate.conftest import branch, checks, pr_check, set_train
from tests.stand_ins import actions_env

pytestmark = pytest.mark.slow


def problems(gate: dict[str, object]) -> str:
    return " | ".join(gate["problems"])  # type: ignore[arg-type]


def test_a_startup_hook_fails_the_check_by_name(loop: Project) -> None:
    branch(loop, "hook")
    (loop.path / "src/sitecustomize.py").write_text("import os  # would patch the judge\n")
    (loop.path / "src/extra.pth").write_text("import os\n")
    loop.commit("a helpful start-up file")
    result, gate = pr_check(loop)
    assert result.returncode != 0 and gate["verdict"] == "fail"
    assert "reproduce: FAIL (refused)" in result.stdout
    assert "refused before anything ran: src/extra.pth, src/sitecustomize.py: Python startup " in (
        problems(gate)
    )
    assert not (loop.path / "reports/pr/reproduced").exists()  # nothing ran


def test_deleting_the_metrics_fails_and_a_base_without_them_is_no_bootstrap(
    loop: Project,
) -> None:
    branch(loop, "no-metrics")
    loop.git("rm", "-q", "reports/metrics.json")
    loop.commit("tidy up")
    result, gate = pr_check(loop)
    assert result.returncode != 0
    assert "the committed results differ from what this branch's code makes: " in problems(gate)
    assert "reports/metrics.json" in problems(gate)

    # Had it merged anyway, the next pull request is still compared: main has a model.
    loop.git("checkout", "-q", "-b", "worse-after-no-metrics")
    set_train(loop, max_iter=3)
    loop.repro()
    loop.commit("fewer trees")
    result, gate = pr_check(loop, base="no-metrics")
    assert "BOOTSTRAP" not in result.stdout
    assert gate["basis"] == "paired" and not checks(gate)["rmse"]["passed"]


def data_object(project: Project, remote: Path) -> Path:
    """The remote's object for data/table.csv, by the listing of the data folder data.dvc names."""
    folder = yaml.safe_load(project.read("data.dvc"))["outs"][0]["md5"]
    listing = remote / "files/md5" / folder[:2] / folder[2:]
    (entry,) = [e for e in json.loads(listing.read_text()) if e["relpath"] == "table.csv"]
    return remote / "files/md5" / entry["md5"][:2] / entry["md5"][2:]


def test_poisoned_data_under_the_recorded_md5_fails_by_name(loop: Project) -> None:
    branch(loop, "poisoned-config")
    loop.dvc("push", "-q", "data.dvc")
    remote = loop.path.parent / "remote"
    copy = loop.path.parent / "poisoned-remote"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(remote, copy)
    poisoned = data_object(loop, copy)
    frame = pd.read_csv(poisoned)
    frame["price"] = frame["price"] / 2
    poisoned.chmod(0o644)
    frame.to_csv(poisoned, index=False)
    own = (loop.path / ".dvc/config.local").read_text()  # this module's remote
    (loop.path / ".dvc/config.local").write_text(f"['remote \"local\"']\n    url = {copy}\n")
    loop.git("add", "-f", ".dvc/config.local")
    loop.commit("a faster mirror")
    result, gate = pr_check(loop)
    assert result.returncode != 0
    assert ".dvc/config.local is committed: it would choose the DVC remote" in problems(gate)
    loop.git("rm", "-q", "--cached", ".dvc/config.local")
    (loop.path / ".dvc/config.local").write_text(own)
    loop.commit("no mirror")

    # The same poisoned object in the project's own remote: the pulled data is re-hashed.
    branch(loop, "poisoned-remote")
    original = data_object(loop, remote)
    kept = original.read_bytes()
    original.chmod(0o644)
    original.write_bytes(poisoned.read_bytes())
    cache, saved = loop.path / ".dvc/cache", loop.path.parent / "cache-before"
    try:
        shutil.rmtree(saved, ignore_errors=True)
        cache.rename(saved)  # a runner's empty cache; the models come back afterwards
        shutil.rmtree(loop.path / "data")
        result, gate = pr_check(loop)
    finally:
        original.write_bytes(kept)
    assert result.returncode != 0 and gate["verdict"] == "fail"
    said = problems(gate)
    assert "the pipeline could not be reproduced: data does not hash to what data.dvc " in said
    assert "data/table.csv changed after it was committed, or the DVC remote" in said
    assert "passed" not in loop.read("reports/pr/report.md").splitlines()[0]
    # nor is main's model retrained from the poisoned cache
    assert "was refused: data does not hash to what data.dvc records" in gate["basis_note"]
    shutil.rmtree(cache)  # the good objects back, for the next tests
    saved.rename(cache)
    shutil.rmtree(loop.path / "data")  # DVC took the pulled, poisoned file for the good one
    loop.dvc("checkout", "-q", "--force")


def test_a_baseline_reset_is_refused_without_grounds_and_the_bases_floors_hold(
    loop: Project, tmp_path: Path
) -> None:
    branch(loop, "reset-without-grounds")
    set_train(loop, max_iter=3)
    loop.repro()
    loop.commit("fewer trees, and please reset")
    labelled = {
        "action": "labeled",
        "label": {"name": "baseline-reset"},
        "pull_request": {"number": 8, "head": {"sha": "b" * 40}, "labels": []},
    }
    env = actions_env(tmp_path / "runner", labelled)
    result, gate = pr_check(loop, env=env)
    assert result.returncode != 0 and gate["verdict"] == "fail"
    assert "the label `baseline-reset` was refused: this pull request changes neither" in (
        result.stdout
    )
    assert not checks(gate)["rmse"]["passed"]

    # New data is grounds for a reset, but not for the pull request's own lower floor.
    branch(loop, "reset-with-a-lower-floor")
    noisy = regression_frame()
    noisy["price"] = noisy["price"].sample(frac=1, random_state=1).to_numpy()  # no signal
    loop.write_data(noisy)
    params = loop.params
    params["gate"]["metrics"]["r2"]["min"] = -10.0
    loop.set_params(params)
    loop.dvc("add", "-q", "data")
    loop.repro()
    loop.commit("other data, a lower floor")
    result, gate = pr_check(loop, env=env)
    assert "baseline reset approved because the data changed" in result.stdout
    assert gate["verdict"] == "fail" and gate["thresholds_from"] == "base"
    (reason,) = checks(gate)["r2"]["reasons"]
    assert reason.endswith("is below the floor 0.5")


def test_committed_stand_ins_and_a_failed_pull_never_pass(loop: Project) -> None:
    branch(loop, "stand-ins")
    record = {"verdict": "reproduced", "stale": [], "differs": []}
    (loop.path / "reports/pr").mkdir(parents=True, exist_ok=True)
    (loop.path / "reports/pr/reproduction.json").write_text(json.dumps(record))
    loop.git("add", "-f", "reports/pr/reproduction.json", "artifacts/model.joblib")
    loop.commit("results, to save CI the trouble")
    result, gate = pr_check(loop)
    assert result.returncode != 0
    assert "artifacts/model.joblib, reports/pr/reproduction.json: committed in place of" in (
        problems(gate)
    )

    branch(loop, "unpullable")
    dvc_file = yaml.safe_load(loop.read("data.dvc"))
    dvc_file["outs"][0]["md5"] = "0" * 32 + ".dir"  # data no remote holds
    (loop.path / "data.dvc").write_text(yaml.safe_dump(dvc_file))
    loop.commit("data from somewhere")
    shutil.rmtree(loop.path / "data")
    result, gate = pr_check(loop, real_pull=True)  # what the real `dvc pull` says
    assert result.returncode != 0 and gate["verdict"] == "fail"
    assert "the pipeline could not be reproduced: `dvc pull --quiet data.dvc` failed" in (
        problems(gate)
    )
    report = loop.read("reports/pr/report.md")
    assert report.startswith("## ❌ Metrics gate failed") and "passed" not in report.splitlines()[0]
    loop.git("checkout", "-q", "-f", "main")
    loop.dvc("checkout", "-q", "--force")
