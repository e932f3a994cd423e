"""Post the PR report as one comment, from the privileged `workflow_run` job.

The artifact it reads was made by untrusted pull-request code, so nothing in it is run or trusted:
the PR number must be a plain number, the PR's live head commit must be the commit the report was
made from, and, when images are published, the report may link only its own charts.
Standard library only: this runs with the system Python and no install.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ratchet.errors import RatchetError

WATERMARK = "ratchet-metrics-gate"
CML_VERSION = "0.20.6"
MAX_REPORT_BYTES = 65_000
SHA = re.compile(r"[0-9a-f]{40}")
# What `report --images` writes beside report.md: the only local files a comment may publish.
PUBLISHABLE = frozenset({"predicted_vs_actual.png", "roc.png"})
LINK_TARGETS = re.compile(
    r"\]\(\s*<?([^)\s>]*)"  # [text](target) and ![alt](target)
    r"|^ {0,3}\[[^\]]*\]:\s*<?([^\s>]*)"  # [label]: target
    r"|<([a-z][a-z0-9+.-]{1,31}:[^<>\s]*)>"  # <scheme:target>
    r"|\b(?:src|href)\s*=\s*[\"']?([^\"'\s>]*)",  # HTML attributes
    re.IGNORECASE | re.MULTILINE,
)


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


def check_publishable(artifact: Artifact) -> None:
    """With --publish, CML uploads every local file the Markdown links to, to a public host.

    report.md was written by pull-request code, so a forged one could link `/proc/self/environ`
    and publish this job's token. Only the report's own charts, as plain files, may be linked.
    """
    text = artifact.report.read_text(encoding="utf-8", errors="replace")
    for match in LINK_TARGETS.finditer(text):
        target = next(group for group in match.groups() if group is not None)
        if target.startswith("https://"):
            continue
        path = artifact.report.parent / target
        if target in PUBLISHABLE and path.is_file() and not path.is_symlink():
            continue
        raise RatchetError(
            f"report.md links {target[:80]!r}, which is not one of the report's charts; "
            "refusing to publish it (unset RATCHET_PUBLISH_IMAGES to comment without images)"
        )


def pr_head_command(repository: str, pr_number: int) -> list[str]:
    return ["gh", "api", f"repos/{repository}/pulls/{pr_number}", "--jq", ".head.sha"]


def cml_command(artifact: Artifact, publish: bool = False) -> list[str]:
    """One comment per PR, updated in place (found by its watermark)."""
    return [
        "cml",
        "comment",
        "update",
        "--publish" if publish else "--no-publish",
        f"--watermark-title={WATERMARK}",
        f"--target=pr/{artifact.pr_number}",
        str(artifact.report),
    ]


def post(folder: Path, run_head_sha: str, *, publish: bool = False, dry_run: bool = False) -> str:
    """Comment on the PR, unless it has moved on (the newer run comments then)."""
    artifact = read_artifact(folder, run_head_sha)
    if publish:
        check_publishable(artifact)
    repository = os.environ.get("GITHUB_REPOSITORY", "")
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
    command = cml_command(artifact, publish)
    if dry_run:
        return json.dumps(command)
    posted = subprocess.run(command, capture_output=True, text=True, check=False)
    if posted.returncode != 0:
        raise RatchetError(f"cml comment failed: {posted.stderr.strip() or posted.stdout.strip()}")
    return f"commented on PR #{artifact.pr_number}: {posted.stdout.strip()}"
