"""The merge gate's verdict: a branch's metrics against its base branch's, by the base's rules.

Pure: `judge` takes the numbers and the rules and returns the verdict; `inputs` reads them. The
gate fails closed: anything it cannot read is a failure, except the one explicit bootstrap case,
a base branch with no metrics file at all.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel

from ratchet.core.paths import METRICS_FILE
from ratchet.core.settings import GateParams, MetricRule

Verdict = Literal["pass", "fail", "bootstrap"]
TOLERANCE = 1e-9  # metrics are rounded to 6 digits; this only absorbs float representation


class MetricCheck(BaseModel):
    name: str
    better: Literal["higher", "lower"]
    base: float | None
    new: float | None
    delta: float | None
    delta_pct: float | None
    threshold: str
    passed: bool
    reasons: list[str]


class GateResult(BaseModel):
    verdict: Verdict
    base: str
    base_commit: str | None
    thresholds_from: Literal["base", "branch"]
    checks: list[MetricCheck]
    problems: list[str]

    @property
    def exit_code(self) -> int:
        return 1 if self.verdict == "fail" else 0


def describe_threshold(rule: MetricRule) -> str:
    parts = []
    worse = "-" if rule.better == "higher" else "+"
    if rule.max_regression is not None:
        parts.append(f"{worse}{rule.max_regression:g}")
    if rule.max_regression_pct is not None:
        parts.append(f"{worse}{rule.max_regression_pct:g} %")
    if rule.max_regression is None and rule.max_regression_pct is None:
        parts.append("no regression")
    if rule.min is not None:
        parts.append(f"≥ {rule.min:g}")
    if rule.max is not None:
        parts.append(f"≤ {rule.max:g}")
    return ", ".join(parts)


def check_metric(
    name: str, rule: MetricRule, base: float | None, new: float | None, bootstrap: bool
) -> MetricCheck:
    reasons: list[str] = []
    delta = delta_pct = None
    if new is None:
        reasons.append(f"{name} is missing from this branch's {METRICS_FILE}")
    else:
        if rule.min is not None and new < rule.min:
            reasons.append(f"{name} {new:g} is below the floor {rule.min:g}")
        if rule.max is not None and new > rule.max:
            reasons.append(f"{name} {new:g} is above the ceiling {rule.max:g}")
        if base is None and not bootstrap:
            reasons.append(f"{name} is missing from the base's {METRICS_FILE}")
        if base is not None:
            delta = new - base
            delta_pct = delta / abs(base) * 100 if base else None
            worse_by = -delta if rule.better == "higher" else delta
            if worse_by > TOLERANCE:
                reasons.extend(regression_reasons(name, rule, base, new, worse_by))
    return MetricCheck(
        name=name,
        better=rule.better,
        base=base,
        new=new,
        delta=delta,
        delta_pct=delta_pct,
        threshold=describe_threshold(rule),
        passed=not reasons,
        reasons=reasons,
    )


def regression_reasons(
    name: str, rule: MetricRule, base: float, new: float, worse_by: float
) -> list[str]:
    moved = f"{name} regressed {base:g} → {new:g}"
    if rule.max_regression is None and rule.max_regression_pct is None:
        return [f"{moved}; no regression is allowed"]
    reasons = []
    if rule.max_regression is not None and worse_by > rule.max_regression + TOLERANCE:
        reasons.append(f"{moved} (by {worse_by:g}, allowed {rule.max_regression:g})")
    if rule.max_regression_pct is not None:
        pct = worse_by / abs(base) * 100 if base else math.inf
        if pct > rule.max_regression_pct + TOLERANCE:
            reasons.append(f"{moved} (by {pct:.2f} %, allowed {rule.max_regression_pct:g} %)")
    return reasons


def judge(
    *,
    base: str,
    base_commit: str | None,
    base_metrics: dict[str, float] | None,
    new_metrics: dict[str, float] | None,
    rules: GateParams,
    thresholds_from: Literal["base", "branch"],
    problems: list[str] | None = None,
) -> GateResult:
    """The verdict. `base_metrics is None` means the base has no metrics file: bootstrap."""
    problems = list(problems or [])
    bootstrap = base_metrics is None and not problems
    if new_metrics is None:
        problems.append(
            f"this branch has no readable {METRICS_FILE}: training did not finish "
            "(see `dvc repro` output above)"
        )
        new_metrics = {}
    checks = [
        check_metric(name, rule, (base_metrics or {}).get(name), new_metrics.get(name), bootstrap)
        for name, rule in rules.metrics.items()
    ]
    if problems or not all(check.passed for check in checks):
        verdict: Verdict = "fail"
    else:
        verdict = "bootstrap" if bootstrap else "pass"
    return GateResult(
        verdict=verdict,
        base=base,
        base_commit=base_commit,
        thresholds_from=thresholds_from,
        checks=checks,
        problems=problems,
    )


def format_result(result: GateResult) -> str:
    """The human verdict, as the CLI prints it."""
    lines = {
        "pass": f"gate: PASS against {result.base}",
        "bootstrap": f"gate: BOOTSTRAP PASS: {result.base} has no {METRICS_FILE} yet; "
        "this branch sets the baseline",
        "fail": f"gate: FAIL against {result.base}",
    }
    out = [lines[result.verdict]]
    out += [f"  problem: {problem}" for problem in result.problems]
    for check in result.checks:
        base = "—" if check.base is None else f"{check.base:g}"
        new = "—" if check.new is None else f"{check.new:g}"
        mark = "ok  " if check.passed else "FAIL"
        out.append(f"  {mark} {check.name}: {base} → {new} (threshold: {check.threshold})")
        out += [f"       {reason}" for reason in check.reasons]
    return "\n".join(out)
