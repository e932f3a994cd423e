"""The monitoring and retraining commands (what monitor.yml and retrain.yml run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ratchet.core.cli import Commands
from ratchet.core.paths import DRIFT_HTML, DRIFT_SUMMARY


def cmd_monitor(args: argparse.Namespace) -> int:
    from ratchet.core.settings import load_params
    from ratchet.github.actions import current
    from ratchet.monitor import drift

    run = current()
    summary = drift.run_monitor(load_params())
    print(f"monitor: compared {drift.compared(summary)}")
    print(f"monitor: {drift.headline(summary)}")
    print(f"monitor: wrote {DRIFT_HTML} and {DRIFT_SUMMARY}")
    run.add_summary(drift.render_markdown(summary, run.run_url))
    if run.output_file:  # in a workflow the verdict is a step output, and drift is no failure
        run.set_outputs(drift=str(summary.drift).lower())
        return 0
    if not summary.drift:
        return 0
    print(
        f"monitor: drift found, so the exit code is {drift.DRIFT_EXIT_CODE}: a finding, not an "
        "error (errors exit 1). `make retrain` adds the new data and retrains"
    )
    return drift.DRIFT_EXIT_CODE


def cmd_drift_issue(args: argparse.Namespace) -> int:
    from ratchet.github.actions import current
    from ratchet.github.api import client
    from ratchet.monitor.alert import report_drift_issue, start_retraining
    from ratchet.monitor.drift import headline, load_summary

    summary = load_summary(args.summary)
    if not summary.drift:
        print(f"drift-issue: {headline(summary)}; no issue to file")
        return 0
    run = current()
    api, repository = client(run, "drift-issue")
    print(f"drift-issue: {start_retraining(api, repository, run.ref_name or run.default_branch)}")
    print(f"drift-issue: {report_drift_issue(api, repository, summary, run.run_url)}")
    return 0


def cmd_refresh_data(args: argparse.Namespace) -> int:
    from ratchet.core.settings import load_params
    from ratchet.monitor.refresh import refresh

    print(f"refresh-data: {refresh(load_params())}")
    return 0


def cmd_retrain_commit(args: argparse.Namespace) -> int:
    from ratchet.github.actions import current
    from ratchet.monitor.retrain import commit

    run = current()
    done = commit(run.run_url, args.bundle)
    for line in done or ["nothing to propose: retraining changed nothing that git tracks"]:
        print(f"retrain-commit: {line}")
    run.set_outputs(changed=str(bool(done)).lower())
    return 0


def cmd_retrain_pr(args: argparse.Namespace) -> int:
    from ratchet.core.errors import RatchetError
    from ratchet.github.actions import current, token_source
    from ratchet.monitor import propose

    run = current()
    bundle = args.bundle or (run.temp / "retrain" if run.temp else None)
    if bundle is None:
        raise RatchetError("retrain-pr needs the retrain job's bundle: pass --bundle FOLDER")
    token = token_source(run.env.get("RATCHET_TOKEN_SOURCE"))
    done = propose.propose(bundle / propose.BUNDLE, propose.current_branch(), token, run)
    for line in done:
        print(f"retrain-pr: {line}")
    if token == "github-token":
        print(f"::warning title=Retraining pull request::{propose.TOKEN_WARNING}")
    run.add_summary(propose.render_markdown(done, token))
    return 0


def register(commands: Commands) -> None:
    commands.add(
        "monitor",
        cmd_monitor,
        "compare the newest served records (or the CSV at monitor.current) with the training "
        "split: reports/drift.{html,json}; "
        "exit 0: no drift, 3: drift (in a workflow: 0, and the step output drift=true), 1: error",
    )
    issue = commands.add(
        "drift-issue",
        cmd_drift_issue,
        "on drift, start retrain.yml and open the one `drift` issue or comment on it (system "
        "Python)",
    )
    issue.add_argument(
        "--summary",
        type=Path,
        default=DRIFT_SUMMARY,
        help=f"the monitor's summary (default: {DRIFT_SUMMARY})",
    )
    commands.add(
        "refresh-data",
        cmd_refresh_data,
        "check the new rows src/ratchet/sources.py returns, once, and add them to the training "
        "data",
    )
    retrain_commit = commands.add(
        "retrain-commit",
        cmd_retrain_commit,
        "commit what retraining changed on branch ratchet/retrain (nothing is pushed)",
    )
    retrain_commit.add_argument(
        "--bundle",
        type=Path,
        metavar="FOLDER",
        help="also write the commit to FOLDER/retrain.bundle, for the job that proposes it",
    )
    retrain_pr = commands.add(
        "retrain-pr",
        cmd_retrain_pr,
        "push the retraining commit from its bundle and open or update its pull request (system "
        "Python)",
    )
    retrain_pr.add_argument(
        "--bundle",
        type=Path,
        metavar="FOLDER",
        help="the retrain job's artifact (default: $RUNNER_TEMP/retrain)",
    )
