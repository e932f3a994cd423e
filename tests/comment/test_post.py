"""The privileged comment step: the artifact is validated as data, the report posted as text under
the run's own verdict, and CML, started with nothing of the job's environment, writes our one
comment through the relay.

The end-to-end tests run `make pr-comment` as the workflow does, against a fake GitHub API on
loopback (`fake_github.py`), with CML itself where it can be built here (see the `cml` fixture),
and with a stand-in that makes CML's choices (`cml_stand_in.py`) everywhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ratchet.comment.inert import ZERO_WIDTH_SPACE
from ratchet.comment.post import (
    COMMENT_LIMIT,
    CUT_NOTE,
    cml_command,
    cml_environment,
    cml_tail,
    compose,
    length,
    read_artifact,
)
from ratchet.core.errors import RatchetError
from tests.comment.conftest import CML_COMMIT, cml_source, stand_in
from tests.comment.test_inert import CONTEXTS, MENTIONS, REFERENCES, github_links
from tests.conftest import ROOT
from tests.fake_github import HEAD, TOKEN, FakeGitHub, cml_watermark

PASSED = "## ✅ Metrics gate passed\n"
# What the check's artifact holds (reports/pr/), and the comment's last line, which says so.
FILES = ("gate.json", "head-sha", "pr-number", "report.md", "reproduced/", "reproduction.json")
HOLDS = (
    "\n\n---\n\nThe workflow run's artifact `metrics-report` holds `gate.json`, `head-sha`, "
    "`pr-number`, `report.md`, `reproduced/`, `reproduction.json`."
)


def artifact(folder: Path, number: str = "42", head: str = HEAD, report: str = PASSED) -> Path:
    """The artifact as the PR check uploads it."""
    folder.mkdir(exist_ok=True)
    (folder / "pr-number").write_text(number + "\n")
    (folder / "head-sha").write_text(head + "\n")
    (folder / "report.md").write_text(report)
    (folder / "gate.json").write_text("{}\n")
    (folder / "reproduction.json").write_text("{}\n")
    (folder / "reproduced").mkdir(exist_ok=True)
    (folder / "reproduced/dvc.lock").write_text("schema: '2.0'\n")
    return folder


# --- The artifact and the comment's text --------------------------------------------------------


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


def test_the_artifacts_contents_are_listed_as_read(tmp_path: Path) -> None:
    folder = artifact(tmp_path / "a")
    assert read_artifact(folder, HEAD).files == FILES
    (folder / "plots.html").write_text("<html></html>")
    (folder / "`@alice #1`.md").write_text("a name to show nobody")
    assert set(read_artifact(folder, HEAD).files) == {*FILES, "plots.html", "`@alice #1`.md"}
    body = compose(PASSED, "success", None, read_artifact(folder, HEAD).files)
    assert body.endswith(
        "holds `gate.json`, `head-sha`, `plots.html`, `pr-number`, `report.md`, `reproduced/`, "
        "`reproduction.json` and 1 more."
    )


def test_the_header_states_the_runs_conclusion_whatever_the_report_claims() -> None:
    body = compose(PASSED, "failure", "https://github.com/o/r/actions/runs/9", FILES)
    assert body == (
        "**`metrics-gate`: ❌ failed**, as the workflow run reports it ([workflow run]"
        "(https://github.com/o/r/actions/runs/9)). The report below was written by this pull "
        "request's code.\n\n---\n\n" + PASSED + HOLDS
    )
    unknown = compose(PASSED, "", None, FILES)
    assert unknown.startswith("**`metrics-gate`: ⚠️ unknown**, as the workflow")


def test_a_report_over_githubs_limit_is_cut_with_a_note() -> None:
    report = "## Report\n\n```text\n" + "a row of the table 😀\n" * 4000
    body = compose(report, "success", None, FILES)
    assert length(report) > COMMENT_LIMIT >= length(body + cml_tail(HEAD))
    kept, note = body.split(CUT_NOTE)
    assert note == HOLDS and kept.endswith("a row of the table 😀\n\n```")  # the block closed
    assert compose("short\n", "success", None, FILES).endswith("short\n" + HOLDS)


def test_the_exact_cml_command_and_its_whole_environment(tmp_path: Path) -> None:
    command = cml_command(
        Path("/c/bin/cml.js"), "https://127.0.0.1:8443", "o/r", 42, Path("/t/c.md")
    )
    assert command == [
        "/c/bin/cml.js",
        "comment",
        "update",
        "--repo=https://127.0.0.1:8443/o/r",
        "--driver=github",
        "--no-publish",
        "--watermark-title=ratchet-metrics-gate",
        "--target=pr/42",
        "/t/c.md",
    ]
    environment = cml_environment(
        home=Path("/t/home"), sha=HEAD, certificate=Path("/t/relay.pem"), token="per-run"
    )
    assert environment == {
        "PATH": os.environ["PATH"],
        "HOME": "/t/home",
        "GITHUB_SHA": HEAD,
        "ITERATIVE_DO_NOT_TRACK": "1",
        "NO_PROXY": "127.0.0.1",
        "NODE_EXTRA_CA_CERTS": "/t/relay.pem",
        "REPO_TOKEN": "per-run",
    }


def test_dry_run_prints_the_comment_and_contacts_nothing(tmp_path: Path) -> None:
    command = ["comment", "--artifact", str(artifact(tmp_path / "a")), "--run-head-sha", HEAD]
    result = subprocess.run(
        [sys.executable, "-m", "ratchet", *command, "--dry-run"],
        env={**os.environ, "GITHUB_ACTIONS": "false"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == compose(PASSED, "", None, FILES) + "\n"


def test_the_comment_path_needs_only_the_standard_library(tmp_path: Path) -> None:
    """The comment job runs `python3 -m ratchet comment` with no install: no site-packages here."""
    command = ["comment", "--artifact", str(tmp_path), "--run-head-sha", "x", "--cml", "cml.js"]
    code = (
        "import sys; sys.path.insert(0, 'src')\n"
        "from ratchet.__main__ import main\n"
        f"sys.exit(main({command!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        cwd=ROOT,
        env={**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "t"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: the report artifact in")


# --- Posting, end to end -------------------------------------------------------------------------


def make_pr_comment(
    tmp_path: Path,
    github: FakeGitHub,
    cml: Path,
    certificate: tuple[Path, Path],
    report: str = PASSED,
) -> subprocess.CompletedProcess[str]:
    """`make pr-comment` in a workflow_run job whose check failed, for PR 42 at HEAD. The job's
    environment also holds what would change CML's doings if it reached CML."""
    tmp_path.mkdir(exist_ok=True)
    artifact(tmp_path / "metrics-report", report=report)
    run = {"head_sha": HEAD, "conclusion": "failure", "html_url": "https://github.com/o/r/runs/9"}
    (tmp_path / "event.json").write_text(json.dumps({"workflow_run": run}))
    (tmp_path / "evil.js").write_text(
        f"require('fs').writeFileSync({json.dumps(str(tmp_path / 'node-options-ran'))}, '')"
    )
    job = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_SERVER_URL": "https://ghe.example.com",  # a GitHub Enterprise Server
        "GITHUB_API_URL": github.api_url,
        "GITHUB_TOKEN": TOKEN,
        "SSL_CERT_FILE": str(certificate[0]),  # Python trusts the fake API as it trusts GitHub
    }
    never_for_cml = {
        "NODE_OPTIONS": f"--require={tmp_path / 'evil.js'}",  # code that CML would run
        "CML_COMMENT_TOKEN": TOKEN,  # the job's token, which CML would send to the relay
        "GITHUB_EVENT_NAME": "pull_request",  # CML would read the PR's head from the event
    }
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "pr-comment", f"CML_DIR={cml.parents[1]}"],
        cwd=ROOT,
        env={**os.environ, **job, **never_for_cml},
        capture_output=True,
        text=True,
    )
    assert not (tmp_path / "node-options-ran").exists()
    assert github.uploads == []
    return result


