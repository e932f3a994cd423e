"""The privileged comment step: the artifact is validated as data, then CML gets one command.

`gh` and `cml` cannot run here (no GitHub, no CML on this registry mirror), so the end-to-end test
puts two recording stand-ins on PATH and checks the exact command lines they receive.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ratchet.core.errors import RatchetError
from ratchet.gate.comment import Artifact, cml_command, pr_head_command, read_artifact
from tests.conftest import ROOT

HEAD = "0123456789abcdef0123456789abcdef01234567"


def artifact(folder: Path, number: str = "42", head: str = HEAD) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "pr-number").write_text(number + "\n")
    (folder / "head-sha").write_text(head + "\n")
    (folder / "report.md").write_text("## ✅ Metrics gate passed\n")
    return folder


def test_the_exact_cml_command() -> None:
    found = Artifact(pr_number=42, head_sha=HEAD, report=Path("/tmp/a/report.md"))
    assert cml_command(found) == [
        "cml",
        "comment",
        "update",
        "--no-publish",
        "--watermark-title=ratchet-metrics-gate",
        "--target=pr/42",
        "/tmp/a/report.md",
    ]
    assert pr_head_command("o/r", 42) == ["gh", "api", "repos/o/r/pulls/42", "--jq", ".head.sha"]


@pytest.mark.parametrize(
    ("number", "head", "message"),
    [
        ("42; rm -rf /", HEAD, "is not a PR number"),
        ("0", HEAD, "is not a PR number"),
        ("\uff14\uff12", HEAD, "is not a PR number"),
        ("42", "f" * 40, "is not the commit"),
        ("42", "not-a-sha", "is not the commit"),
    ],
)
def test_forged_artifacts_are_refused(tmp_path: Path, number: str, head: str, message: str) -> None:
    with pytest.raises(RatchetError, match=message):
        read_artifact(artifact(tmp_path / "a", number, head), HEAD)


def test_missing_or_oversized_report(tmp_path: Path) -> None:
    folder = artifact(tmp_path / "a")
    (folder / "report.md").write_text("x" * 70_000)
    with pytest.raises(RatchetError, match="over 65000 bytes"):
        read_artifact(folder, HEAD)
    (folder / "report.md").unlink()
    with pytest.raises(RatchetError, match="no report.md"):
        read_artifact(folder, HEAD)
    (folder / "pr-number").unlink()
    with pytest.raises(RatchetError, match="incomplete"):
        read_artifact(folder, HEAD)


def recorder(bin_dir: Path, name: str, output: str) -> None:
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> {bin_dir}/calls\necho {output}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def run_comment(tmp_path: Path, live_head: str) -> subprocess.CompletedProcess[str]:
    """`make pr-comment` with the system-Python path the workflow uses (no venv needed)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorder(bin_dir, "gh", live_head)
    recorder(bin_dir, "cml", "https://github.com/o/r/pull/42#issuecomment-1")
    artifact(tmp_path / "metrics-report")
    event = tmp_path / "event.json"
    run = {"head_sha": HEAD, "conclusion": "failure", "html_url": "https://github.com/o/r/runs/9"}
    event.write_text(json.dumps({"workflow_run": run}))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_PATH": str(event),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_REPOSITORY": "o/r",
    }
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "pr-comment"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_comment_runs_gh_then_cml(tmp_path: Path) -> None:
    result = run_comment(tmp_path, HEAD)
    assert result.returncode == 0, result.stderr
    assert "commented on PR #42" in result.stdout
    posted = (tmp_path / "comment-42.md").read_text()
    assert posted.startswith(
        "**`metrics-gate`: ❌ failed**, as the workflow run reports it ([workflow run]"
        "(https://github.com/o/r/runs/9)). The report below was written by this pull request's "
        "code.\n\n---\n\n## ✅ Metrics gate passed"
    )  # the report says it passed; the run says it failed, and the run's word comes first
    calls = (tmp_path / "bin/calls").read_text().splitlines()
    assert [call.split(" ", 1)[1] for call in calls] == [
        "api repos/o/r/pulls/42 --jq .head.sha",
        "comment update --no-publish --watermark-title=ratchet-metrics-gate --target=pr/42 "
        f"{tmp_path}/comment-42.md",
    ]


def test_a_pr_that_moved_on_is_not_commented(tmp_path: Path) -> None:
    result = run_comment(tmp_path, "f" * 40)
    assert result.returncode == 0
    assert "skipped: PR #42 is now at ffffffffffff" in result.stdout
    assert len((tmp_path / "bin/calls").read_text().splitlines()) == 1  # gh only, no cml


def test_dry_run_prints_the_command(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorder(bin_dir, "gh", HEAD)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "o/r",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ratchet",
            "comment",
            "--artifact",
            str(artifact(tmp_path / "a")),
            "--run-head-sha",
            HEAD,
            "--dry-run",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout)[:3] == ["cml", "comment", "update"]


def test_the_comment_path_needs_only_the_standard_library(tmp_path: Path) -> None:
    """The comment job runs `python3 -m ratchet comment` with no install: no site-packages here."""
    code = (
        "import sys; sys.path.insert(0, 'src')\n"
        "from ratchet.__main__ import main\n"
        f"sys.exit(main(['comment', '--artifact', {str(tmp_path)!r}, '--run-head-sha', 'x']))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: the report artifact in")
