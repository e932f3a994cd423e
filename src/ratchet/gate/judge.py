"""The merge gate's verdict: the branch's model against the base's, metric by metric and slice by
slice, and against the anchor's (the newest release's), by the base's rules.

Pure: `judge` takes what was measured and the rules, and returns the verdict; `inputs` measures.
The gate fails closed: anything it could not read or reproduce is a failure. Two cases pass
without a comparison, each reported as such: a base with no model at all (the first model), and
a baseline reset that a maintainer approved where no comparison is possible (the base's bounds
still hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from ratchet.core.settings import GateParams, MetricRule

Verdict = Literal["pass", "fail", "bootstrap", "reset"]
# paired: both models scored on this branch's test rows; recorded: the base's metrics.json,
# measured on the base's own rows; none: the base has no metrics.
Basis = Literal["paired", "recorded", "none"]
TOLERANCE = 1e-9  # metrics are floats: this only absorbs their representation
RESET_LABEL = "baseline-reset"
RESET_HINT = (
    f"a change of data, target, task or metrics is a baseline reset: a maintainer approves it "
    f"with the label `{RESET_LABEL}` on the pull request's latest commit"
)


@dataclass(frozen=True)
class Measured:
    """One metric for the base's model and the branch's, and the interval of the change."""

    base: float | None
    new: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class SliceMeasured:
    """The metrics of one slice: the test rows where `column` is `value`."""

    column: str
    value: str
    rows: int
    metrics: dict[str, Measured] = field(default_factory=dict)


class MetricCheck(BaseModel):
    name: str
    better: Literal["higher", "lower"]
    base: float | None
    new: float | None
    delta: float | None
    delta_pct: float | None
    low: float | None = None  # the interval of the change, when both were scored on one set
    high: float | None = None
    threshold: str
    passed: bool
    reasons: list[str]
    # The same metric against the anchor: the newest release's model on the same rows.
    anchor: float | None = None
    anchor_delta: float | None = None
    anchor_low: float | None = None
    anchor_high: float | None = None
    anchor_threshold: str | None = None


class SliceCheck(BaseModel):
    column: str
    value: str
    rows: int
    name: str
    better: Literal["higher", "lower"]
    base: float | None
    new: float | None
    low: float | None
    high: float | None
    small: bool  # fewer rows than gate.slices.min_rows: shown, never gated
    gated: bool
    passed: bool
    reasons: list[str]


class GateResult(BaseModel):
    verdict: Verdict
    base: str
    base_commit: str | None
    thresholds_from: Literal["base", "branch"]
    basis: Basis
    basis_note: str  # in plain words: which rows, which base model, or why not
    rows: int | None = None
    fail_on: Literal["point", "interval"] = "point"
    confidence: float = 0.95
    checks: list[MetricCheck]
    slices: list[SliceCheck] = []
    problems: list[str]
    anchor_note: str | None = None  # which model the anchor is and where it came from, or why none
    notes: list[str] = []  # what the reader should know that fails nothing (a refused label)

    @property
    def exit_code(self) -> int:
        return 1 if self.verdict == "fail" else 0


def describe_limits(rule: MetricRule, units: float | None, pct: float | None) -> str:
    worse = "-" if rule.better == "higher" else "+"
    parts = []
    if units is not None:
        parts.append(f"{worse}{units:g}")
    if pct is not None:
        parts.append(f"{worse}{pct:g} %")
    return ", ".join(parts) or "no regression"


def describe_threshold(rule: MetricRule) -> str:
    parts = [describe_limits(rule, rule.max_regression, rule.max_regression_pct)]
    if rule.min is not None:
        parts.append(f"≥ {rule.min:g}")
    if rule.max is not None:
        parts.append(f"≤ {rule.max:g}")
    return ", ".join(parts)


def regression(
    what: str,
    better: str,
    measured: Measured,
    *,
    limits: tuple[float | None, float | None],
    fail_on: str,
    confidence: float,
) -> list[str]:
    """Why `what` regressed past its limits (in units, in percent), or [] if it did not.

    With fail_on interval and an interval at hand, the least regression the interval allows is
    judged: the change fails only when even that is past the limit.
    """
    base, new = measured.base, measured.new
    assert base is not None and new is not None
    sign = -1.0 if better == "higher" else 1.0
    worse_by = (new - base) * sign
    judged = worse_by
    interval = ""
    if measured.low is not None and measured.high is not None:
        interval = (
            f"; {confidence:.0%} interval of the change {measured.low:+.4g} to {measured.high:+.4g}"
        )
        if fail_on == "interval":
            judged = min(measured.low * sign, measured.high * sign)
    if judged <= TOLERANCE:
        return []
    units, pct = limits
    pct_of_base = worse_by / abs(base) * 100 if base else float("inf")
    moved = f"{what} regressed {base:.6g} → {new:.6g} (by {worse_by:.4g}, {pct_of_base:.2f} %"
    if units is None and pct is None:
        return [f"{moved}{interval}); no regression is allowed"]
    allowed = []
    if units is not None and judged > units + TOLERANCE:
        allowed.append(f"{units:g}")
    if pct is not None and judged > pct / 100 * abs(base) + TOLERANCE:
        allowed.append(f"{pct:g} %")
    if not allowed:
        return []
    whole = " with all of its interval" if fail_on == "interval" and interval else ""
    return [f"{moved}{interval}){whole}; allowed {' and '.join(allowed)}"]


def check_metric(
    name: str,
    rule: MetricRule,
    measured: Measured,
    gate: GateParams,
    *,
    compare: bool,
    reported: set[str],
    anchor: Measured | None = None,
) -> MetricCheck:
    """One gated metric: the branch's value against the bounds, and, if `compare`, against the
    base's value by the rule's limits and against the anchor's by the cumulative limits."""
    reasons: list[str] = []
    base, new = measured.base, measured.new
    delta = delta_pct = None
    if new is None:
        if name in reported:
            reasons.append(f"{name} is missing from this branch's metrics")
        else:
            reasons.append(f"this branch's task does not report {name}: {RESET_HINT}")
    else:
        if rule.min is not None and new < rule.min:
            reasons.append(f"{name} {new:g} is below the floor {rule.min:g}")
        if rule.max is not None and new > rule.max:
            reasons.append(f"{name} {new:g} is above the ceiling {rule.max:g}")
        if base is None and compare:
            reasons.append(f"{name} is missing from the base's metrics: {RESET_HINT}")
        if base is not None:
            delta = new - base
            delta_pct = delta / abs(base) * 100 if base else None
            if compare:
                reasons += regression(
                    name,
                    rule.better,
                    measured,
                    limits=(rule.max_regression, rule.max_regression_pct),
                    fail_on=gate.fail_on,
                    confidence=gate.bootstrap.confidence,
                )
    per_pr = (rule.max_regression, rule.max_regression_pct)
    same_check = anchor == measured and rule.cumulative_limits == per_pr  # the anchor is the base
    if compare and anchor is not None and anchor.base is not None and new is not None:
        reasons += (
            []
            if same_check
            else [
                f"against the anchor: {reason}"
                for reason in regression(
                    name,
                    rule.better,
                    anchor,
                    limits=rule.cumulative_limits,
                    fail_on=gate.fail_on,
                    confidence=gate.bootstrap.confidence,
                )
            ]
        )
    anchor_base = anchor.base if anchor is not None else None
    return MetricCheck(
        name=name,
        better=rule.better,
        base=base,
        new=new,
        delta=delta,
        delta_pct=delta_pct,
        low=measured.low,
        high=measured.high,
        threshold=describe_threshold(rule),
        passed=not reasons,
        reasons=reasons,
        anchor=anchor_base,
        anchor_delta=None if anchor_base is None or new is None else new - anchor_base,
        anchor_low=anchor.low if anchor is not None else None,
        anchor_high=anchor.high if anchor is not None else None,
        anchor_threshold=None
        if anchor_base is None
        else describe_limits(rule, *rule.cumulative_limits),
    )


