"""The pull-request report: one Markdown comment with the verdict, metrics, params, data and plots.

`render_report` is pure and deterministic. Plots are Mermaid charts, which GitHub draws natively,
so no data or image leaves GitHub.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ratchet.core.settings import flatten
from ratchet.gate.judge import RESET_LABEL, GateResult, MetricCheck

MAX_PARAM_ROWS = 40
# The comment job refuses a report over 65,000 bytes (GitHub takes 65,536 characters): counted in
# bytes, a report with many ✅ and Δ fits both.
MAX_BYTES = 60_000


@dataclass(frozen=True)
class DataSide:
    md5: str | None
    rows: int | None


@dataclass(frozen=True)
class ReportInputs:
    result: GateResult
    head: str
    params_base: dict[str, Any]
    params_new: dict[str, Any]
    data_base: DataSide
    data_new: DataSide
    plots_base: dict[str, pd.DataFrame] = field(default_factory=dict)
    plots_new: dict[str, pd.DataFrame] = field(default_factory=dict)
    run_url: str | None = None


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def signed(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}g}".replace("-", "\N{MINUS SIGN}")


def headline(inputs: ReportInputs) -> str:
    result = inputs.result
    base = f"`{result.base}`"
    if result.verdict == "pass":
        return f"## ✅ Metrics gate passed against {base}"
    if result.verdict == "bootstrap":
        return (
            f"## 🟡 Bootstrap: {base} has no model yet, so nothing is compared; "
            "this pull request sets the baseline"
        )
    if result.verdict == "reset":
        return (
            f"## 🔄 Baseline reset against {base}, approved with the label `{RESET_LABEL}`: "
            "nothing is compared, this pull request sets the new baseline"
        )
    failed = [check.name for check in result.checks if not check.passed]
    failed += [
        f"{check.name} where {check.column} = {check.value}"
        for check in result.slices
        if not check.passed
    ]
    what = ", ".join(f"`{name}`" for name in failed)
    if not what:  # nothing was judged: say why, in the first problem's own words
        what = result.problems[0].split(":")[0] if result.problems else "see below"
    return f"## ❌ Metrics gate failed against {base}: {what}"


def interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f" [{signed(low)}, {signed(high)}]"


def change(delta: float | None, base: float | None, low: float | None, high: float | None) -> str:
    text = signed(delta)
    if delta is not None and base:
        text += f" ({signed(delta / abs(base) * 100, 3)} %)"
    return text + interval(low, high)


def metric_row(check: MetricCheck) -> str:
    arrow = "↑" if check.better == "higher" else "↓"
    delta = change(check.delta, check.base, check.low, check.high)
    since = change(check.anchor_delta, check.anchor, check.anchor_low, check.anchor_high)
    status = "✅" if check.passed else "❌ " + "; ".join(check.reasons)
    return (
        f"| `{check.name}` {arrow} | {number(check.base)} | {number(check.new)} | {delta} "
        f"| {check.threshold} | {number(check.anchor)} | {since} "
        f"| {check.anchor_threshold or '—'} | {status} |"
    )


def basis_section(result: GateResult) -> list[str]:
    """Which numbers were compared, in plain words."""
    if result.basis == "paired":
        rule = (
            "a change fails when it regresses past the limit"
            if result.fail_on == "point"
            else "a change fails only when its whole interval regresses past the limit"
        )
        return [
            f"**Compared:** {result.basis_note}. Δ is this PR minus the base, with its "
            f"{result.confidence:.0%} paired bootstrap interval in brackets; {rule} "
            f"(`gate.fail_on: {result.fail_on}`).",
        ]
    if result.basis == "recorded":
        return [
            "> [!IMPORTANT]",
            f"> The two models could not be scored on the same rows. Compared with "
            f"{result.basis_note}.",
        ]
    return []


def slices_section(result: GateResult) -> list[str]:
    if not result.slices:
        return []
    lines = [
        "<details open><summary><b>Slices</b> (test rows by feature value)</summary>",
        "",
        "| Slice | Rows | Metric | Base | This PR | Δ | |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for check in result.slices:
        delta = "—" if check.base is None or check.new is None else signed(check.new - check.base)
        delta += interval(check.low, check.high)
        if not check.passed:
            status = "❌ " + "; ".join(check.reasons)
        elif check.small:
            status = "⚠️ few rows: not gated"
        else:
            status = "✅" if check.gated else "shown"
        lines.append(
            f"| `{check.column}` = `{check.value}` | {check.rows:,} | `{check.name}` "
            f"| {number(check.base)} | {number(check.new)} | {delta} | {status} |"
        )
    return [*lines, "", "</details>", ""]


def params_diff(base: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Changed, added and removed params as (name, base, new), in name order."""
    old, now = flatten(base), flatten(new)
    missing = object()

    def cell(value: object) -> str:
        return "—" if value is missing else f"`{json.dumps(value)}`"

    rows = []
    for name in sorted(set(old) | set(now)):
        before, after = old.get(name, missing), now.get(name, missing)
        if before != after:
            rows.append((name, cell(before), cell(after)))
    return rows


