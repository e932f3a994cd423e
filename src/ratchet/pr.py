"""Gather what the pull-request report shows, from git (the base) and the working tree (the PR)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ratchet.gate import GateResult, git, show
from ratchet.paths import DATA_DVC_FILE, DATA_SUMMARY_FILE, PARAMS_FILE, PLOTS_DIR
from ratchet.report import DataSide, ReportInputs, render_report

COMMITTED_RESULTS = ("dvc.lock", "reports/metrics.json", "reports/data.json")


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
        listing = git("ls-tree", "--name-only", commit, f"{PLOTS_DIR.as_posix()}/").stdout
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
    changed = git("status", "--porcelain", "--", *COMMITTED_RESULTS).stdout
    return sorted(line[3:] for line in changed.splitlines())


def collect_report(
    result: GateResult, *, run_url: str | None = None, images_to: Path | None = None
) -> str:
    """The report's Markdown; with `images_to`, PNG charts are written there and linked."""
    base = result.base_commit
    plots_base = plot_frames(base) if base else {}
    plots_new = plot_frames(None)
    images = render_images(plots_base, plots_new, images_to) if images_to else []
    return render_report(
        ReportInputs(
            result=result,
            head=git("rev-parse", "HEAD").stdout.strip() or "working tree",
            params_base=load_yaml(read_text(base, PARAMS_FILE)) if base else {},
            params_new=load_yaml(read_text(None, PARAMS_FILE)),
            data_base=data_side(base) if base else DataSide(md5=None, rows=None),
            data_new=data_side(None),
            plots_base=plots_base,
            plots_new=plots_new,
            stale=stale_results(),
            run_url=run_url,
            images=images,
        )
    )


def render_images(
    plots_base: dict[str, pd.DataFrame], plots_new: dict[str, pd.DataFrame], folder: Path
) -> list[str]:
    """PNG charts for `report --images`, for those who opt in to publishing images with CML."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = {
        "predictions.csv": ("predicted_vs_actual.png", "actual", "predicted", "scatter"),
        "roc.csv": ("roc.png", "fpr", "tpr", "line"),
    }
    written = []
    for source, (name, x, y, kind) in charts.items():
        if source not in plots_new:
            continue
        figure, axes = plt.subplots(figsize=(5, 4), dpi=100)
        for label, frames, colour in (("base", plots_base, "0.6"), ("this PR", plots_new, "C0")):
            if source in frames:
                frame = frames[source]
                if kind == "scatter":
                    axes.scatter(frame[x], frame[y], s=4, alpha=0.5, color=colour, label=label)
                else:
                    axes.plot(frame[x], frame[y], color=colour, label=label)
        axes.set_xlabel(x)
        axes.set_ylabel(y)
        axes.legend()
        figure.tight_layout()
        folder.mkdir(parents=True, exist_ok=True)
        figure.savefig(folder / name)
        plt.close(figure)
        written.append(name)
    return written
