"""Drift monitoring: Evidently's verdict on real frames, the summary, the CLI, the drift issue."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from ratchet.__main__ import main
from ratchet.core.data import validate
from ratchet.core.errors import RatchetError
from ratchet.core.paths import DRIFT_HTML, DRIFT_SUMMARY
from ratchet.core.schema import infer_schema
from ratchet.core.settings import DataParams, MonitorParams, load_params
from ratchet.monitor import drift as monitor
from ratchet.monitor.drift import DriftSummary
from ratchet.pipeline import stages
from tests.conftest import REGRESSION_DATA, regression_frame, small_params
from tests.stand_ins import actions_env

REGRESSION = DataParams.model_validate(REGRESSION_DATA)
REFERENCE = regression_frame(rows=600, seed=1)
SCHEMA = infer_schema(validate(REFERENCE, REGRESSION, Path("reference")), REGRESSION)


def shifted(rows: int = 300, seed: int = 2) -> pd.DataFrame:
    """A later window: bigger items, and mostly red ones."""
    frame = regression_frame(rows, seed)
    frame["size"] = (frame["size"] + 4).round(3)
    frame["colour"] = np.where(np.arange(rows) % 5 == 0, "blue", "red")
    return frame


def drift_of(current: pd.DataFrame, params: MonitorParams | None = None) -> DriftSummary:
    params = params or MonitorParams()
    result, _ = monitor.detect_drift(REFERENCE, current, SCHEMA, params)
    return monitor.summarize(
        result, SCHEMA, params.drift_share, ("reference", len(REFERENCE)), ("current", len(current))
    )


def test_a_shifted_window_drifts() -> None:
    summary = drift_of(shifted())
    assert summary.drift
    assert summary.drifted_columns == ["size", "colour"]
    assert summary.drifted_share == pytest.approx(2 / 3)
    size = summary.columns[0]
    assert (size.name, size.kind, size.drifted) == ("size", "numeric", True)
    # Evidently's choice for a numeric feature with up to 1000 reference rows:
    assert size.method == "K-S p_value" and size.threshold == 0.05
    assert size.score is not None and size.score < 0.05


def test_a_sample_of_the_reference_does_not_drift() -> None:
    summary = drift_of(REFERENCE.sample(300, random_state=0))
    assert not summary.drift
    assert summary.drifted_columns == []
    assert [column.name for column in summary.columns] == ["size", "age", "colour"]
    assert all(column.score is not None and column.score > 0.5 for column in summary.columns)


@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_fresh_samples_of_the_same_distribution_do_not_drift(seed: int) -> None:
    """A column may cross its 5% p-value by chance (seeds 3 and 4 do); the share absorbs it."""
    summary = drift_of(regression_frame(rows=300, seed=seed))
    assert not summary.drift
    assert len(summary.drifted_columns) <= 1


def test_tests_and_thresholds_come_from_params() -> None:
    params = MonitorParams.model_validate(
        {
            "drift_share": 0.3,
            "default": {"method": "psi", "threshold": 10.0},
            "columns": {"colour": {"method": "jensenshannon", "threshold": 0.05}},
        }
    )
    summary = drift_of(shifted(), params)
    methods = {column.name: (column.method, column.threshold) for column in summary.columns}
    assert methods["size"] == ("psi", 10.0)  # as params.yaml names it
    assert methods["colour"] == ("jensenshannon", 0.05)
    assert summary.drifted_columns == ["colour"]  # PSI over 10 is out of reach for size
    assert summary.drift and summary.drift_share == 0.3  # 1 of 3 features is over 30%


@pytest.mark.parametrize(
    ("monitor_params", "message"),
    [
        ({"default": {"method": "kolmogorov"}}, "No stattest found of name kolmogorov"),
        ({"columns": {"colour": {"method": "wasserstein"}}}, "wasserstein isn't applicable"),
    ],
)
def test_an_unknown_or_unfitting_test_is_a_params_error(
    monitor_params: dict[str, Any], message: str
) -> None:
    params = MonitorParams.model_validate(monitor_params)
    with pytest.raises(RatchetError, match=rf"^params.yaml: monitor: .*{message}"):
        drift_of(shifted(), params)


def test_summary_round_trips_through_json() -> None:
    params = MonitorParams()
    result, _ = monitor.detect_drift(REFERENCE, shifted(), SCHEMA, params)
    summary = monitor.summarize(
        result,
        SCHEMA,
        params.drift_share,
        ("reference", len(REFERENCE)),
        ("current", 299),
        current_detail="299 rows of current",
        left_out=1,
        out_of_range={"size": 1},
    )
    raw = json.loads(json.dumps(summary.to_dict()))
    assert raw["verdict"] == "drift" and raw["drift"] is True
    assert raw["drifted_columns"] == ["size", "colour"]
    assert raw["reference"] == {"path": "reference", "rows": 600}
    assert raw["current"] == {"path": "current", "rows": 299, "detail": "299 rows of current"}
    assert raw["left_out"] == {"rows": 1, "out_of_range": {"size": 1}}
    assert set(raw["columns"]["age"]) == {"kind", "method", "threshold", "score", "drifted"}
    assert DriftSummary.from_dict(raw) == summary


def test_an_evidently_test_that_errored_fails_the_check() -> None:
    result, _ = monitor.detect_drift(REFERENCE, shifted(), SCHEMA, MonitorParams())
    for test in result["tests"]:
        if test["name"].endswith("column age"):
            test["status"] = "ERROR"
    with pytest.raises(RatchetError, match="could not test column 'age' for drift"):
        monitor.summarize(result, SCHEMA, 0.5, ("r", 1), ("c", 1))


def test_values_far_outside_the_training_range_are_left_out_and_counted() -> None:
    """A client may send 1e300, and the service accepts any finite number: such a row is counted
    and left out, so numpy never overflows on it; an empty value is the null check's, not far."""
    current = regression_frame(rows=300, seed=3).astype({"age": float})
    current.loc[0, "size"] = 1e300
    current.loc[1, "size"] = -np.inf
    current.loc[2, "age"] = 1e300
    current.loc[2, "size"] = np.nan
    size = SCHEMA.features[0]
    assert size.maximum is not None and size.minimum is not None
    current.loc[3, "size"] = size.maximum + 1000 * (size.maximum - size.minimum)  # far, but kept
    kept, counts = monitor.leave_out_far_values(current, SCHEMA)
    assert counts == {"size": 2, "age": 1}
    assert len(kept) == 297 and kept["size"].isna().sum() == 0
    assert float(kept["size"].iloc[0]) == float(current["size"].iloc[3])


