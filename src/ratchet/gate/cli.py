"""The gate's commands: judge the reproduced branch and write the PR report."""

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
