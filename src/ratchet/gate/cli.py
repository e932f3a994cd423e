"""The gate's commands: judge the reproduced branch and write the PR report, post the comment."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ratchet.core.cli import Commands
from ratchet.core.paths import PR_REPORT_DIR

if TYPE_CHECKING:
    from ratchet.gate.inputs import Reset


def default_base() -> str:
    """In a pull request's run, its base branch as fetched; elsewhere main."""
    from ratchet.github.actions import current

    base = current().pull_request.get("base", {}).get("ref")
    return f"origin/{base}" if base else "main"


def reset_asked(args: argparse.Namespace) -> Reset:
    """--baseline-reset, or the run that a maintainer's label started: the `labeled` event for
    the label itself, so that the approval holds for the head commit it was given on. A label
    still on the pull request after a later push approves nothing, and the report says so."""
    from ratchet.gate.inputs import Reset
    from ratchet.gate.judge import RESET_LABEL
    from ratchet.github.actions import current

    event = current().event
    label = event.get("label")
    labelled_now = (
        event.get("action") == "labeled"
        and isinstance(label, dict)
        and label.get("name") == RESET_LABEL
    )
    labels = current().pull_request.get("labels") or []
    label_on = any(isinstance(one, dict) and one.get("name") == RESET_LABEL for one in labels)
    asked = bool(args.baseline_reset) or labelled_now
    return Reset(asked=asked, stale_label=label_on and not asked)


def cmd_gate(args: argparse.Namespace) -> int:
    from ratchet.core.files import Writer, text, write_all
    from ratchet.gate.inputs import collect_report, run_gate
    from ratchet.gate.judge import format_result
    from ratchet.github.actions import current

    run = current()
    result, base = run_gate(args.base or default_base(), reset=reset_asked(args))
    print(format_result(result))
    outputs: dict[Path, Writer] = {
        args.out / "report.md": text(collect_report(result, base, run_url=run.run_url)),
        args.out / "gate.json": text(result.model_dump_json(indent=2) + "\n"),
    }
    pull_request = run.pull_request
    if pull_request:  # what the comment job checks before it posts
        outputs[args.out / "pr-number"] = text(f"{pull_request['number']}\n")
        outputs[args.out / "head-sha"] = text(f"{pull_request['head']['sha']}\n")
    write_all(outputs)
    print(f"gate: wrote {args.out / 'report.md'}")
    return result.exit_code


def cmd_comment(args: argparse.Namespace) -> int:
    from ratchet.core.errors import RatchetError
    from ratchet.gate.comment import post, preview
    from ratchet.github.actions import current
    from ratchet.github.api import GitHubAPI

    run = current()
    artifact = args.artifact or (run.temp / "metrics-report" if run.temp else None)
    head_sha = args.run_head_sha or run.workflow_run.get("head_sha")
    if artifact is None or not head_sha:
        raise RatchetError(
            "comment needs the report artifact and the head commit of the run that made it: "
            "run it in the workflow_run job, or pass --artifact and --run-head-sha"
        )
    conclusion = str(run.workflow_run.get("conclusion") or "")
    run_url = run.workflow_run.get("html_url")
    run_url = str(run_url) if run_url else None
    if args.dry_run:
        print(preview(artifact, str(head_sha), conclusion, run_url))
        return 0
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
        )
    )
    return 0


def register(commands: Commands) -> None:
    gate = commands.add(
        "gate",
        cmd_gate,
        "judge the reproduced branch against its base and write the PR report (exit 1: fail)",
    )
    gate.add_argument("--base", help="base revision (default: the PR's base branch, or main)")
    gate.add_argument(
        "--out", type=Path, default=PR_REPORT_DIR, help=f"output folder (default: {PR_REPORT_DIR})"
    )
    gate.add_argument(
        "--baseline-reset",
        action="store_true",
        help="judge this branch as a new baseline (in a PR: the label baseline-reset)",
    )
    comment = commands.add(
        "comment", cmd_comment, "post a report artifact as the PR's one CML comment"
    )
    comment.add_argument(
        "--artifact",
        type=Path,
        help="the downloaded artifact (default: $RUNNER_TEMP/metrics-report)",
    )
    comment.add_argument(
        "--run-head-sha", help="head commit of the run that made it (default: from the event)"
    )
    comment.add_argument(
        "--cml", type=Path, help="CML's bin/cml.js, as `make install-cml` built it"
    )
    comment.add_argument(
        "--dry-run", action="store_true", help="print the comment instead (contacts nothing)"
    )
