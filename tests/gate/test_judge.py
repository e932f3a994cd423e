"""The gate's verdicts from metrics and rules, and how it reads the base from git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from ratchet.core.errors import RatchetError
from ratchet.core.git import show
from ratchet.core.metrics import parse_metrics
from ratchet.core.settings import GateParams
from ratchet.gate.inputs import base_rules
from ratchet.gate.judge import GateResult, Measured, SliceMeasured, format_result, judge
from ratchet.gate.revision import Revision

RULES = GateParams.model_validate(
    {
        "metrics": {
            "rmse": {"better": "lower", "max_regression_pct": 2.0},
            "r2": {"better": "higher", "min": 0.5, "max_regression": 0.01},
        }
    }
)
BASE = {"rmse": 10.0, "r2": 0.80}


def verdict(
    new: dict[str, float] | None,
    base: dict[str, float] | None = BASE,
    rules: GateParams = RULES,
    *,
    problems: list[str] | None = None,
    intervals: dict[str, tuple[float, float]] | None = None,
    slices: list[SliceMeasured] | None = None,
    reset: bool = False,
) -> GateResult:
    """The verdict on measured metrics: paired when intervals are given, else recorded."""
    new = new or {}
    measured = {
        name: Measured(
            None if base is None else base.get(name),
            new.get(name),
            *(intervals or {}).get(name, (None, None)),
        )
        for name in rules.metrics
    }
    return judge(
        base="main",
        base_commit="a" * 40,
        rules=rules,
        thresholds_from="base",
        measured=measured,
        basis="none" if base is None else "paired" if intervals is not None else "recorded",
        basis_note="test",
        reported={"rmse", "mae", "r2"},
        slices=slices,
        reset=reset,
        problems=problems,
    )


def reasons(result: GateResult) -> list[str]:
    return [reason for check in [*result.checks, *result.slices] for reason in check.reasons]


def test_improvement_and_small_regressions_within_tolerance_pass() -> None:
    assert verdict({"rmse": 9.0, "r2": 0.85}).verdict == "pass"
    assert verdict({"rmse": 10.19, "r2": 0.791}).verdict == "pass"  # +1.9 %, -0.009


def test_regressions_past_tolerance_fail_and_name_metric_both_values_and_threshold() -> None:
    result = verdict({"rmse": 10.3, "r2": 0.78})
    assert result.verdict == "fail" and result.exit_code == 1
    assert reasons(result) == [
        "rmse regressed 10 → 10.3 (by 0.3, 3.00 %); allowed 2 %",
        "r2 regressed 0.8 → 0.78 (by 0.02, 2.50 %); allowed 0.01",
    ]
    rmse = result.checks[0]
    assert rmse.delta == pytest.approx(0.3) and rmse.delta_pct == pytest.approx(3.0)


def test_a_paired_regression_names_its_interval() -> None:
    result = verdict({"rmse": 10.3, "r2": 0.85}, intervals={"rmse": (0.1, 0.5), "r2": (0.0, 0.1)})
    assert reasons(result) == [
        "rmse regressed 10 → 10.3 (by 0.3, 3.00 %; 95% interval of the change +0.1 to +0.5); "
        "allowed 2 %"
    ]
    assert (result.checks[0].low, result.checks[0].high) == (0.1, 0.5)


def test_fail_on_interval_fails_only_when_the_whole_interval_regresses_past_the_limit() -> None:
    lenient = RULES.model_copy(update={"fail_on": "interval"})
    noisy = verdict({"rmse": 10.3, "r2": 0.85}, rules=lenient, intervals={"rmse": (-0.1, 0.7)})
    assert noisy.verdict == "pass"  # the interval reaches a change within the limit
    clear = verdict({"rmse": 10.5, "r2": 0.85}, rules=lenient, intervals={"rmse": (0.25, 0.8)})
    assert reasons(clear) == [
        "rmse regressed 10 → 10.5 (by 0.5, 5.00 %; 95% interval of the change +0.25 to +0.8) "
        "with all of its interval; allowed 2 %"
    ]
    point = verdict({"rmse": 10.3, "r2": 0.85}, intervals={"rmse": (-0.1, 0.7)})
    assert point.verdict == "fail"  # the default judges the measured change itself


def test_floor_applies_even_when_base_is_worse() -> None:
    result = verdict({"rmse": 9.0, "r2": 0.45}, base={"rmse": 10.0, "r2": 0.40})
    assert reasons(result) == ["r2 0.45 is below the floor 0.5"]


def test_without_tolerances_any_regression_fails() -> None:
    strict = GateParams.model_validate({"metrics": {"mae": {"better": "lower"}}})
    assert verdict({"mae": 0.9}, {"mae": 0.9}, strict).verdict == "pass"
    failed = verdict({"mae": 0.901}, {"mae": 0.9}, strict)
    assert reasons(failed) == [
        "mae regressed 0.9 → 0.901 (by 0.001, 0.11 %); no regression is allowed"
    ]


def test_ceiling() -> None:
    capped = GateParams.model_validate({"metrics": {"mae": {"better": "lower", "max": 5}}})
    assert reasons(verdict({"mae": 6.0}, {"mae": 7.0}, capped)) == ["mae 6 is above the ceiling 5"]


def test_bootstrap_only_when_the_base_has_no_metrics_file() -> None:
    result = verdict({"rmse": 9.0, "r2": 0.85}, base=None)
    assert result.verdict == "bootstrap" and result.exit_code == 0
    assert "BOOTSTRAP PASS" in format_result(result)
    assert verdict({"rmse": 9.0, "r2": 0.4}, base=None).verdict == "fail"  # bounds still apply


def test_a_baseline_reset_compares_nothing_but_keeps_the_bounds() -> None:
    regressed = verdict({"rmse": 50.0, "r2": 0.6}, reset=True)
    assert regressed.verdict == "reset" and regressed.exit_code == 0
    assert "BASELINE RESET" in format_result(regressed)
    assert verdict({"rmse": 50.0, "r2": 0.4}, reset=True).verdict == "fail"  # below the floor
    broken = verdict({"rmse": 9.0, "r2": 0.9}, reset=True, problems=["dvc.lock is stale"])
    assert broken.verdict == "fail"  # a reset never excuses an unreproduced branch


def test_fails_closed() -> None:
    assert verdict(None).verdict == "fail"  # no metrics on the branch: training failed
    missing = verdict({"rmse": 9.0})
    assert reasons(missing) == ["r2 is missing from this branch's metrics"]
    base_lacks = verdict({"rmse": 9.0, "r2": 0.9}, base={"rmse": 10.0})
    assert reasons(base_lacks)[0].startswith("r2 is missing from the base's metrics: ")
    problem = verdict({"rmse": 9.0, "r2": 0.9}, base=None, problems=["unknown base revision"])
    assert problem.verdict == "fail"  # a problem is never a bootstrap


def test_a_metric_the_task_does_not_report_asks_for_a_baseline_reset() -> None:
    classification = GateParams.model_validate(
        {"metrics": {"accuracy": {"better": "higher", "max_regression": 0.01}}}
    )
    result = verdict({"rmse": 9.0}, base={"accuracy": 0.9}, rules=classification)
    assert reasons(result) == [
        "this branch's task does not report accuracy: a change of data, target, task or metrics "
        "is a baseline reset: a maintainer approves it with the label `baseline-reset` on the "
        "pull request's latest commit"
    ]


SLICED = GateParams.model_validate(
    {
        "slices": {"columns": ["colour"], "min_rows": 20},
        "metrics": {
            "rmse": {"better": "lower", "max_regression_pct": 2.0, "slice_max_regression_pct": 10.0}
        },
    }
)


def slice_of(value: str, rows: int, base: float, new: float) -> SliceMeasured:
    return SliceMeasured(
        "colour", value, rows, {"rmse": Measured(base, new, new - base, new - base)}
    )


def test_a_slice_past_its_limit_fails_the_gate_and_a_small_one_is_only_flagged() -> None:
    slices = [
        slice_of("red", 50, 10.0, 10.5),  # +5 %: within the slice limit
        slice_of("green", 40, 10.0, 12.0),  # +20 %: past it
        slice_of("blue", 5, 10.0, 20.0),  # +100 %, but 5 rows: not gated
    ]
    result = verdict(
        {"rmse": 10.1}, {"rmse": 10.0}, SLICED, intervals={"rmse": (0.0, 0.2)}, slices=slices
    )
    assert result.verdict == "fail"
    assert reasons(result) == [
        "rmse where colour is 'green' regressed 10 → 12 (by 2, 20.00 %; 95% interval of the "
        "change +2 to +2); allowed 10 %"
    ]
    blue = next(check for check in result.slices if check.value == "blue")
    assert blue.small and not blue.gated and blue.passed
    assert (
        verdict(
            {"rmse": 10.1},
            {"rmse": 10.0},
            SLICED,
            intervals={"rmse": (0.0, 0.2)},
            slices=slices[:1] + slices[2:],
        ).verdict
        == "pass"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "non-empty JSON object"),
        ("{}", "non-empty JSON object"),
        ('{"rmse": "low"}', "'rmse' is 'low', not a finite number"),
        ('{"rmse": NaN}', "not a finite number"),
        ('{"ok": true}', "not a finite number"),
    ],
)
def test_corrupt_metrics_are_errors(text: str, message: str) -> None:
    with pytest.raises(RatchetError, match=message):
        parse_metrics(text, "reports/metrics.json")


@pytest.mark.parametrize("value", ["10**400", '"abc"', "true", "null", "NaN"])
def test_metrics_that_are_not_finite_numbers_are_refused(value: str) -> None:
    text = '{"rmse": ' + (str(10**400) if value == "10**400" else value) + "}"
    with pytest.raises(RatchetError, match="'rmse' is .* not a finite number"):
        parse_metrics(text, "reports/metrics.json")


def test_a_nan_bound_is_refused_not_ignored() -> None:
    # `r2 < nan` is always false: a NaN floor would switch the floor off
    with pytest.raises(ValidationError):
        GateParams.model_validate({"metrics": {"r2": {"better": "higher", "min": float("nan")}}})


def commit_files(repo: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "base"], cwd=repo, check=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "config", "user.email", "t@example.com"], cwd=tmp_path, check=True)
    subprocess.run(["git", "config", "user.name", "T"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_base_file_git_cannot_read_is_an_error_not_a_bootstrap(repo: Path) -> None:
    commit = commit_files(repo, {"reports/metrics.json": '{"rmse": 1.0}', "README.md": "x"})
    assert show(commit, Path("README.md")) == "x"
    assert show(commit, Path("reports/other.json")) is None  # absent: the bootstrap case
    blob = subprocess.run(
        ["git", "rev-parse", f"{commit}:reports/metrics.json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (repo / ".git/objects" / blob[:2] / blob[2:]).unlink()  # as a partial clone leaves it
    with pytest.raises(RatchetError, match="cannot read reports/metrics.json.*fetch-depth: 0"):
        show(commit, Path("reports/metrics.json"))


@pytest.mark.parametrize(
    ("text", "message"),
    [("gate: [1\n", "is not valid YAML: .*"), ("- a\n- b\n", "must be a YAML mapping")],
)
def test_a_broken_base_params_yaml_fails_the_gate_with_a_message(
    repo: Path, text: str, message: str
) -> None:
    commit = commit_files(repo, {"params.yaml": text})
    with pytest.raises(RatchetError, match=f"params.yaml {message}.*base branch.*fix it there"):
        base_rules(Revision.read(commit), RULES)
