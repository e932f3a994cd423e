"""The ratchet does not creep: pull requests that each regress within the limit are held, all
together, against the anchor (the newest release's model, or the first since the last reset)."""

from __future__ import annotations

import pytest

from tests.conftest import Project
from tests.gate.conftest import RULES, branch, checks, pr_check, set_train

pytestmark = pytest.mark.slow

LIMIT = RULES["metrics"]["rmse"]["max_regression_pct"]


def merge(project: Project, name: str) -> None:
    project.git("checkout", "-q", "main")
    project.git("merge", "-q", "--ff-only", name)


def small_regression(project: Project, name: str, max_iter: int) -> dict[str, object]:
    branch(project, name)
    set_train(project, max_iter=max_iter)
    project.repro()
    project.commit(f"max_iter {max_iter}")
    _, gate = pr_check(project)
    return gate


def test_three_small_regressions_are_stopped_by_the_anchor_until_a_release_moves_it(
    loop: Project,
) -> None:
    # main trains 30 trees; each step takes a few away, each within main's rmse limit of main
    for name, trees in (("fewer-1", 27), ("fewer-2", 24)):
        gate = small_regression(loop, name, trees)
        assert gate["verdict"] == "pass", gate["problems"]
        merge(loop, name)
    third = small_regression(loop, "fewer-3", 21)
    rmse = checks(third)["rmse"]
    step = (rmse["new"] - rmse["base"]) / rmse["base"] * 100
    since_anchor = (rmse["new"] - rmse["anchor"]) / rmse["anchor"] * 100
    assert 0 < step < LIMIT < since_anchor  # within its limit of main, past it since the anchor
    assert third["verdict"] == "fail"
    (reason,) = rmse["reasons"]
    assert reason.startswith("against the anchor: rmse regressed ")
    assert third["anchor_note"].startswith("the first model (no release yet), ")
    report = loop.read("reports/pr/report.md")
    assert "**Anchor:** the first model (no release yet), " in report

    # A release moves the anchor: tagged at the second step, the third is within its limit.
    loop.git("tag", "v0.2.0", "main")
    _, gate = pr_check(loop)
    assert gate["verdict"] == "pass", gate["problems"]
    assert gate["anchor_note"].startswith("the newest release, v0.2.0")
    assert checks(gate)["rmse"]["anchor"] == checks(gate)["rmse"]["base"]
    loop.git("checkout", "-q", "-f", "main")
    loop.git("reset", "-q", "--hard", "first-model")
    loop.git("tag", "-d", "v0.2.0")