def posted(result: subprocess.CompletedProcess[str], github: FakeGitHub) -> list[str]:
    """What GitHub was asked to write, after a run that succeeded."""
    assert result.returncode == 0, result.stdout + result.stderr
    return [
        f"{call.method} {call.path.removeprefix('/api/v3/repos/o/r')}" for call in github.writes()
    ]


def test_a_foreign_watermark_is_never_edited_and_never_blocks(
    tmp_path: Path, github: FakeGitHub, poster: Path, certificate: tuple[Path, Path]
) -> None:
    """45 comments: mallory's 10th quotes the watermark, our report is the 40th (beyond the 30
    comments CML reads)."""
    github.seed(45, ours=(40,), foreign=(10,))
    before = github.by_id()[1010]["body"]
    result = make_pr_comment(tmp_path, github, poster, certificate)
    assert posted(result, github) == ["PATCH /issues/comments/1040"]
    assert (
        "updated the comment on PR #42: https://github.example/o/r/pull/42#issuecomment-1040"
        in (result.stdout)
    )
    assert github.by_id()[1010]["body"] == before and len(github.comments) == 45
    assert github.by_id()[1040]["body"] == compose(
        PASSED, "failure", "https://github.com/o/r/runs/9", FILES
    ) + "\n\n" + cml_watermark(HEAD)


