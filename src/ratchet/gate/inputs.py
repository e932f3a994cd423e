"""What the gate and the report read: the base from git, the branch from the working tree."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import ValidationError

from ratchet.core.data import read_split
from ratchet.core.errors import RatchetError
from ratchet.core.git import git, git_call, resolve, show
from ratchet.core.metrics import METRICS, parse_metrics
from ratchet.core.paths import (
    DATA_DVC_FILE,
    DATA_SUMMARY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PARAMS_FILE,
    PLOTS_DIR,
    TEST_FILE,
)
from ratchet.core.settings import (
    DataParams,
    GateParams,
    format_validation_error,
    load_params,
    loose_yaml,
    parse_yaml,
)
from ratchet.gate.champion import base_data, find_champion, unlike
from ratchet.gate.compare import compare
from ratchet.gate.judge import Basis, GateResult, Measured, SliceMeasured, judge
from ratchet.gate.report import DataSide, ReportInputs, render_report
from ratchet.gate.reproduction import Reproduction


def base_rules(
    commit: str, branch_rules: GateParams
) -> tuple[GateParams, Literal["base", "branch"]]:
    """The base's gate section applies, so a branch cannot loosen the rules it is judged by."""
    text = show(commit, PARAMS_FILE)
    try:
        section = parse_yaml(text, f"{commit[:12]}:{PARAMS_FILE}").get("gate") if text else None
    except RatchetError as exc:
        raise RatchetError(f"{exc} (the base branch's params.yaml: fix it there)") from None
    if section is None:
        return branch_rules, "branch"
    try:
        return GateParams.model_validate(section), "base"
    except ValidationError as exc:
        raise RatchetError(
            format_validation_error(Path(f"{commit[:12]}:{PARAMS_FILE}"), exc)
            + " (the base branch's gate section is invalid: fix it there)"
        ) from None


@dataclass
class Sides:
    """The base's rules and recorded metrics, the branch's reproduced metrics, what went wrong."""

    commit: str | None = None
    rules_from: Literal["base", "branch"] = "branch"
    base_metrics: dict[str, float] | None = None
    new_metrics: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_sides(base: str, rules: GateParams, *, reset: bool) -> tuple[Sides, GateParams]:
    sides = Sides()
    try:
        sides.problems += Reproduction.load().problems()
    except RatchetError as exc:
        sides.problems.append(str(exc))
    try:
        sides.commit = resolve(base, "base revision")
        if not reset:  # a reset is judged by the branch's own rules: its metrics may be new
            rules, sides.rules_from = base_rules(sides.commit, rules)
        text = show(sides.commit, METRICS_FILE)
        if text is not None:
            sides.base_metrics = parse_metrics(text, f"{base}:{METRICS_FILE}")
    except RatchetError as exc:
        sides.problems.append(str(exc))
    try:
        sides.new_metrics = parse_metrics(METRICS_FILE.read_text(), str(METRICS_FILE))
    except FileNotFoundError:
        sides.problems.append(
            f"this branch has no {METRICS_FILE}: training did not finish (see the reproduction)"
        )
    except RatchetError as exc:
        sides.problems.append(str(exc))
    return sides, rules


def measure(
    commit: str, rules: GateParams, data: DataParams, sides: Sides
) -> tuple[Basis, str, dict[str, Measured], list[SliceMeasured], int | None]:
    """Both models on this branch's test rows when they can be; else the recorded metrics."""
    recorded = sides.base_metrics or {}
    measured = {
        name: Measured(recorded.get(name), sides.new_metrics.get(name)) for name in rules.metrics
    }

    def recorded_instead(
        why: str,
    ) -> tuple[Basis, str, dict[str, Measured], list[SliceMeasured], None]:
        note = (
            f"the base's recorded metrics ({METRICS_FILE} at {commit[:12]}, measured on its own "
            f"test rows), because {why}"
        )
        return "recorded", note, measured, [], None

    # The cheap reasons first: fetching or retraining the base's model can take minutes.
    base = base_data(commit)
    if base is None:
        return recorded_instead("the base's params.yaml has no valid data section")
    why_not = unlike(base, data)
    if why_not is None and not (MODEL_FILE.is_file() and TEST_FILE.is_file()):
        why_not = "this branch has no reproduced model"
    if why_not is not None:
        return recorded_instead(why_not)
    champion = find_champion(commit)
    if champion.model is None:
        return recorded_instead(champion.source)
    import joblib

    test = read_split(TEST_FILE)
    try:
        paired, slices = compare(
            (champion.model, base),
            (joblib.load(MODEL_FILE), data),
            test,
            rules,
            [name for name in rules.metrics if name in METRICS[data.task]],
        )
    except ValueError as exc:  # e.g. a category the base's model never saw, set to refuse
        said = " ".join(str(exc).split())[:200]
        return recorded_instead(f"the base's model refuses this branch's test rows ({said})")
    note = (
        f"both models on this branch's {len(test):,} test rows; the base's model from "
        f"{champion.source}"
    )
    return "paired", note, {**measured, **paired}, slices, len(test)


