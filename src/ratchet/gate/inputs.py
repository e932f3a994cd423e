"""What the gate and the report read: the base from git, the branch from the working tree."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import ValidationError

from ratchet.core.errors import RatchetError
from ratchet.core.git import git, git_call, resolve, show
from ratchet.core.metrics import parse_metrics
from ratchet.core.paths import (
    DATA_DVC_FILE,
    DATA_SUMMARY_FILE,
    LOCK_FILE,
    METRICS_FILE,
    PARAMS_FILE,
    PLOTS_DIR,
)
from ratchet.core.settings import GateParams, format_validation_error, load_params, parse_yaml
from ratchet.gate.judge import GateResult, judge
from ratchet.gate.report import DataSide, ReportInputs, render_report

COMMITTED_RESULTS = (LOCK_FILE, METRICS_FILE, DATA_SUMMARY_FILE)


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
        commit = resolve(base, "base revision")
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


def read_text(commit: str | None, path: Path) -> str | None:
    """The file at `commit`, or in the working tree when commit is None; None if absent."""
    if commit is None:
        return path.read_text() if path.is_file() else None
    return show(commit, path)


def load_yaml(text: str | None) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def data_side(commit: str | None) -> DataSide:
    outs = load_yaml(read_text(commit, DATA_DVC_FILE)).get("outs") or [{}]
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


def stale_results() -> list[str]:
    """Committed result files that reproducing this branch changed."""
    changed = git_call("status", "--porcelain", "--", *map(str, COMMITTED_RESULTS)).stdout
    return sorted(line[3:] for line in changed.splitlines())


def collect_report(result: GateResult, *, run_url: str | None = None) -> str:
    """The report's Markdown."""
    base = result.base_commit
    return render_report(
        ReportInputs(
            result=result,
            head=git_call("rev-parse", "HEAD").stdout.strip() or "working tree",
            params_base=load_yaml(read_text(base, PARAMS_FILE)) if base else {},
            params_new=load_yaml(read_text(None, PARAMS_FILE)),
            data_base=data_side(base) if base else DataSide(md5=None, rows=None),
            data_new=data_side(None),
            plots_base=plot_frames(base) if base else {},
            plots_new=plot_frames(None),
            stale=stale_results(),
            run_url=run_url,
        )
    )