def test_our_comment_is_found_on_the_third_page(
    tmp_path: Path, github: FakeGitHub, poster: Path, certificate: tuple[Path, Path]
) -> None:
    github.seed(250, ours=(240,), foreign=(10, 245))
    result = make_pr_comment(tmp_path, github, poster, certificate)
    assert posted(result, github) == ["PATCH /issues/comments/1240"]
    reads = [
        call.query.get("page", ["1"]) for call in github.calls if call.path.endswith("/comments")
    ]
    assert reads == [["1"], ["2"], ["3"]]


def test_with_no_comment_yet_one_is_created_then_updated(
    tmp_path: Path, github: FakeGitHub, poster: Path, certificate: tuple[Path, Path]
) -> None:
    github.seed(3, foreign=(2,))
    first = make_pr_comment(tmp_path / "first", github, poster, certificate)
    assert posted(first, github) == ["POST /issues/42/comments"]
    second = make_pr_comment(tmp_path / "second", github, poster, certificate, report="## v2\n")
    assert posted(second, github) == ["POST /issues/42/comments", "PATCH /issues/comments/1004"]
    assert len(github.comments) == 4 and "## v2" in github.comments[-1]["body"]


def test_the_posted_report_is_honest(
    tmp_path: Path, github: FakeGitHub, poster: Path, certificate: tuple[Path, Path]
) -> None:
    """The run's conclusion first, whatever the report claims; mentions that notify nobody; a
    report cut to GitHub's limit (the fake refuses a longer body, as GitHub does)."""
    mentions = ("@a " * 33 + "\n") * 640  # 64,000 bytes; each @ defused is one character more
    report = PASSED + "Reviewed by @alice and @acme/ml-team.\n" + mentions
    result = make_pr_comment(tmp_path, github, poster, certificate, report=report)
    assert posted(result, github) == ["POST /issues/42/comments"]
    body = github.comments[-1]["body"]
    assert body.startswith("**`metrics-gate`: ❌ failed**, as the workflow run reports it")
    assert "Reviewed by @\u200balice and @\u200bacme/ml-team." in body
    assert len(body) <= 65_536 and body.endswith(CUT_NOTE + HOLDS + "\n\n" + cml_watermark(HEAD))


def test_the_posted_comment_mentions_and_references_nothing(
    tmp_path: Path, github: FakeGitHub, poster: Path, certificate: tuple[Path, Path]
) -> None:
    """Every spelling of a mention and of a cross-reference, in text, in an HTML block and in
    code, one to a line: as posted, GitHub would link none of them."""
    lines = [
        context.format(spelling).replace("\n", " ")
        for spelling in [*MENTIONS.values(), *REFERENCES.values()]
        for context in CONTEXTS.values()
    ]
    report = PASSED + "<div>\n\n" + "\n\n".join(lines) + "\n\n</div>\n"
    result = make_pr_comment(tmp_path, github, poster, certificate, report=report)
    assert posted(result, github) == ["POST /issues/42/comments"]
    body = github.comments[-1]["body"].removesuffix(cml_watermark(HEAD))  # an image's URL
    assert body.count(ZERO_WIDTH_SPACE) >= len(lines)  # each line is there, made inert
    linked = {line: github_links(line) for line in body.splitlines() if github_links(line)}
    assert linked == {}