def test_markdown_lists_drifted_features_first() -> None:
    text = monitor.render_markdown(drift_of(shifted()), "https://example.com/run/1")
    assert text.startswith(
        "### Drift check: drift: 2 of 3 features drifted (67%, at or over monitor.drift_share 50%)"
    )
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| feature", "| size", "| colour", "| age"]
    assert rows[1].endswith("| **yes** |") and rows[3].endswith("| no |")
    assert "[this run](https://example.com/run/1)" in text


@pytest.mark.parametrize("text", ["", "{}", '{"verdict": "drift"}', "[1, 2]", "not json"])
def test_a_summary_that_is_not_the_monitors_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "drift.json").write_text(text)
    with pytest.raises(RatchetError, match="is not a drift summary written by"):
        monitor.load_summary(tmp_path / "drift.json")


# --- The command, in a project folder --------------------------------------------------------


@pytest.fixture
def trained_split(in_tmp: Path) -> Path:
    """A project folder after `prepare`: the training split is the monitor's reference."""
    (in_tmp / "data").mkdir()
    REFERENCE.to_csv(in_tmp / "data/table.csv", index=False)
    params = {**small_params(REGRESSION_DATA), "monitor": {"current": "data/current.csv"}}
    (in_tmp / "params.yaml").write_text(yaml.safe_dump(params))
    stages.prepare(load_params())
    return in_tmp


