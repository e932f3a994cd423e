"""The PR comment, rendered from fixed inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ratchet.core.settings import GateParams
from ratchet.gate.inputs import plot_frames
from ratchet.gate.judge import judge
from ratchet.gate.report import MAX_CHARS, DataSide, ReportInputs, params_diff, render_report

RULES = GateParams.model_validate(
    {"metrics": {"rmse": {"better": "lower", "max_regression_pct": 1.0}}}
)


def predictions(seed: int, noise: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    actual = rng.uniform(0, 100, 200).round(1)
    predicted = actual + rng.normal(0, noise, 200)
    return pd.DataFrame({"actual": actual, "predicted": predicted, "residual": actual - predicted})


def inputs(
    new_rmse: float, base: dict[str, float] | None = None, **changes: object
) -> ReportInputs:
    result = judge(
        base="main",
        base_commit="b" * 40,
        base_metrics=base or {"rmse": 10.0},
        new_metrics={"rmse": new_rmse},
        rules=RULES,
        thresholds_from="base",
    )
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
        "| `rmse` ↓ | 10 | 10.5 | +0.5 (+5 %) | +1 % | "
        "❌ rmse regressed 10 → 10.5 (by 5.00 %, allowed 1 %) |"
    ) in failed


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


def test_bootstrap_problems_and_stale_results() -> None:
    bootstrap = judge(
        base="main",
        base_commit="b" * 40,
        base_metrics=None,
        new_metrics={"rmse": 9.0},
        rules=RULES,
        thresholds_from="branch",
    )
    text = render_report(inputs(9.0, result=bootstrap, plots_base={}))
    assert text.startswith("## 🟡 Bootstrap: `main` has no metrics yet")
    broken = judge(
        base="main",
        base_commit=None,
        base_metrics=None,
        new_metrics=None,
        rules=RULES,
        thresholds_from="branch",
        problems=["unknown base revision"],
    )
    text = render_report(inputs(9.0, result=broken))
    assert "> [!CAUTION]\n> The gate fails closed:\n> - unknown base revision" in text
    stale = render_report(inputs(9.0, stale=["dvc.lock"]))
    assert "Reproducing this PR changed `dvc.lock`" in stale


def test_long_reports_are_truncated_below_githubs_limit() -> None:
    many = {f"p{i:04d}": i for i in range(3000)}
    text = render_report(inputs(9.0, params_base={}, params_new=many))
    assert len(text) < 65_536
    assert "… and 2960 more" in text
    assert len(render_report(inputs(9.0))) < MAX_CHARS


def test_a_plot_file_without_its_columns_costs_its_chart_not_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports/plots").mkdir(parents=True)
    predictions(1, 10).to_csv(tmp_path / "reports/plots/predictions.csv", index=False)
    (tmp_path / "reports/plots/roc.csv").write_text("x,y\n1,2\n")
    (tmp_path / "reports/plots/confusion.csv").write_text('"unclosed\n')
    assert list(plot_frames(None)) == ["predictions.csv"]
