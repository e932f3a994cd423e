"""The pull-request check end to end, on real branches: `reproduce` retrains from scratch and holds
the committed dvc.lock against the reproduction, then `gate` scores main's model and the branch's
on the branch's test rows (the commands `make pr-check` runs; `pr_check` in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import (
    CLASSIFICATION_DATA,
    Project,
    classification_frame,
    regression_frame,
    small_params,
)
from tests.gate.conftest import branch, checks, pr_check, set_train
from tests.stand_ins import actions_env

pytestmark = pytest.mark.slow


def test_a_readme_only_change_passes_on_identical_models_and_fails_against_an_unknown_base(
    loop: Project,
) -> None:
    branch(loop, "docs")
    (loop.path / "README.md").write_text("A note.\n")
    loop.commit("docs only")
    result, gate = pr_check(loop)
    assert result.returncode == 0, result.stdout + result.stderr
    # training is deterministic: the forced repro made main's model again, byte for byte
    assert "reproduce: dvc.lock is what this branch's code, data and params make" in result.stdout
    assert gate["verdict"] == "pass" and gate["basis"] == "paired"
    rmse = checks(gate)["rmse"]
    assert rmse["delta"] == rmse["low"] == rmse["high"] == 0  # the very same model
    assert "both models on this branch's 60 test rows" in gate["basis_note"]

    # The same reproduced branch, judged against a base git does not know: it fails closed.
    unknown = loop.here("gate", "--base", "no-such-branch")
    assert unknown.returncode == 1
    assert "unknown base revision 'no-such-branch'" in unknown.stdout
    gate = json.loads(loop.read("reports/pr/gate.json"))
    assert gate["verdict"] == "fail" and gate["basis"] == "none"


def test_an_improved_model_passes(loop: Project) -> None:
    branch(loop, "better")
    set_train(loop, max_iter=150)
    loop.repro()
    loop.commit("more trees")
    result, gate = pr_check(loop, env={"RATCHET_TRACKING": ""})  # unset, as outside the tests
    assert result.returncode == 0, result.stdout
    assert "gate: PASS against main" in result.stdout
    # with no MLFLOW_TRACKING_URI, the reproduction's run would go with the runner
    assert "evaluate: not logged to MLflow (RATCHET_TRACKING=off)" in result.stdout
    rmse = checks(gate)["rmse"]
    assert rmse["new"] < rmse["base"] and rmse["low"] <= rmse["delta"] <= rmse["high"]
    report = loop.read("reports/pr/report.md")
    assert report.startswith("## ✅ Metrics gate passed against `main`")
    assert "```mermaid" in report and "https://" not in report


def test_a_weaker_model_fails_under_mains_thresholds_though_the_pr_loosens_them(
    loop: Project,
) -> None:
    branch(loop, "worse")
    set_train(loop, max_iter=3)
    params = loop.params
    params["gate"]["metrics"]["rmse"]["max_regression_pct"] = 1000
    loop.set_params(params)
    loop.repro()
    loop.commit("fewer trees, and a looser gate")
    result, gate = pr_check(loop)
    assert result.returncode != 0 and gate["thresholds_from"] == "base"
    rmse = checks(gate)["rmse"]
    assert not rmse["passed"] and rmse["low"] > 0  # worse beyond doubt
    (reason,) = rmse["reasons"]
    assert reason.startswith(f"rmse regressed {rmse['base']:.6g} → {rmse['new']:.6g} (by ")
    # main's 30 %, not the pull request's 1000 %
    assert "95% interval of the change +" in reason and reason.endswith("allowed 30 %")
    assert reason in result.stdout
    report = loop.read("reports/pr/report.md")
    assert report.startswith("## ❌ Metrics gate failed against `main`: `rmse`")
    assert "| `train.hyperparameters.max_iter` | `30` | `3` |" in report


def test_a_model_that_hurts_one_slice_only_fails_on_that_slice(loop: Project) -> None:
    """Blue rows' prices in the training window are off by 2.5: the model learns them wrong, the
    test window (where they are right) shows it for blue only."""
    branch(loop, "blue")
    frame = regression_frame()
    training = (frame["colour"] == "blue") & (frame["when"] < 180)
    frame.loc[training, "price"] += 2.5
    loop.write_data(frame)
    loop.dvc("add", "-q", "data")
    loop.repro()
    loop.commit("a bad export of blue")
    result, gate = pr_check(loop)
    assert result.returncode != 0, result.stdout
    assert checks(gate)["rmse"]["passed"]  # on the whole, within the limit
    failed = [(s["name"], s["value"]) for s in gate["slices"] if not s["passed"]]
    assert failed == [("rmse", "blue")]
    assert "FAIL slice rmse where colour is 'blue' regressed" in result.stdout
    report = loop.read("reports/pr/report.md")
    assert "`rmse where colour = blue`" in report.splitlines()[0]


def test_a_data_refresh_is_judged_on_the_new_window_for_both_models(loop: Project) -> None:
    branch(loop, "refresh")
    new = regression_frame(rows=60, seed=9).assign(when=lambda f: f["when"] + 240)
    loop.write_data(pd.concat([regression_frame(), new], ignore_index=True))
    loop.dvc("add", "-q", "data")
    loop.repro()
    loop.commit("a month more data")
    _, gate = pr_check(loop)
    assert gate["basis"] == "paired" and gate["rows"] == 75  # the latest 25 % of 300 rows
    recorded = json.loads(loop.git("show", "main:reports/metrics.json"))
    rmse = checks(gate)["rmse"]
    assert rmse["base"] != pytest.approx(recorded["rmse"])  # main's model, on the new rows
    assert "both models on this branch's 75 test rows" in loop.read("reports/pr/report.md")


def test_new_data_that_mains_model_refuses_needs_a_baseline_reset(loop: Project) -> None:
    """A refresh brings a colour main's model never saw (its policy: refuse): the two models
    cannot share rows, and main's recorded metrics were measured on other rows (the old window),
    so the gate fails, naming why and the label that approves new data."""
    branch(loop, "purple")
    new = regression_frame(rows=60, seed=9).assign(when=lambda f: f["when"] + 240, colour="purple")
    loop.write_data(pd.concat([regression_frame(), new], ignore_index=True))
    loop.dvc("add", "-q", "data")
    loop.repro()
    loop.commit("a month more data, in a new colour")
    result, gate = pr_check(loop)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode != 0 and gate["verdict"] == "fail"
    assert gate["basis"] == "recorded"
    assert "because the base's model refuses this branch's test rows (" in gate["basis_note"]
    assert "purple" in gate["basis_note"]
    assert any(
        "and the data of this branch differs from the base's, so the two recorded metrics were "
        "measured on different test rows: a maintainer approves new data as a baseline reset "
        "with the label `baseline-reset`" in problem
        for problem in gate["problems"]
    ), gate["problems"]


def test_a_dropped_feature_is_judged_on_recorded_metrics_only_on_the_bases_own_rows(
    loop: Project,
) -> None:
    """Without a feature main's model reads, the two models cannot share rows: main's recorded
    metrics stand in, which is fair only on the same test rows. A split of this branch's own
    (easier rows, say) fails the check instead of being judged against rows it chose."""
    branch(loop, "without-age")
    params = loop.params
    params["data"]["numeric"].remove("age")
    loop.set_params(params)
    loop.repro()
    loop.commit("no age")
    _, gate = pr_check(loop)
    assert gate["basis"] == "recorded", gate
    assert "drops the feature(s) age the base model reads" in gate["basis_note"]
    assert gate["problems"] == []

    params["split"] = {**params["split"], "method": "random", "test_size": 0.1}
    loop.set_params(params)
    loop.repro()
    loop.commit("no age, and other test rows")
    result, gate = pr_check(loop)
    assert result.returncode != 0 and gate["verdict"] == "fail"
    assert gate["problems"] == [
        "the base's model cannot be scored on this branch's rows (this pull request drops the "
        "feature(s) age the base model reads), and the split of this branch differs from the "
        "base's, so the two recorded metrics were measured on different test rows: change the "
        "split in a pull request of its own, where both models are scored on the new rows"
    ]


def test_a_forkers_own_data_lands_through_a_baseline_reset(loop: Project, tmp_path: Path) -> None:
    """New data, a new target and task: nothing can be compared, so the gate fails until a
    maintainer labels the pull request baseline-reset; after the merge, the ratchet holds again."""
    branch(loop, "own-data")
    loop.write_data(classification_frame())
    params = small_params(CLASSIFICATION_DATA)
    params["gate"] = {"metrics": {"accuracy": {"better": "higher", "max_regression": 0.05}}}
    loop.set_params(params)
    loop.dvc("add", "-q", "data")
    loop.repro()
    loop.commit("our own data")
    result, gate = pr_check(loop)
    assert result.returncode != 0
    reasons = [reason for check in gate["checks"] for reason in check["reasons"]]
    assert reasons[0] == (
        "this branch's task does not report rmse: a change of data, target, task or metrics is a "
        "baseline reset: a maintainer approves it with the label `baseline-reset` on the pull "
        "request's latest commit"
    )

    pull_request = {"number": 7, "head": {"sha": "a" * 40}, "base": {"ref": "main"}}
    pull_request["labels"] = [{"name": "documentation"}, {"name": "baseline-reset"}]
    # a push after the label: the label is still on, but it approved another commit
    pushed = {"action": "synchronize", "pull_request": pull_request}
    later = loop.here("gate", "--base", "main", env=actions_env(tmp_path / "a", pushed))
    assert later.returncode == 1 and "gate: FAIL against main" in later.stdout
    assert "was given before the latest push, so it approves nothing here" in later.stdout

    labelled = {
        "action": "labeled",
        "label": {"name": "baseline-reset"},
        "pull_request": pull_request,
    }
    reset = loop.here("gate", "--base", "main", env=actions_env(tmp_path / "b", labelled))
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert "gate: BASELINE RESET against main" in reset.stdout
    assert "baseline reset approved because the task changed from regression to classification" in (
        reset.stdout
    )
    gate = json.loads(loop.read("reports/pr/gate.json"))
    # the metric set changed too: the base's bounds name other metrics, this branch's apply
    assert gate["verdict"] == "reset" and gate["thresholds_from"] == "branch"
    assert loop.read("reports/pr/report.md").startswith("## 🔄 Baseline reset against `main`")

    loop.git("checkout", "-q", "main")
    loop.git("merge", "-q", "--ff-only", "own-data")
    branch(loop, "own-data-better")
    set_train(loop, max_iter=60)
    loop.repro()
    loop.commit("more trees on our data")
    result, gate = pr_check(loop)
    accuracy = checks(gate)["accuracy"]
    assert gate["basis"] == "paired" and None not in (accuracy["base"], accuracy["low"])
    assert gate["verdict"] in ("pass", "fail") and gate["thresholds_from"] == "base"
    loop.git("checkout", "-q", "-f", "main")
    loop.git("reset", "-q", "--hard", "first-model")  # main as the other tests expect it