def check_slice(
    measured_slice: SliceMeasured, name: str, rule: MetricRule, gate: GateParams, compare: bool
) -> SliceCheck:
    measured = measured_slice.metrics[name]
    small = measured_slice.rows < gate.slices.min_rows
    limits = (rule.slice_max_regression, rule.slice_max_regression_pct)
    gated = compare and not small and limits != (None, None)
    reasons: list[str] = []
    if gated and measured.base is not None and measured.new is not None:
        what = f"{name} where {measured_slice.column} is {measured_slice.value!r}"
        reasons = regression(
            what,
            rule.better,
            measured,
            limits=limits,
            fail_on=gate.fail_on,
            confidence=gate.bootstrap.confidence,
        )
    return SliceCheck(
        column=measured_slice.column,
        value=measured_slice.value,
        rows=measured_slice.rows,
        name=name,
        better=rule.better,
        base=measured.base,
        new=measured.new,
        low=measured.low,
        high=measured.high,
        small=small,
        gated=gated,
        passed=not reasons,
        reasons=reasons,
    )


def judge(
    *,
    base: str,
    base_commit: str | None,
    rules: GateParams,
    thresholds_from: Literal["base", "branch"],
    measured: dict[str, Measured],
    basis: Basis,
    basis_note: str,
    reported: set[str],
    rows: int | None = None,
    slices: list[SliceMeasured] | None = None,
    reset: bool = False,
    problems: list[str] | None = None,
    anchor: dict[str, Measured] | None = None,
    anchor_note: str | None = None,
    notes: list[str] | None = None,
) -> GateResult:
    """The verdict. `basis == "none"` means the base has no model: bootstrap. `reset` means a
    maintainer approved this branch as the new baseline: nothing is compared, bounds still hold.
    `anchor` holds each metric of the anchor's model (as `base`) and of this branch's, with the
    interval of the change, when the anchor is not the base's own model."""
    problems = list(problems or [])
    compare = basis != "none" and not reset
    checks = [
        check_metric(
            name,
            rule,
            measured.get(name, Measured(None, None)),
            rules,
            compare=compare,
            reported=reported,
            anchor=(anchor or {}).get(name),
        )
        for name, rule in rules.metrics.items()
    ]
    slice_checks = [
        check_slice(one, name, rule, rules, compare and basis == "paired")
        for one in slices or []
        for name, rule in rules.metrics.items()
        if name in one.metrics
    ]
    failed = (
        bool(problems)
        or not all(check.passed for check in checks)
        or not all(check.passed for check in slice_checks)
    )
    verdict: Verdict = (
        "fail" if failed else "reset" if reset else "bootstrap" if basis == "none" else "pass"
    )
    return GateResult(
        verdict=verdict,
        base=base,
        base_commit=base_commit,
        thresholds_from=thresholds_from,
        basis=basis,
        basis_note=basis_note,
        rows=rows,
        fail_on=rules.fail_on,
        confidence=rules.bootstrap.confidence,
        checks=checks,
        slices=slice_checks,
        problems=problems,
        anchor_note=anchor_note,
        notes=list(notes or []),
    )