def params_section(inputs: ReportInputs) -> list[str]:
    rows = params_diff(inputs.params_base, inputs.params_new)
    if not rows:
        return ["**Params:** unchanged."]
    lines = [f"**Params:** {len(rows)} changed.", "", "| Param | Base | This PR |", "|---|---|---|"]
    lines += [f"| `{name}` | {before} | {after} |" for name, before, after in rows[:MAX_PARAM_ROWS]]
    if len(rows) > MAX_PARAM_ROWS:
        lines.append(f"| … and {len(rows) - MAX_PARAM_ROWS} more | | |")
    return lines


def data_section(inputs: ReportInputs) -> list[str]:
    base, new = inputs.data_base, inputs.data_new
    rows = "" if new.rows is None else f"{new.rows:,} rows"
    if base.md5 == new.md5:
        return [f"**Data:** unchanged (`data.dvc` {str(new.md5)[:12]}, {rows})."]
    base_rows = "?" if base.rows is None else f"{base.rows:,}"
    new_rows = "?" if new.rows is None else f"{new.rows:,}"
    return [
        f"**Data:** changed: `data.dvc` {str(base.md5)[:12]} → {str(new.md5)[:12]}, "
        f"rows {base_rows} → {new_rows}."
    ]


def mermaid(
    title: str, labels: list[str], y_label: str, bars: list[float] | None, line: list[float]
) -> list[str]:
    def series(values: list[float]) -> str:
        return "[" + ", ".join(f"{value:.4g}" for value in values) + "]"

    chart = [
        "```mermaid",
        "xychart-beta",
        f'    title "{title}"',
        "    x-axis [" + ", ".join(f'"{label}"' for label in labels) + "]",
        f'    y-axis "{y_label}"',
    ]
    if bars is not None:
        chart.append(f"    bar {series(bars)}")
    chart += [f"    line {series(line)}", "```"]
    return chart


def edges_for(values: list[pd.Series], bins: int) -> np.ndarray:
    joined = pd.concat(values)
    edges = np.unique(np.quantile(joined, np.linspace(0, 1, bins + 1)))
    return edges if len(edges) > 2 else np.array([joined.min(), joined.max() + 1])


def bin_labels(edges: np.ndarray) -> list[str]:
    return [f"{low:.3g} to {high:.3g}" for low, high in itertools.pairwise(edges)]


def regression_charts(base: pd.DataFrame | None, new: pd.DataFrame) -> list[str]:
    sides = [new] if base is None else [base, new]
    legend = "line: this PR" if base is None else "bars: base, line: this PR"
    edges = edges_for([side["actual"] for side in sides], bins=8)

    def error_by_bin(frame: pd.DataFrame) -> list[float]:
        bins = pd.cut(frame["actual"], list(edges), include_lowest=True)
        means = frame["residual"].abs().groupby(bins, observed=False).mean()
        return [0.0 if pd.isna(value) else float(value) for value in means]

    residual_edges = edges_for([side["residual"] for side in sides], bins=10)

    def histogram(frame: pd.DataFrame) -> list[float]:
        counts, _ = np.histogram(
            frame["residual"].clip(residual_edges[0], residual_edges[-1]), residual_edges
        )
        return [float(count) / len(frame) * 100 for count in counts]

    return [
        *mermaid(
            f"Mean absolute error by actual value ({legend})",
            bin_labels(edges),
            "MAE",
            None if base is None else error_by_bin(base),
            error_by_bin(new),
        ),
        "",
        *mermaid(
            f"Residuals, % of rows ({legend})",
            bin_labels(residual_edges),
            "% of rows",
            None if base is None else histogram(base),
            histogram(new),
        ),
    ]


