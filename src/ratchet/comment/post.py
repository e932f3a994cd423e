"""Post the PR report as one comment, from the privileged `workflow_run` job.

The artifact it reads was made by untrusted pull-request code, so nothing in it is run or trusted:
the PR number must be a plain number and the PR's live head the commit the report was made from;
the report is posted as text, under a first line that states the check's conclusion as GitHub
reports it, made inert (`inert.py`: no mention, no cross-reference) and cut to GitHub's limit,
over a last line that lists what the artifact holds. CML publishes no file the report links to,
starts with nothing of this job's environment, and reaches GitHub only through the relay
(`relay.py`), which lets it write our one comment and nothing else.
Standard library only: this runs with the system Python and no install.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ratchet.comment.inert import inert
from ratchet.comment.relay import Allowance, Relay, own_comment, serving, watermark
from ratchet.core.errors import RatchetError
from ratchet.core.process import call
from ratchet.github.api import GitHubAPI, message

WATERMARK = "ratchet-metrics-gate"
CONCLUSIONS = {
    "success": "✅ passed",
    "failure": "❌ failed",
    "cancelled": "⏹️ cancelled",
    "timed_out": "⏱️ timed out",
}
MAX_REPORT_BYTES = 65_000
COMMENT_LIMIT = 65_536  # the most characters GitHub takes in a comment
SHA = re.compile(r"[0-9a-f]{40}")
ARTIFACT = "metrics-report"  # what pr.yml uploads reports/pr/ as
PLAIN_NAME = re.compile(r"[\w.-]{1,100}/?", re.ASCII)  # a name the comment may show
MAX_LISTED = 30
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")  # a line that opens or closes a code block
MAX_FENCE = 64  # the longest fence the cut closes (a longer one stays open)
CUT_NOTE = (
    "\n\n---\n\n✂️ **The report is cut here**: it is longer than a GitHub comment can be. "
    f"The whole report is in the workflow run's artifact `{ARTIFACT}`."
)


@dataclass(frozen=True)
class Artifact:
    pr_number: int
    head_sha: str
    report: Path
    files: tuple[str, ...]  # what it holds: `name` for a file, `name/` for a folder


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
    return Artifact(int(number_text), head_sha, checked_report(folder), contents(folder))


def checked_report(folder: Path) -> Path:
    """The artifact's report.md, a plain file that GitHub would take."""
    report = folder / "report.md"
    if not report.is_file() or report.is_symlink():
        raise RatchetError(f"the artifact has no report.md in {folder}")
    if report.stat().st_size > MAX_REPORT_BYTES:
        raise RatchetError(f"{report} is over {MAX_REPORT_BYTES} bytes: GitHub would refuse it")
    return report


def contents(folder: Path) -> tuple[str, ...]:
    """What a folder holds: `name` for a file, `name/` for a folder."""
    return tuple(sorted(entry.name + ("/" if entry.is_dir() else "") for entry in folder.iterdir()))


def listing(files: tuple[str, ...]) -> str:
    """What the artifact holds, as read when the comment is made: the comment promises nothing
    else. Names are the pull request's, so one that is not plain is counted, not shown."""
    shown = [f"`{name}`" for name in files if PLAIN_NAME.fullmatch(name)][:MAX_LISTED]
    more = f" and {len(files) - len(shown)} more" if len(files) > len(shown) else ""
    return f"The workflow run's artifact `{ARTIFACT}` holds {', '.join(shown)}{more}."


def length(text: str) -> int:
    """A text's length in UTF-16 code units (as JavaScript counts): never fewer than its
    characters, so a text that fits by this count fits GitHub's limit."""
    return len(text.encode("utf-16-le")) // 2


def cut(text: str, room: int) -> str:
    """`text` if it fits in `room`; else as many of its whole lines as fit, and the note that
    says so (after closing a code block left open, so that the note shows as text)."""
    if length(text) <= room:
        return text
    budget = room - length(CUT_NOTE) - len("\n") - MAX_FENCE
    kept = text.encode("utf-16-le")[: 2 * budget].decode("utf-16-le", errors="ignore")
    kept = kept[: kept.rfind("\n") + 1] if "\n" in kept else kept
    fence = ""
    for line in kept.splitlines():
        found = FENCE.match(line)
        if found is None:
            continue
        marker = found.group(1)
        if not fence:
            fence = marker
        elif marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip(" `~"):
            fence = ""
    return kept + (f"\n{fence}" if 0 < len(fence) <= MAX_FENCE else "") + CUT_NOTE


def cml_tail(sha: str) -> str:
    """What CML appends to the text it posts: a blank line and its watermark."""
    return "\n\n" + watermark(WATERMARK, sha)


def compose(
    report: str,
    conclusion: str,
    run_url: str | None,
    files: tuple[str, ...],
    server: str = "https://github.com",
) -> str:
    """The comment: the check's conclusion as GitHub reports it, the PR-written report made inert,
    and what the artifact holds.

    The report is written by the pull request's code, so it could claim anything; the first and
    last lines are not, and a reader can tell them apart. With CML's watermark, it fits GitHub's
    limit. `server` is the GitHub the job runs on, whose URLs are references too.
    """
    said = CONCLUSIONS.get(conclusion, f"⚠️ {conclusion or 'unknown'}")
    run = f" ([workflow run]({run_url}))" if run_url else ""
    header = (
        f"**`metrics-gate`: {said}**, as the workflow run reports it{run}. The report below was "
        "written by this pull request's code.\n\n---\n\n"
    )
    footer = "\n\n---\n\n" + inert(listing(files), server)
    room = COMMENT_LIMIT - length(header) - length(footer) - length(cml_tail("0" * 40))
    return header + cut(inert(report, server), room) + footer


