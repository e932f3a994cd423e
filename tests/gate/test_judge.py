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
from ratchet.gate.judge import GateResult, format_result, judge

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
    problems: list[str] | None = None,
) -> GateResult:
    return judge(
        base="main",
        base_commit="a" * 40,
        base_metrics=base,
        new_metrics=new,
        rules=rules,
        thresholds_from="base",
        problems=problems,
    )


def reasons(result: GateResult) -> list[str]:
    return [reason for check in result.checks for reason in check.reasons]


def test_improvement_and_small_regressions_within_tolerance_pass() -> None:
    assert verdict({"rmse": 9.0, "r2": 0.85}).verdict == "pass"
    assert verdict({"rmse": 10.19, "r2": 0.791}).verdict == "pass"  # +1.9 %, -0.009


def test_regressions_past_tolerance_fail_and_name_metric_and_threshold() -> None:
    result = verdict({"rmse": 10.3, "r2": 0.78})
    assert result.verdict == "fail" and result.exit_code == 1
    assert reasons(result) == [
        "rmse regressed 10 → 10.3 (by 3.00 %, allowed 2 %)",
        "r2 regressed 0.8 → 0.78 (by 0.02, allowed 0.01)",
    ]
    rmse = result.checks[0]
    assert rmse.delta == pytest.approx(0.3) and rmse.delta_pct == pytest.approx(3.0)


def test_floor_applies_even_when_base_is_worse() -> None:
    result = verdict({"rmse": 9.0, "r2": 0.45}, base={"rmse": 10.0, "r2": 0.40})
    assert reasons(result) == ["r2 0.45 is below the floor 0.5"]


def test_without_tolerances_any_regression_fails() -> None:
    strict = GateParams.model_validate({"metrics": {"accuracy": {"better": "higher"}}})
    assert verdict({"accuracy": 0.9}, {"accuracy": 0.9}, strict).verdict == "pass"
    failed = verdict({"accuracy": 0.899}, {"accuracy": 0.9}, strict)
    assert reasons(failed) == ["accuracy regressed 0.9 → 0.899; no regression is allowed"]


def test_ceiling() -> None:
    capped = GateParams.model_validate({"metrics": {"latency": {"better": "lower", "max": 5}}})
    assert reasons(verdict({"latency": 6.0}, {"latency": 7.0}, capped)) == [
        "latency 6 is above the ceiling 5"
    ]


def test_bootstrap_only_when_the_base_has_no_metrics_file() -> None:
    result = verdict({"rmse": 9.0, "r2": 0.85}, base=None)
    assert result.verdict == "bootstrap" and result.exit_code == 0
    assert "BOOTSTRAP PASS" in format_result(result)
    assert verdict({"rmse": 9.0, "r2": 0.4}, base=None).verdict == "fail"  # bounds still apply


def test_fails_closed() -> None:
    assert verdict(None).verdict == "fail"  # no metrics on the branch: training failed
    missing = verdict({"rmse": 9.0})
    assert reasons(missing) == ["r2 is missing from this branch's reports/metrics.json"]
    base_lacks = verdict({"rmse": 9.0, "r2": 0.9}, base={"rmse": 10.0})
    assert reasons(base_lacks) == ["r2 is missing from the base's reports/metrics.json"]
    problem = verdict({"rmse": 9.0, "r2": 0.9}, base=None, problems=["unknown base revision"])
    assert problem.verdict == "fail"  # a problem is never a bootstrap


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
        base_rules(commit, RULES)
