"""Post the PR report as one comment, from the privileged `workflow_run` job.

The artifact it reads was made by untrusted pull-request code, so nothing in it is run or trusted:
the PR number must be a plain number, the PR's live head commit must be the commit the report was
made from, and CML never publishes a file the report links to.
Standard library only: this runs with the system Python and no install.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ratchet.core.errors import RatchetError

WATERMARK = "ratchet-metrics-gate"
CONCLUSIONS = {
    "success": "✅ passed",
    "failure": "❌ failed",
    "cancelled": "⏹️ cancelled",
    "timed_out": "⏱️ timed out",
}
MAX_REPORT_BYTES = 65_000
SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Artifact:
    pr_number: int
    head_sha: str
    report: Path


def read_artifact(folder: Path, run_head_sha: str) -> Artifact:
    """Validate what the pull-request run uploaded: pr-number, head-sha, report.md."""
    try:
        number_text = (folder / "pr-number").read_text().strip()
        head_sha = (folder / "head-sha").read_text().strip()
    except OSError as exc:
        raise RatchetError(f"the report artifact in {folder} is incomplete: {exc}") from None
    if not number_text.isascii() or not number_text.isdigit() or not 0 < int(number_text) < 10**9:
        raise RatchetError(f"the artifact's pr-number {number_text[:40]!r} is not a PR number")
    if not SHA.fullmatch(head_sha) or head_sha != run_head_sha:
        raise RatchetError(
            f"the artifact's head-sha {head_sha[:40]!r} is not the commit the workflow run "
            f"built ({run_head_sha}); refusing to comment"
        )
    report = folder / "report.md"
    if not report.is_file() or report.is_symlink():
        raise RatchetError(f"the artifact has no report.md in {folder}")
    if report.stat().st_size > MAX_REPORT_BYTES:
        raise RatchetError(f"{report} is over {MAX_REPORT_BYTES} bytes: GitHub would refuse it")
    return Artifact(pr_number=int(number_text), head_sha=head_sha, report=report)


def pr_head_command(repository: str, pr_number: int) -> list[str]:
    return ["gh", "api", f"repos/{repository}/pulls/{pr_number}", "--jq", ".head.sha"]


def cml_command(artifact: Artifact) -> list[str]:
    """One comment per PR, updated in place (found by its watermark); nothing published."""
    return [
        "cml",
        "comment",
        "update",
        "--no-publish",
        f"--watermark-title={WATERMARK}",
        f"--target=pr/{artifact.pr_number}",
        str(artifact.report),
    ]


def compose(report: str, conclusion: str, run_url: str | None) -> str:
    """The comment: the check's conclusion as GitHub reports it, then the PR-written report.

    The report is written by the pull request's code, so it could claim anything; the first line
    is not, and a reader can tell the two apart.
    """
    said = CONCLUSIONS.get(conclusion, f"⚠️ {conclusion or 'unknown'}")
    run = f" ([workflow run]({run_url}))" if run_url else ""
    header = (
        f"**`metrics-gate`: {said}**, as the workflow run reports it{run}. The report below was "
        "written by this pull request's code.\n\n---\n\n"
    )
    return header + report


def post(
    folder: Path,
    run_head_sha: str,
    repository: str,
    *,
    conclusion: str = "",
    run_url: str | None = None,
    dry_run: bool = False,
) -> str:
    """Comment on the PR, unless it has moved on (the newer run comments then)."""
    artifact = read_artifact(folder, run_head_sha)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        raise RatchetError("GITHUB_REPOSITORY must be set to owner/name")
    lookup = subprocess.run(
        pr_head_command(repository, artifact.pr_number), capture_output=True, text=True, check=False
    )
    if lookup.returncode != 0:
        raise RatchetError(f"could not read PR #{artifact.pr_number}: {lookup.stderr.strip()}")
    live_head = lookup.stdout.strip()
    if live_head != artifact.head_sha:
        return (
            f"skipped: PR #{artifact.pr_number} is now at {live_head[:12]}, not "
            f"{artifact.head_sha[:12]}; the newer run will comment"
        )
    body = folder.parent / f"comment-{artifact.pr_number}.md"
    body.write_text(
        compose(artifact.report.read_text(encoding="utf-8", errors="replace"), conclusion, run_url)
    )
    artifact = Artifact(artifact.pr_number, artifact.head_sha, body)
    command = cml_command(artifact)
    if dry_run:
        return json.dumps(command)
    posted = subprocess.run(command, capture_output=True, text=True, check=False)
    if posted.returncode != 0:
        raise RatchetError(f"cml comment failed: {posted.stderr.strip() or posted.stdout.strip()}")
    return f"commented on PR #{artifact.pr_number}: {posted.stdout.strip()}"