def run_gate(base: str, *, reset: bool = False) -> GateResult:
    """Judge the reproduced branch against `base`, reading everything from git and disk."""
    params = load_params()
    sides, rules = read_sides(base, params.gate, reset=reset)
    basis: Basis = "none"
    note = "nothing: the base has no metrics yet" if sides.commit else "nothing: no base"
    measured = {name: Measured(None, sides.new_metrics.get(name)) for name in rules.metrics}
    slices: list[SliceMeasured] = []
    rows = None
    if sides.commit is not None and sides.base_metrics is not None:
        basis, note, measured, slices, rows = measure(sides.commit, rules, params.data, sides)
    return judge(
        base=base,
        base_commit=sides.commit,
        rules=rules,
        thresholds_from=sides.rules_from,
        measured=measured,
        basis=basis,
        basis_note=note,
        reported=set(METRICS[params.data.task]),
        rows=rows,
        slices=slices,
        reset=reset,
        problems=sides.problems,
    )


def read_text(commit: str | None, path: Path) -> str | None:
    """The file at `commit`, or in the working tree when commit is None; None if absent."""
    if commit is None:
        return path.read_text() if path.is_file() else None
    return show(commit, path)


def data_side(commit: str | None) -> DataSide:
    outs = loose_yaml(read_text(commit, DATA_DVC_FILE)).get("outs") or [{}]
    summary = read_text(commit, DATA_SUMMARY_FILE)
    try:
        rows = json.loads(summary).get("rows") if summary else None
    except (json.JSONDecodeError, AttributeError):
        rows = None
    return DataSide(md5=outs[0].get("md5"), rows=rows)


# The columns each chart reads; a plot file without them is skipped like an unreadable one.
PLOT_COLUMNS = {
    "predictions.csv": {"actual", "predicted", "residual"},
    "confusion.csv": {"actual", "predicted"},
    "roc.csv": {"fpr", "tpr"},
}


def plot_frames(commit: str | None) -> dict[str, pd.DataFrame]:
    if commit is None:
        names = sorted(path.name for path in PLOTS_DIR.glob("*.csv"))
    else:
        listing = git("ls-tree", "--name-only", commit, f"{PLOTS_DIR.as_posix()}/")
        names = sorted(Path(line).name for line in listing.splitlines() if line.endswith(".csv"))
    frames = {}
    for name in names:
        text = read_text(commit, PLOTS_DIR / name)
        if text:
            try:
                frame = pd.read_csv(io.StringIO(text))
            except (pd.errors.ParserError, pd.errors.EmptyDataError):
                continue  # a broken plot file costs a chart, not the report
            if PLOT_COLUMNS.get(name, set()) <= set(frame.columns):
                frames[name] = frame
    return frames


def collect_report(result: GateResult, *, run_url: str | None = None) -> str:
    """The report's Markdown."""
    base = result.base_commit
    return render_report(
        ReportInputs(
            result=result,
            head=git_call("rev-parse", "HEAD").stdout.strip() or "working tree",
            params_base=loose_yaml(read_text(base, PARAMS_FILE)) if base else {},
            params_new=loose_yaml(read_text(None, PARAMS_FILE)),
            data_base=data_side(base) if base else DataSide(md5=None, rows=None),
            data_new=data_side(None),
            plots_base=plot_frames(base) if base else {},
            plots_new=plot_frames(None),
            run_url=run_url,
        )
    )
