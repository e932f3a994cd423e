"""The merge gate: compare a branch's metrics with its base branch's, by the base's rules.

`judge` is pure; `read_side`/`run_gate` do the git and file reading. The gate fails closed:
anything it cannot read is a failure, except the one explicit bootstrap case, a base branch with
no metrics file at all.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ratchet.errors import RatchetError
from ratchet.paths import METRICS_FILE
from ratchet.settings import (
    GateParams,
    MetricRule,
    format_validation_error,
    load_params,
    parse_yaml,
)

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


def parse_metrics(text: str, where: str) -> dict[str, float]:
    """A metrics file is a flat JSON object of numbers; anything else is corrupt."""
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RatchetError(f"{where} is not valid JSON ({exc})") from None
    if not isinstance(loaded, dict) or not loaded:
        raise RatchetError(f"{where} must be a non-empty JSON object of metric values")
    metrics = {}
    for name, value in loaded.items():
        number = math.nan
        if isinstance(value, int | float) and not isinstance(value, bool):
            with contextlib.suppress(OverflowError):  # an integer too large for a float
                number = float(value)
        if not math.isfinite(number):
            raise RatchetError(f"{where}: metric {name!r} is {value!r:.40}, not a finite number")
        metrics[name] = number
    return metrics


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def resolve(revision: str) -> str:
    result = git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if result.returncode != 0:
        raise RatchetError(
            f"unknown base revision {revision!r}: fetch it (`git fetch origin {revision}`, or "
            "check out with full history: fetch-depth: 0) or pass another --base"
        )
    return result.stdout.strip()


def show(commit: str, path: Path) -> str | None:
    """A file's text at a commit, or None when the commit does not have it.

    A file git cannot read (a shallow or partial clone) is an error, never "absent": the gate
    would otherwise take it for a base without metrics and pass as a bootstrap.
    """
    result = git("show", f"{commit}:{path.as_posix()}")
    if result.returncode == 0:
        return result.stdout
    listed = git("ls-tree", "--name-only", commit, "--", path.as_posix())
    if listed.returncode == 0 and not listed.stdout.strip():
        return None
    raise RatchetError(
        f"cannot read {path} at {commit[:12]} ({result.stderr.strip()}): fetch the base with "
        "full history (fetch-depth: 0)"
    )


def base_rules(
    commit: str, branch_rules: GateParams
) -> tuple[GateParams, Literal["base", "branch"]]:
    """The base's gate section applies, so a branch cannot loosen the rules it is judged by."""
    text = show(commit, Path("params.yaml"))
    try:
        section = parse_yaml(text, f"{commit[:12]}:params.yaml").get("gate") if text else None
    except RatchetError as exc:
        raise RatchetError(f"{exc} (the base branch's params.yaml: fix it there)") from None
    if section is None:
        return branch_rules, "branch"
    try:
        return GateParams.model_validate(section), "base"
    except ValidationError as exc:
        raise RatchetError(
            format_validation_error(Path(f"{commit[:12]}:params.yaml"), exc)
            + " (the base branch's gate section is invalid: fix it there)"
        ) from None


def pipeline_problems() -> list[str]:
    """Metrics count only if `dvc status` says they come from the code, data and params here."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        changed = json.loads(result.stdout) if result.returncode == 0 else None
    except json.JSONDecodeError:
        changed = None
    if changed is None:
        return [f"`dvc status` failed: {result.stderr.strip() or result.stdout.strip()}"]
    if changed:
        return [
            f"the pipeline is not up to date (stages {', '.join(sorted(changed))}): "
            "`dvc repro` failed or was not run, so the metrics do not describe this branch"
        ]
    return []


def run_gate(base: str) -> GateResult:
    """Judge the working tree's metrics against `base`, reading everything from git and disk."""
    params = load_params()
    problems = pipeline_problems()
    base_metrics: dict[str, float] | None = None
    commit: str | None = None
    rules = params.gate
    source: Literal["base", "branch"] = "branch"
    try:
        commit = resolve(base)
        rules, source = base_rules(commit, params.gate)
        text = show(commit, METRICS_FILE)
        if text is not None:
            base_metrics = parse_metrics(text, f"{base}:{METRICS_FILE}")
    except RatchetError as exc:
        problems.append(str(exc))
    new_metrics: dict[str, float] | None = None
    if METRICS_FILE.is_file():
        try:
            new_metrics = parse_metrics(METRICS_FILE.read_text(), str(METRICS_FILE))
        except RatchetError as exc:
            problems.append(str(exc))
            new_metrics = {}
    return judge(
        base=base,
        base_commit=commit,
        base_metrics=base_metrics,
        new_metrics=new_metrics,
        rules=rules,
        thresholds_from=source,
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


def to_json(result: GateResult) -> dict[str, Any]:
    return result.model_dump(mode="json")