def test_monitor_command_exit_codes_and_outputs(
    trained_split: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shifted().drop(columns="price").to_csv("data/current.csv", index=False)  # inputs only
    assert main(["monitor"]) == monitor.DRIFT_EXIT_CODE == 3
    out = capsys.readouterr().out
    assert out.startswith(
        "monitor: compared 300 rows of the CSV at data/current.csv (monitor.current, since the "
        "prediction log at predictions holds 0 records, under monitor.min_rows: 200) with the "
        "training split artifacts/split/train.parquet (450 rows)\n"
        "monitor: drift: 2 of 3 features drifted"
    )
    assert out.endswith(
        "monitor: drift found, so the exit code is 3: a finding, not an error "
        "(errors exit 1). `make retrain` adds the new data and retrains\n"
    )
    summary = json.loads(DRIFT_SUMMARY.read_text())
    assert summary["verdict"] == "drift" and summary["current"]["path"] == "data/current.csv"
    assert summary["reference"] == {"path": "artifacts/split/train.parquet", "rows": 450}

    regression_frame(rows=300, seed=3).to_csv("data/current.csv", index=False)
    assert main(["monitor"]) == 0
    assert json.loads(DRIFT_SUMMARY.read_text())["verdict"] == "no drift"
    assert "drift found" not in capsys.readouterr().out


def test_the_report_is_one_self_contained_html_file(trained_split: Path) -> None:
    shifted().to_csv("data/current.csv", index=False)
    main(["monitor"])
    html = DRIFT_HTML.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") or html.lstrip().startswith("<html")
    assert "size" in html and "colour" in html
    assert not re.search(r"<script[^>]+src=", html, re.IGNORECASE)
    assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", html, re.IGNORECASE)
    assert not re.search(r"@import\s+url\(\s*[\"']?(https?:)?//", html, re.IGNORECASE)
    assert len(html) > 100_000  # the plotting library is inlined, not fetched
    # no analytics: Plotly's inlined bundle names a CDN only as the default for map outlines
    assert not re.search(r"googletagmanager|google-analytics|gtag\(|segment\.(io|com)", html)


def test_in_a_workflow_the_verdict_is_a_step_output_and_the_summary_is_shown(
    trained_split: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in actions_env(trained_split / "runner").items():
        monkeypatch.setenv(name, value)
    shifted().to_csv("data/current.csv", index=False)
    Path("runner/summary.md").write_text("earlier step\n")
    assert main(["monitor"]) == 0  # the verdict travels in the output
    assert Path("runner/output.txt").read_text() == "drift=true\n"
    summary = Path("runner/summary.md").read_text()
    assert summary.startswith("earlier step\n### Drift check: drift:")
    assert "the `drift-report` artifact of [this run](https://github.com/o/r/actions/runs/5)" in (
        summary
    )

    regression_frame(rows=300, seed=3).to_csv("data/current.csv", index=False)
    assert main(["monitor"]) == 0
    assert Path("runner/output.txt").read_text() == "drift=true\ndrift=false\n"


def test_broken_current_data_fails_and_leaves_no_verdict(
    trained_split: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shifted().to_csv("data/current.csv", index=False)
    main(["monitor"])
    assert DRIFT_SUMMARY.is_file()
    shifted().drop(columns="age").to_csv("data/current.csv", index=False)
    assert main(["monitor"]) == 1
    assert "lacks the feature column(s) 'age'" in capsys.readouterr().err
    assert not DRIFT_SUMMARY.exists() and not DRIFT_HTML.exists()


def test_monitor_without_a_training_split_says_what_to_run(in_tmp: Path) -> None:
    (in_tmp / "params.yaml").write_text(yaml.safe_dump(small_params(REGRESSION_DATA)))
    with pytest.raises(RatchetError, match=r"artifacts/schema.json not found: run `dvc repro`"):
        monitor.run_monitor(load_params())


@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy's overflow fails the test
def test_a_logged_1e300_prints_no_overflow_warning(
    trained_split: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = regression_frame(rows=300, seed=3)
    current.loc[[5, 9], "size"] = [1e300, -1e300]
    current.to_csv("data/current.csv", index=False)
    assert main(["monitor"]) == 0
    captured = capsys.readouterr()
    assert "Warning" not in captured.err
    assert "; 2 rows left out, holding values far outside the training range (size: 2)" in (
        captured.out
    )
    summary = json.loads(DRIFT_SUMMARY.read_text())
    assert summary["current"]["rows"] == 298
    assert summary["left_out"] == {"rows": 2, "out_of_range": {"size": 2}}


def test_a_batch_of_only_far_values_is_an_error(trained_split: Path) -> None:
    current = regression_frame(rows=300, seed=3)
    current["age"] = 1e300
    current.to_csv("data/current.csv", index=False)
    with pytest.raises(RatchetError, match=r"every one of the 300 rows .* \(age: 300\)"):
        monitor.run_monitor(load_params())


def test_the_monitor_opens_no_connection_and_starts_no_program(
    trained_split: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No usage data leaves the machine: Evidently's telemetry (iterative_telemetry, a request or
    a daemon process) would have to open a socket or start a process, and neither happens."""
    import socket
    import subprocess

    attempts: list[str] = []

    def refuse(kind: str) -> Callable[..., Any]:
        def attempt(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{kind}: {args[1:] or args}")
            raise OSError(f"the monitor tried to {kind}")

        return attempt

    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect"))
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("start a program"))
    shifted().to_csv("data/current.csv", index=False)
    assert main(["monitor"]) == monitor.DRIFT_EXIT_CODE
    assert attempts == []