def test_the_comment_promises_only_what_the_artifact_holds(
    tmp_path: Path, github: FakeGitHub, poster: Path, certificate: tuple[Path, Path]
) -> None:
    """The comment's last line lists the artifact as the job downloaded it; the report, as the
    gate writes it, promises nothing of its own (see tests/gate/test_report.py)."""
    result = make_pr_comment(tmp_path, github, poster, certificate)
    assert posted(result, github) == ["POST /issues/42/comments"]
    assert github.comments[-1]["body"].endswith(HOLDS + "\n\n" + cml_watermark(HEAD))
    assert sorted(path.name for path in (tmp_path / "metrics-report").iterdir()) == [
        name.rstrip("/") for name in FILES
    ]


def test_an_app_tokens_comment_is_found_and_updated(
    tmp_path: Path, github: FakeGitHub, poster: Path, certificate: tuple[Path, Path]
) -> None:
    """Posted with a GitHub App's token: its comment is ours, and no second one is made; the
    GITHUB_TOKEN's comment of an earlier run is not ours (and not edited)."""
    github.seed(12, ours=(3,), foreign=(10,))  # by github-actions[bot]
    github.login = "ratchet-app[bot]"
    github.seed(45, ours=(40,), foreign=(7,))  # 45 more: the App's report is the 52nd comment
    ours, earlier = 1052, github.by_id()[1003]["body"]
    first = make_pr_comment(tmp_path / "first", github, poster, certificate)
    second = make_pr_comment(tmp_path / "second", github, poster, certificate, report="## v2\n")
    assert posted(second, github) == [f"PATCH /issues/comments/{ours}"] * 2
    assert first.returncode == 0 and len(github.comments) == 57
    assert github.by_id()[ours]["body"].startswith("**`metrics-gate`: ❌ failed**")
    assert "## v2" in github.by_id()[ours]["body"] and github.by_id()[1003]["body"] == earlier


def test_a_pr_that_moved_on_is_not_commented(
    tmp_path: Path, github: FakeGitHub, certificate: tuple[Path, Path]
) -> None:
    github.head = "f" * 40
    poster = stand_in(tmp_path / "stand-in")
    result = make_pr_comment(tmp_path, github, poster, certificate)
    assert result.returncode == 0, result.stderr
    assert "skipped: PR #42 is now at ffffffffffff" in result.stdout
    assert github.writes() == [] and not (tmp_path / "stand-in" / "calls").exists()


def test_cml_starts_with_its_own_environment_and_a_token_for_the_relay(
    tmp_path: Path, github: FakeGitHub, certificate: tuple[Path, Path]
) -> None:
    poster = stand_in(tmp_path / "stand-in")
    result = make_pr_comment(tmp_path, github, poster, certificate)
    assert posted(result, github) == ["POST /issues/42/comments"]
    (call,) = [json.loads(line) for line in (tmp_path / "stand-in/calls").read_text().splitlines()]
    assert set(call["env"]) == {
        "PATH",
        "HOME",
        "GITHUB_SHA",
        "ITERATIVE_DO_NOT_TRACK",
        "NO_PROXY",
        "NODE_EXTRA_CA_CERTS",
        "REPO_TOKEN",
    }
    assert call["env"]["REPO_TOKEN"] != TOKEN and call["env"]["GITHUB_SHA"] == HEAD


def test_a_refused_post_says_why(
    tmp_path: Path, github: FakeGitHub, poster: Path, certificate: tuple[Path, Path]
) -> None:
    github.writable = False  # a token without `pull-requests: write`
    result = make_pr_comment(tmp_path, github, poster, certificate)
    assert result.returncode != 0
    assert result.stderr.splitlines()[0] == (
        "error: could not comment on PR #42: CML exited 1; GitHub answered 403: Resource not "
        "accessible by integration; CML said: Resource not accessible by integration"
    )


# --- Nothing the report names is read or published: with CML itself -----------------------------

BYPASSES = {
    "a link through ..": "[x](https://example.com/../../etc/passwd)",
    "an image": "![x](/etc/passwd)",
    "raw HTML": '<img src="/etc/hostname">',
    "an angle-bracket link with spaces": "[x](< /etc/passwd >)",
    "a definition in a list item": "- [a]: /etc/passwd",
    "a definition in a quote": "> [a]: /etc/passwd",
}