def confusion_table(base: pd.DataFrame | None, new: pd.DataFrame) -> list[str]:
    labels = sorted(set(new["actual"]) | set(new["predicted"]), key=str)
    counts = pd.crosstab(new["actual"], new["predicted"]).reindex(
        index=labels, columns=labels, fill_value=0
    )
    old = None
    if base is not None:
        old = pd.crosstab(base["actual"], base["predicted"]).reindex(
            index=labels, columns=labels, fill_value=0
        )
    suffix = " (base in brackets)" if old is not None else ""
    lines = [
        f"Confusion matrix, rows actual, columns predicted{suffix}:",
        "",
        "| | " + " | ".join(f"`{label}`" for label in labels) + " |",
        "|---" * (len(labels) + 1) + "|",
    ]
    for actual in labels:
        cells = []
        for predicted in labels:
            cell = str(counts.loc[actual, predicted])
            if old is not None:
                cell += f" ({old.loc[actual, predicted]})"
            cells.append(cell)
        lines.append(f"| `{actual}` | " + " | ".join(cells) + " |")
    return lines


def roc_chart(base: pd.DataFrame | None, new: pd.DataFrame) -> list[str]:
    grid = np.linspace(0, 1, 11)

    def resample(frame: pd.DataFrame) -> list[float]:
        return [float(value) for value in np.interp(grid, frame["fpr"], frame["tpr"])]

    legend = "line: this PR" if base is None else "bars: base, line: this PR"
    return mermaid(
        f"ROC: true positive rate by false positive rate ({legend})",
        [f"{value:.1f}" for value in grid],
        "TPR",
        None if base is None else resample(base),
        resample(new),
    )


def plots_section(inputs: ReportInputs) -> list[str]:
    new, base = inputs.plots_new, inputs.plots_base
    lines: list[str] = []
    if "predictions.csv" in new:
        lines += regression_charts(base.get("predictions.csv"), new["predictions.csv"])
    if "confusion.csv" in new:
        lines += confusion_table(base.get("confusion.csv"), new["confusion.csv"])
    if "roc.csv" in new:
        lines += ["", *roc_chart(base.get("roc.csv"), new["roc.csv"])]
    if not lines:
        return []
    return [
        "<details open><summary><b>Plots</b> (test split)</summary>",
        "",
        *lines,
        "",
        "</details>",
    ]


def render_report(inputs: ReportInputs) -> str:
    """The whole comment, deterministic for the same inputs."""
    result = inputs.result
    base_commit = (result.base_commit or "?")[:12]
    lines = [
        headline(inputs),
        "",
        f"Compared `{inputs.head[:12]}` (this PR) with `{result.base}` ({base_commit}); "
        f"thresholds from the {'base branch' if result.thresholds_from == 'base' else 'PR'}'s "
        "`params.yaml`.",
        "",
    ]
    if result.thresholds_from == "branch" and result.verdict not in ("bootstrap", "reset"):
        lines += [
            "> [!NOTE]",
            "> The base branch has no `gate` section yet; this PR's applies.",
            "",
        ]
    if result.problems:
        lines += ["> [!CAUTION]", "> The gate fails closed:"]
        lines += [f"> - {problem}" for problem in result.problems]
        lines.append("")
    if result.notes:
        lines += ["> [!NOTE]", *(f"> {note}" for note in result.notes), ""]
    basis = basis_section(result)
    lines += [*basis, ""] if basis else []
    if result.anchor_note:
        lines += [
            f"**Anchor:** {result.anchor_note}. Each metric must also stay within its cumulative "
            "limit of the anchor, so that small regressions cannot add up.",
            "",
        ]
    lines += [
        "| Metric | Base | This PR | Δ | Allowed | Anchor | Δ since anchor | Allowed | |",
        "|---|---:|---:|---:|---|---:|---:|---|---|",
    ]
    lines += [metric_row(check) for check in result.checks]
    lines += ["", *slices_section(result)]
    lines += [*params_section(inputs), "", *data_section(inputs), ""]
    lines += plots_section(inputs)
    if inputs.run_url:
        lines += [
            "",
            f"Made by [this workflow run]({inputs.run_url}).",
        ]
    text = "\n".join(lines).rstrip() + "\n"
    encoded = text.encode()
    if len(encoded) > MAX_BYTES:
        kept = encoded[:MAX_BYTES].decode(errors="ignore")  # never half a character
        text = kept + "\n\n… (truncated: the report is longer than a comment may be)\n"
    return text
