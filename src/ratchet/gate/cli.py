"""The gate's commands: the verdict, the PR report, and the comment that posts it."""

from __future__ import annotations

import argparse
from pathlib import Path

from ratchet.core.cli import Commands
from ratchet.core.paths import PR_REPORT_DIR


def default_base() -> str:
    """In a pull request's run, its base branch as fetched; elsewhere main."""
    from ratchet.github.actions import current

    base = current().pull_request.get("base", {}).get("ref")
    return f"origin/{base}" if base else "main"


def cmd_gate(args: argparse.Namespace) -> int:
    from ratchet.core.files import text, write_all
    from ratchet.gate.inputs import run_gate
    from ratchet.gate.judge import format_result

    result = run_gate(args.base or default_base())
    print(format_result(result))
    if args.json:
        write_all({args.json: text(result.model_dump_json(indent=2) + "\n")})
    return result.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    from ratchet.core.files import Writer, text, write_all
    from ratchet.gate.inputs import collect_report, run_gate
    from ratchet.gate.judge import format_result
    from ratchet.github.actions import current

    run = current()
    result = run_gate(args.base or default_base())
    print(format_result(result))
    outputs: dict[Path, Writer] = {
        args.out / "report.md": text(collect_report(result, run_url=run.run_url)),
        args.out / "gate.json": text(result.model_dump_json(indent=2) + "\n"),
    }
    pull_request = run.pull_request
    if pull_request:  # what the comment job checks before it posts
        outputs[args.out / "pr-number"] = text(f"{pull_request['number']}\n")
        outputs[args.out / "head-sha"] = text(f"{pull_request['head']['sha']}\n")
    write_all(outputs)
    print(f"report: wrote {args.out / 'report.md'}")
    return result.exit_code


def cmd_comment(args: argparse.Namespace) -> int:
    from ratchet.core.errors import RatchetError
    from ratchet.gate.comment import post
    from ratchet.github.actions import current

    run = current()
    artifact = args.artifact or (run.temp / "metrics-report" if run.temp else None)
    head_sha = args.run_head_sha or run.workflow_run.get("head_sha")
    if artifact is None or not head_sha:
        raise RatchetError(
            "comment needs the report artifact and the head commit of the run that made it: "
            "run it in the workflow_run job, or pass --artifact and --run-head-sha"
        )
    print(post(artifact, str(head_sha), run.repository or "", dry_run=args.dry_run))
    return 0


def register(commands: Commands) -> None:
    gate = commands.add(
        "gate", cmd_gate, "judge this branch's metrics against a base branch (exit 1: fail)"
    )
    gate.add_argument("--base", help="base revision (default: the PR's base branch, or main)")
    gate.add_argument("--json", type=Path, help="also write the verdict as JSON to this file")
    report = commands.add(
        "report", cmd_report, "the gate plus the pull-request report (report.md, gate.json)"
    )
    report.add_argument("--base", help="base revision (default: the PR's base branch, or main)")
    report.add_argument(
        "--out", type=Path, default=PR_REPORT_DIR, help=f"output folder (default: {PR_REPORT_DIR})"
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
    comment.add_argument("--dry-run", action="store_true", help="print the cml command instead")