def test_a_file_the_report_names_is_posted_as_text(
    tmp_path: Path, github: FakeGitHub, cml: Path, certificate: tuple[Path, Path]
) -> None:
    """The six forms in one report (one post): the body holds the report as it was written."""
    report = "## Report\n\n" + "".join(f"{text}\n\n" for text in BYPASSES.values())
    result = make_pr_comment(tmp_path, github, cml, certificate, report=report)
    assert posted(result, github) == ["POST /issues/42/comments"]
    body = github.comments[-1]["body"]
    assert body.endswith(f"\n\n---\n\n{report}{HOLDS}\n\n{cml_watermark(HEAD)}")
    assert github.uploads == []


def test_cml_opens_no_file_the_report_names(
    tmp_path: Path, github: FakeGitHub, cml: Path, certificate: tuple[Path, Path]
) -> None:
    """Under strace: the files the six forms name are never opened (canaries stand for them)."""
    strace = shutil.which("strace")
    if strace is None or subprocess.run([strace, "-o", "/dev/null", "true"]).returncode != 0:
        pytest.skip("strace is not here (or may not trace): the open files cannot be watched")
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    report = "## Report\n\n"
    for number, text in enumerate(BYPASSES.values()):
        canary = canaries / f"secret{number}"
        canary.write_text(f"canary {number}\n")
        report += text.replace("/etc/passwd", str(canary)).replace("/etc/hostname", str(canary))
        report += "\n\n"
    trace = tmp_path / "trace"
    wrapper = tmp_path / "traced" / "bin" / "cml.js"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(
        f'#!/bin/sh\nexec "{strace}" -f -qq -e trace=%file -o "{trace}" "{cml}" "$@"\n'
    )
    wrapper.chmod(0o755)
    result = make_pr_comment(tmp_path, github, wrapper, certificate, report=report)
    assert posted(result, github) == ["POST /issues/42/comments"]
    assert "cml.js" in trace.read_text()  # the trace is CML's
    assert str(canaries) not in trace.read_text()


def test_with_publishing_on_cml_would_upload_them(
    tmp_path: Path, github: FakeGitHub, cml: Path, certificate: tuple[Path, Path]
) -> None:
    """What the tests above rule out: CML run as its documentation shows, publishing (its
    default), uploads a file the report names, and the fake asset store sees it."""
    (tmp_path / "secret").write_text("canary\n")
    (tmp_path / "report.md").write_text(f"![x]({tmp_path / 'secret'})\n")
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "GITHUB_SHA": HEAD,
        "ITERATIVE_DO_NOT_TRACK": "1",
        "NODE_EXTRA_CA_CERTS": str(certificate[0]),
        "REPO_TOKEN": TOKEN,
        "NODE_OPTIONS": "--no-experimental-fetch",  # Node 16's fetch, under which CML publishes
    }
    result = subprocess.run(
        [
            *(str(cml), "comment", "update", f"--repo=https://{github.host}/o/r"),
            *("--driver=github", f"--publish-url={github.upload_url}", "--target=pr/42"),
            "report.md",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert github.uploads == [b"canary\n"]
    assert "https://assets.invalid/x.p" in github.comments[-1]["body"]


# --- CML's lockfile ------------------------------------------------------------------------------

LOCKFILE = ROOT / ".github/cml/package-lock.json"


def test_the_cml_lockfile_holds_a_hash_of_every_package() -> None:
    packages = json.loads(LOCKFILE.read_text())["packages"]
    assert packages[""]["version"] == "0.20.6"
    for path, entry in packages.items():
        if path:
            name = path.rsplit("node_modules/", 1)[1]
            tarball = f"{name}/-/{name.rsplit('/', 1)[-1]}-{entry['version']}.tgz"
            assert entry["resolved"] == f"https://registry.npmjs.org/{tarball}", path
            assert entry["integrity"].startswith("sha512-"), path


def test_the_cml_lockfile_is_cmls_own_with_hashes_added() -> None:
    shown = subprocess.run(
        ["git", f"--git-dir={cml_source()}", "show", f"{CML_COMMIT}:package-lock.json"],
        capture_output=True,
        text=True,
    )
    if shown.returncode != 0:
        pytest.skip(f"no clone of iterative/cml at {cml_source()} to compare with")

    def without_hashes(lock: dict[str, Any]) -> dict[str, Any]:
        packages = {
            path: {k: v for k, v in entry.items() if k not in ("resolved", "integrity")}
            for path, entry in lock["packages"].items()
        }
        return {**lock, "packages": packages}

    ours = json.loads(LOCKFILE.read_text())
    assert without_hashes(ours) == without_hashes(json.loads(shown.stdout))
