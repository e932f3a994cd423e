"""The comment's command: post a PR check's report artifact as the pull request's one comment."""

from __future__ import annotations

import argparse
from pathlib import Path

from ratchet.core.cli import Commands


def cmd_comment(args: argparse.Namespace) -> int:
    from ratchet.comment.post import post, preview
    from ratchet.core.errors import RatchetError
    from ratchet.core.paths import PR_REPORT_DIR
    from ratchet.github.actions import current
    from ratchet.github.api import GitHubAPI

    run = current()
    artifact = args.artifact or (run.temp / "metrics-report" if run.temp else None)
    head_sha = args.run_head_sha or run.workflow_run.get("head_sha")
    conclusion = str(run.workflow_run.get("conclusion") or "")
    run_url = run.workflow_run.get("html_url")
    run_url = str(run_url) if run_url else None
    if args.dry_run:  # by default, what a local `make pr-check` wrote
        folder = artifact or PR_REPORT_DIR
        print(
            preview(
                folder, str(head_sha) if head_sha else None, conclusion, run_url, run.server_url
            )
        )
        return 0
    if artifact is None or not head_sha:
        raise RatchetError(
            "comment needs the report artifact and the head commit of the run that made it: "
            "run it in the workflow_run job, or pass --artifact and --run-head-sha"
        )
    if args.cml is None:
        raise RatchetError(
            "comment needs CML: --cml PATH/bin/cml.js (`make install-cml` builds it)"
        )
    if not run.token:
        raise RatchetError("comment needs the job's token in GITHUB_TOKEN (or GH_TOKEN)")
    api = GitHubAPI(run.api_url, run.token)
    print(
        post(
            artifact,
            str(head_sha),
            run.repository or "",
            api=api,
            cml=args.cml,
            conclusion=conclusion,
            run_url=run_url,
            server=run.server_url,
        )
    )
    return 0


def register(commands: Commands) -> None:
    comment = commands.add(
        "comment", cmd_comment, "post a report artifact as the PR's one CML comment"
    )
    comment.add_argument(
        "--artifact",
        type=Path,
        help="the downloaded artifact (default: $RUNNER_TEMP/metrics-report; with --dry-run "
        "outside Actions, reports/pr as `make pr-check` wrote it)",
    )
    comment.add_argument(
        "--run-head-sha",
        help="head commit of the run that made it (default: from the event; with --dry-run, "
        "none: the artifact's pr-number and head-sha are then not checked)",
    )
    comment.add_argument(
        "--cml", type=Path, help="CML's bin/cml.js, as `make install-cml` built it"
    )
    comment.add_argument(
        "--dry-run", action="store_true", help="print the comment instead (contacts nothing)"
    )