def format_result(result: GateResult) -> str:
    """The human verdict, as the CLI prints it."""
    lines = {
        "pass": f"gate: PASS against {result.base}",
        "bootstrap": f"gate: BOOTSTRAP PASS: {result.base} has no model yet; "
        "this branch sets the baseline",
        "reset": f"gate: BASELINE RESET against {result.base}: approved with the label "
        f"{RESET_LABEL}; this branch sets the new baseline",
        "fail": f"gate: FAIL against {result.base}",
    }
    out = [lines[result.verdict], f"  compared: {result.basis_note}"]
    if result.anchor_note:
        out.append(f"  anchor: {result.anchor_note}")
    out += [f"  note: {note}" for note in result.notes]
    out += [f"  problem: {problem}" for problem in result.problems]
    for check in result.checks:
        base = "—" if check.base is None else f"{check.base:.6g}"
        new = "—" if check.new is None else f"{check.new:.6g}"
        interval = (
            f" [{check.low:+.4g}, {check.high:+.4g}]"
            if check.low is not None and check.high is not None
            else ""
        )
        mark = "ok  " if check.passed else "FAIL"
        out.append(
            f"  {mark} {check.name}: {base} → {new}{interval} (threshold: {check.threshold})"
        )
        if check.anchor is not None:
            out.append(
                f"       against the anchor: {check.anchor:.6g} → {new} "
                f"(threshold: {check.anchor_threshold})"
            )
        out += [f"       {reason}" for reason in check.reasons]
    for failed in (check for check in result.slices if not check.passed):
        out += [f"  FAIL slice {reason}" for reason in failed.reasons]
    return "\n".join(out)