def cml_command(cml: Path, relay_url: str, repository: str, pr: int, text: Path) -> list[str]:
    """Every option on the command line: CML would read any option left out from CML_COMMENT_*
    variables. `--no-publish` above all, as publishing is CML's default: it would upload every
    local file the report links to."""
    return [
        str(cml),
        "comment",
        "update",
        f"--repo={relay_url}/{repository}",
        "--driver=github",
        "--no-publish",
        f"--watermark-title={WATERMARK}",
        f"--target=pr/{pr}",
        str(text),
    ]


def cml_environment(*, home: Path, sha: str, certificate: Path, token: str) -> dict[str, str]:
    """All that CML starts with; nothing else of this job's environment reaches it."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),  # node and git
        "HOME": str(home),  # CML runs `git config --global`: in a home of its own
        "GITHUB_SHA": sha,  # the watermark's commit (without one, the watermark never matches)
        "ITERATIVE_DO_NOT_TRACK": "1",  # no telemetry
        "NO_PROXY": "127.0.0.1",  # the relay is reached directly, whatever the proxy
        "NODE_EXTRA_CA_CERTS": str(certificate),  # the relay's certificate
        "REPO_TOKEN": token,  # the relay's, good for this run only
    }


def preview(
    folder: Path,
    run_head_sha: str | None,
    conclusion: str,
    run_url: str | None,
    server: str = "https://github.com",
) -> str:
    """The comment that `post` would write, from the artifact alone. Without the run's head
    commit, as for the reports/pr/ of a local `make pr-check` (which has no pull request, so
    writes no pr-number or head-sha), only the report is checked."""
    if run_head_sha is None:
        if not (folder / "report.md").exists():
            raise RatchetError(
                f"{folder} holds no report.md: run `make pr-check` first, or pass the artifact "
                "(--artifact)"
            )
        report, files = checked_report(folder), contents(folder)
    else:
        artifact = read_artifact(folder, run_head_sha)
        report, files = artifact.report, artifact.files
    return compose(read_text(report), conclusion, run_url, files, server)


def read_text(report: Path) -> str:
    return report.read_text(encoding="utf-8", errors="replace")


def last_words(output: str) -> str:
    """CML's error, from the last line it wrote: a JSON record whose `message` says it (the rest
    is a dump of the request), or plain text."""
    lines = output.strip().splitlines() or ["nothing"]
    try:
        record = json.loads(lines[-1])
    except ValueError:
        record = None
    said = record.get("message") if isinstance(record, dict) else None
    return str(said or lines[-1])[:300]


def post(
    folder: Path,
    run_head_sha: str,
    repository: str,
    *,
    api: GitHubAPI,
    cml: Path,
    conclusion: str = "",
    run_url: str | None = None,
    server: str = "https://github.com",
) -> str:
    """Create or update the PR's one comment, unless the PR has moved on (the newer run's
    comment follows)."""
    artifact = read_artifact(folder, run_head_sha)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        raise RatchetError("GITHUB_REPOSITORY must be set to owner/name")
    pr = artifact.pr_number
    live_head = api.pull_head(repository, pr)
    if live_head != artifact.head_sha:
        return (
            f"skipped: PR #{pr} is now at {live_head[:12]}, not {artifact.head_sha[:12]}; "
            "the newer run will comment"
        )
    body = compose(read_text(artifact.report), conclusion, run_url, artifact.files, server)
    ours = own_comment(api.issue_comments(repository, pr), WATERMARK, api.viewer_login())
    relay = Relay(api, Allowance(repository, pr, ours, body + cml_tail(artifact.head_sha)))
    with (
        tempfile.TemporaryDirectory(prefix="ratchet-comment-") as scratch,
        serving(relay) as (relay_url, certificate),
    ):
        text, home = Path(scratch) / "comment.md", Path(scratch) / "home"
        text.write_text(body, encoding="utf-8")
        home.mkdir()
        environment = cml_environment(
            home=home, sha=artifact.head_sha, certificate=certificate, token=relay.client_token
        )
        command = cml_command(cml.resolve(), relay_url, repository, pr, text)
        try:
            result = call(command, env=environment, inherit=False, cwd=Path(scratch), timeout=120)
        except RatchetError as exc:
            raise RatchetError(f"could not run CML ({cml}): {exc}") from None
    written = relay.written
    if result.returncode != 0 or written is None or written.status not in (200, 201):
        why = [f"CML exited {result.returncode}"]
        if written is not None and written.status not in (200, 201):
            why.append(f"GitHub answered {written.status}: {message(written.data)}")
        why += [f"the relay refused {refused}" for refused in relay.refused]
        why += [f"CML said: {last_words(result.stderr or result.stdout)}"]
        raise RatchetError(f"could not comment on PR #{pr}: {'; '.join(why)}")
    url = written.data.get("html_url") if isinstance(written.data, dict) else None
    return f"{'updated' if ours else 'created'} the comment on PR #{pr}: {url}"
