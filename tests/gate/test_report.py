"""The PR comment, rendered from fixed inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ratchet.core.settings import GateParams
from ratchet.gate.inputs import plot_frames
from ratchet.gate.judge import GateResult, Measured, SliceMeasured, judge
from ratchet.gate.report import MAX_BYTES, DataSide, ReportInputs, params_diff, render_report

RULES = GateParams.model_validate(
    {"metrics": {"rmse": {"better": "lower", "max_regression_pct": 1.0}}}
)


def predictions(seed: int, noise: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    actual = rng.uniform(0, 100, 200).round(1)
    predicted = actual + rng.normal(0, noise, 200)
    return pd.DataFrame({"actual": actual, "predicted": predicted, "residual": actual - predicted})


def result_of(
    new: float | None,
    base: float | None = 10.0,
    interval: tuple[float, float] | None = None,
    **options: Any,
) -> GateResult:
    return judge(
        base="main",
        base_commit="b" * 40,
        rules=RULES,
        thresholds_from="base",
        measured={"rmse": Measured(base, new, *(interval or (None, None)))},
        basis="none" if base is None else "paired" if interval else "recorded",
        basis_note="both models on this branch's 200 test rows; the base's model from test",
        reported={"rmse"},
        **options,
    )


def inputs(new_rmse: float, **changes: object) -> ReportInputs:
    result = result_of(new_rmse)
    values: dict[str, object] = {
        "result": result,
        "head": "c" * 40,
        "params_base": {"train": {"estimator": "ridge", "hyperparameters": {"alpha": 1.0}}},
        "params_new": {"train": {"estimator": "ridge", "hyperparameters": {"alpha": 0.5}}},
        "data_base": DataSide(md5="d" * 32 + ".dir", rows=100),
        "data_new": DataSide(md5="d" * 32 + ".dir", rows=100),
        "plots_base": {"predictions.csv": predictions(1, 10)},
        "plots_new": {"predictions.csv": predictions(2, 8)},
        "run_url": "https://github.com/o/r/actions/runs/1",
    }
    values.update(changes)
    return ReportInputs(**values)  # type: ignore[arg-type]


def test_verdict_line_comes_first_and_names_the_failed_metric() -> None:
    assert render_report(inputs(9.0)).startswith("## ✅ Metrics gate passed against `main`\n")
    failed = render_report(inputs(10.5))
    assert failed.startswith("## ❌ Metrics gate failed against `main`: `rmse`\n")
    assert (
        "| `rmse` ↓ | 10 | 10.5 | +0.5 (+5 %) | +1 % | — | — | — | "
        "❌ rmse regressed 10 → 10.5 (by 0.5, 5.00 %); allowed 1 % |"
    ) in failed


def test_paired_rows_show_the_interval_and_say_what_was_compared() -> None:
    text = render_report(inputs(10.5, result=result_of(10.5, interval=(0.2, 0.8))))
    assert "| `rmse` ↓ | 10 | 10.5 | +0.5 (+5 %) [+0.2, +0.8] | +1 % |" in text
    assert "**Compared:** both models on this branch's 200 test rows" in text
    assert "95% paired bootstrap interval" in text and "`gate.fail_on: point`" in text


def test_recorded_metrics_are_labelled_as_such() -> None:
    recorded = render_report(inputs(9.0))  # no interval: the base's recorded metrics
    assert "> [!IMPORTANT]\n> The two models could not be scored on the same rows." in recorded


def test_slices_are_shown_with_rows_and_small_ones_flagged() -> None:
    rules = RULES.model_copy(
        update={"slices": RULES.slices.model_copy(update={"columns": ["colour"], "min_rows": 20})}
    )
    sliced = judge(
        base="main",
        base_commit="b" * 40,
        rules=rules,
        thresholds_from="base",
        measured={"rmse": Measured(10.0, 9.0, -1.2, -0.8)},
        basis="paired",
        basis_note="test",
        reported={"rmse"},
        slices=[
            SliceMeasured("colour", "red", 150, {"rmse": Measured(10.0, 9.0, -1.5, -0.5)}),
            SliceMeasured("colour", "blue", 5, {"rmse": Measured(10.0, 14.0, 2.0, 6.0)}),
        ],
    )
    text = render_report(inputs(9.0, result=sliced))
    minus = "\N{MINUS SIGN}"
    red = f"| 150 | `rmse` | 10 | 9 | {minus}1 [{minus}1.5, {minus}0.5] | shown |"
    assert f"| `colour` = `red` {red}" in text
    blue = "| 5 | `rmse` | 10 | 14 | +4 [+2, +6] | ⚠️ few rows: not gated |"
    assert f"| `colour` = `blue` {blue}" in text


def test_report_is_deterministic() -> None:
    assert render_report(inputs(9.5)) == render_report(inputs(9.5))


def test_params_and_data_sections() -> None:
    text = render_report(inputs(9.0))
    assert "| `train.hyperparameters.alpha` | `1.0` | `0.5` |" in text
    assert "**Data:** unchanged (`data.dvc` dddddddddddd, 100 rows)." in text
    changed = render_report(inputs(9.0, data_new=DataSide(md5="e" * 32 + ".dir", rows=150)))
    assert "**Data:** changed: `data.dvc` dddddddddddd → eeeeeeeeeeee, rows 100 → 150." in changed


def test_params_diff_lists_added_removed_and_changed() -> None:
    rows = params_diff(
        {"a": 1, "b": {"c": [1, 2]}, "gone": "x"}, {"a": 2, "b": {"c": [1, 2]}, "new": True}
    )
    assert rows == [("a", "`1`", "`2`"), ("gone", '`"x"`', "—"), ("new", "—", "`true`")]


def test_plots_are_mermaid_charts_that_link_no_file() -> None:
    text = render_report(inputs(9.0))
    assert text.count("```mermaid\nxychart-beta") == 2
    assert "![" not in text
    assert "bars: base, line: this PR" in text


def test_classification_plots() -> None:
    confusion = pd.DataFrame({"actual": ["a", "a", "b", "b"], "predicted": ["a", "b", "b", "b"]})
    roc = pd.DataFrame({"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.9, 1.0]})
    text = render_report(
        inputs(9.0, plots_base={}, plots_new={"confusion.csv": confusion, "roc.csv": roc})
    )
    assert "| `a` | 1 | 1 |" in text and "| `b` | 0 | 2 |" in text
    assert 'title "ROC: true positive rate by false positive rate (line: this PR)"' in text


def test_bootstrap_reset_and_problems_say_so_first() -> None:
    bootstrap = render_report(inputs(9.0, result=result_of(9.0, base=None), plots_base={}))
    assert bootstrap.startswith("## 🟡 Bootstrap: `main` has no model yet")
    reset = render_report(inputs(9.0, result=result_of(30.0, reset=True)))
    assert reset.startswith(
        "## 🔄 Baseline reset against `main`, approved with the label `baseline-reset`"
    )
    stale = "dvc.lock is stale: run make run and commit dvc.lock (params.yaml: train changed)"
    broken = render_report(inputs(9.0, result=result_of(9.0, problems=[stale])))
    assert broken.startswith("## ❌ Metrics gate failed against `main`: dvc.lock is stale\n")
    assert f"> [!CAUTION]\n> The gate fails closed:\n> - {stale}" in broken


def test_long_reports_are_truncated_below_githubs_limit() -> None:
    many = {f"p{i:04d}": i for i in range(3000)}
    text = render_report(inputs(9.0, params_base={}, params_new=many))
    assert len(text) < 65_536
    assert "… and 2960 more" in text
    assert len(render_report(inputs(9.0)).encode()) < MAX_BYTES


def test_a_long_report_is_cut_in_bytes_so_the_comment_job_takes_it() -> None:
    """40,000 characters of Δ are 120,000 bytes: over the comment job's 65,000-byte limit."""
    text = render_report(inputs(9.0, params_base={}, params_new={"note": "Δ" * 40_000}))
    assert len(text.encode()) < 65_000
    assert text.endswith("… (truncated: the report is longer than a comment may be)\n")


def test_a_plot_file_without_its_columns_costs_its_chart_not_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports/plots").mkdir(parents=True)
    predictions(1, 10).to_csv(tmp_path / "reports/plots/predictions.csv", index=False)
    (tmp_path / "reports/plots/roc.csv").write_text("x,y\n1,2\n")
    (tmp_path / "reports/plots/confusion.csv").write_text('"unclosed\n')
    assert list(plot_frames(None)) == ["predictions.csv"]


def test_the_report_promises_nothing_of_the_artifact() -> None:
    """It links the run that made it; what the artifact holds, the comment lists as it finds it."""
    text = render_report(inputs(9.0))
    assert text.endswith("\nMade by [this workflow run](https://github.com/o/r/actions/runs/1).\n")
    assert "artifact" not in text and "HTML" not in text
