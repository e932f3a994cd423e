"""The gate's commands: reproduce the branch, judge it and write the PR report."""

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


def reset_approved(args: argparse.Namespace) -> bool:
    """--baseline-reset, or in a pull request's run, the maintainer's label on it."""
    from ratchet.gate.judge import RESET_LABEL
    from ratchet.github.actions import current

    labels = current().pull_request.get("labels") or []
    return bool(args.baseline_reset) or any(
        isinstance(label, dict) and label.get("name") == RESET_LABEL for label in labels
    )


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ratchet.gate.reproduction import RECORD, reproduce
    from ratchet.github.actions import current

    result = reproduce()
    for problem in result.problems():
        print(f"reproduce: {problem}")
    if result.verdict != "reproduced":
        print(f"reproduce: FAIL ({result.verdict}); wrote {RECORD}")
        return 1
    print(f"reproduce: dvc.lock is what this branch's code, data and params make ({RECORD})")
    if result.model_sha256:
        current().set_outputs(**{"model-sha256": result.model_sha256})
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from ratchet.core.files import Writer, text, write_all
    from ratchet.gate.inputs import collect_report, run_gate
    from ratchet.gate.judge import format_result
    from ratchet.github.actions import current

    run = current()
    result = run_gate(args.base or default_base(), reset=reset_approved(args))
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
    print(f"gate: wrote {args.out / 'report.md'}")
    return result.exit_code


def register(commands: Commands) -> None:
    commands.add(
        "reproduce",
        cmd_reproduce,
        "retrain every stage from scratch and hold the committed dvc.lock against the result "
        "(exit 1: stale, different or failed)",
    )
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
