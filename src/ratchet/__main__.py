"""Command line: `python -m ratchet COMMAND`.

Each command imports what it needs when it runs, so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

Command = Callable[[argparse.Namespace], int]
AddCommand = Callable[[str, Command, str], argparse.ArgumentParser]


def cmd_prepare(args: argparse.Namespace) -> int:
    from ratchet import stages
    from ratchet.settings import load_params

    n_train, n_test = stages.prepare(load_params())
    print(f"prepare: {n_train} training rows, {n_test} test rows")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ratchet import stages
    from ratchet.paths import MODEL_FILE
    from ratchet.settings import load_params

    digest = stages.train(load_params())
    print(f"train: wrote {MODEL_FILE} (sha256 {digest[:12]})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ratchet import stages, tracking
    from ratchet.settings import load_params

    scores, run_id = stages.evaluate(load_params())
    print("evaluate: " + ", ".join(f"{name}={value:g}" for name, value in scores.items()))
    print(f"evaluate: MLflow run {run_id} in {tracking.tracking_uri()}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    import hashlib
    import json

    from ratchet import tracking
    from ratchet.errors import RatchetError
    from ratchet.paths import METRICS_FILE, MODEL_FILE

    if not METRICS_FILE.is_file() or not MODEL_FILE.is_file():
        raise RatchetError("no trained model yet: run `make run` (or `dvc repro`)")
    digest = hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest()
    run_id = tracking.find_run(digest)
    if args.check:
        return 0 if run_id else 3
    scores = json.loads(METRICS_FILE.read_text())
    print(f"metrics ({METRICS_FILE}):")
    for name, value in scores.items():
        print(f"  {name:<10} {value:g}")
    where = tracking.tracking_uri()
    if run_id is None:
        print(
            f"MLflow: no run in {where} logged this model (dvc restored it rather than ran "
            "evaluate); `dvc repro --force --single-item evaluate` logs one"
        )
    else:
        print(f"MLflow: run {run_id} in {where}; browse it with `make ui`")
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from ratchet import gate
    from ratchet.outputs import text, write_all

    result = gate.run_gate(args.base)
    print(gate.format_result(result))
    if args.json:
        write_all({args.json: text(result.model_dump_json(indent=2) + "\n")})
    return result.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    from ratchet import gate
    from ratchet.outputs import Writer, text, write_all
    from ratchet.pr import collect_report

    result = gate.run_gate(args.base)
    print(gate.format_result(result))
    markdown = collect_report(
        result, run_url=args.run_url, images_to=args.out if args.images else None
    )
    outputs: dict[Path, Writer] = {
        args.out / "report.md": text(markdown),
        args.out / "gate.json": text(result.model_dump_json(indent=2) + "\n"),
    }
    if args.pr_number is not None:
        outputs[args.out / "pr-number"] = text(f"{args.pr_number}\n")
    if args.head_sha:
        outputs[args.out / "head-sha"] = text(f"{args.head_sha}\n")
    write_all(outputs)
    print(f"report: wrote {args.out / 'report.md'}")
    return result.exit_code


def cmd_comment(args: argparse.Namespace) -> int:
    from ratchet.comment import post

    print(post(args.artifact, args.run_head_sha, publish=args.publish, dry_run=args.dry_run))
    return 0


def cmd_import_model(args: argparse.Namespace) -> int:
    from ratchet.serving import import_model

    imported = import_model()
    state = "added to" if imported.created else "already in"
    print(f"import-model: {imported.tag} {state} the BentoML store", file=sys.stderr)
    print(imported.tag)  # alone on stdout, for `--arg model=$(python -m ratchet import-model)`
    return 0


def cmd_bento(args: argparse.Namespace) -> int:
    from ratchet.serving import build_bento

    print(build_bento(args.version))
    return 0


def cmd_pull_model(args: argparse.Namespace) -> int:
    from ratchet.release import pull_model

    sha256 = pull_model()
    print(f"pull-model: the workspace holds the outputs dvc.lock names (model sha256 {sha256})")
    if args.github_output:
        with args.github_output.open("a") as output:
            output.write(f"model-sha256={sha256}\n")
    return 0


def cmd_smoke_test(args: argparse.Namespace) -> int:
    from ratchet.release import smoke_test

    for line in smoke_test(args.url, args.timeout):
        print(f"smoke-test: {line}")
    return 0


def cmd_image_tags(args: argparse.Namespace) -> int:
    from ratchet.release import git, image_name, image_tags

    image = image_name(args.repository)
    tags = image_tags(args.tag, git("tag", "--list", "v*").split())
    print("\n".join(f"{image}:{tag}" for tag in tags))
    return 0


def cmd_release_notes(args: argparse.Namespace) -> int:
    from ratchet.evaluation import HIGHER_IS_BETTER
    from ratchet.outputs import text, write_all
    from ratchet.release import release_facts, render_release_notes

    notes = render_release_notes(release_facts(args.tag, args.image, args.digest), HIGHER_IS_BETTER)
    if args.output:
        write_all({args.output: text(notes)})
        print(f"release-notes: wrote {args.output}")
    else:
        print(notes, end="")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from ratchet.release import promote

    print(f"promote: {promote(args.alias, args.release, args.model_sha256)}")
    return 0


def append(path: Path, content: str) -> None:
    """Add to a file another tool reads, e.g. GitHub's $GITHUB_STEP_SUMMARY or $GITHUB_OUTPUT."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(content)


def cmd_monitor(args: argparse.Namespace) -> int:
    from ratchet import monitor
    from ratchet.settings import load_params

    summary = monitor.run_monitor(load_params())
    print(f"monitor: {monitor.headline(summary)}")
    print(f"monitor: wrote {monitor.HTML_REPORT} and {monitor.SUMMARY_FILE}")
    if args.markdown:
        append(args.markdown, monitor.render_markdown(summary, args.run_url))
    if args.github_output:
        append(args.github_output, f"drift={str(summary.drift).lower()}\n")
        return 0
    return monitor.DRIFT_EXIT_CODE if summary.drift else 0


def cmd_drift_issue(args: argparse.Namespace) -> int:
    from ratchet import monitor

    summary = monitor.load_summary(args.summary)
    if not summary.drift:
        print(f"drift-issue: {monitor.headline(summary)}; no issue to file")
        return 0
    print(f"drift-issue: {monitor.report_drift_issue(summary, args.run_url)}")
    return 0


def cmd_refresh_data(args: argparse.Namespace) -> int:
    from ratchet import retrain
    from ratchet.settings import load_params

    print(f"refresh-data: {retrain.refresh(load_params())}")
    return 0


def cmd_retrain_pr(args: argparse.Namespace) -> int:
    from ratchet import retrain

    done = retrain.propose(
        publish=args.publish, token_source=args.token_source, run_url=args.run_url
    )
    for line in done:
        print(f"retrain-pr: {line}")
    if args.token_source == "github-token":
        print(f"::warning title=Retraining pull request::{retrain.TOKEN_WARNING}")
    if args.markdown:
        append(args.markdown, retrain.render_markdown(done, args.token_source))
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    import json

    from ratchet.settings import Params, load_params

    if args.schema:
        print(json.dumps(Params.model_json_schema(), indent=2))
    else:
        print(load_params().model_dump_json(indent=2))
    return 0


def add_monitoring_commands(add: AddCommand) -> None:
    """Drift monitoring and retraining: what monitor.yml and retrain.yml run."""
    monitor = add(
        "monitor",
        cmd_monitor,
        "compare monitor.current with the training split: reports/drift.{html,json}; "
        "exit 0: no drift, 3: drift, 1: error",
    )
    monitor.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="also append the summary as Markdown, e.g. to $GITHUB_STEP_SUMMARY",
    )
    monitor.add_argument(
        "--github-output",
        type=Path,
        metavar="FILE",
        help="append drift=true|false, e.g. to $GITHUB_OUTPUT; drift then exits 0",
    )
    monitor.add_argument("--run-url", help="link the Markdown to the CI run that holds the report")
    issue = add(
        "drift-issue",
        cmd_drift_issue,
        "on drift, open the one `drift` issue or comment on it (gh; system Python)",
    )
    issue.add_argument(
        "--summary",
        type=Path,
        default=Path("reports/drift.json"),
        help="the monitor's summary (default: reports/drift.json)",
    )
    issue.add_argument("--run-url", help="link the issue to the CI run that holds the report")
    add(
        "refresh-data",
        cmd_refresh_data,
        "add new rows to the training data (src/ratchet/sources.py) and check them",
    )
    retrain_pr = add(
        "retrain-pr",
        cmd_retrain_pr,
        "commit the retraining on branch ratchet/retrain; with --publish, push it "
        "and open or update its pull request (gh)",
    )
    retrain_pr.add_argument(
        "--publish",
        action="store_true",
        help="push the branch to origin and open or update the pull request",
    )
    retrain_pr.add_argument(
        "--token-source",
        choices=["app", "pat", "github-token"],
        default="app",
        help="what GH_TOKEN is; github-token adds a warning",
    )
    retrain_pr.add_argument("--run-url", help="link the pull request to the retraining run")
    retrain_pr.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="also append what was done, e.g. to $GITHUB_STEP_SUMMARY",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ratchet",
        description="Ratchet: train, gate, serve and monitor a model from Git.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    add("prepare", cmd_prepare, "DVC stage: validate the raw CSV, write the schema and the split")
    add("train", cmd_train, "DVC stage: fit the recipe's model on the training split")
    add("evaluate", cmd_evaluate, "DVC stage: score the test split, write metrics, log to MLflow")
    summary = add(
        "summary", cmd_summary, "print the current metrics and the MLflow run of the current model"
    )
    summary.add_argument(
        "--check",
        action="store_true",
        help="print nothing; exit 0 if a run in the store logged the current model, 3 if not",
    )
    gate = add("gate", cmd_gate, "judge this branch's metrics against a base branch (exit 1: fail)")
    gate.add_argument("--base", required=True, help="base revision, e.g. main or origin/main")
    gate.add_argument("--json", type=Path, help="also write the verdict as JSON to this file")
    report = add(
        "report",
        cmd_report,
        "the gate plus the pull-request report (report.md, gate.json) in --out",
    )
    report.add_argument("--base", required=True, help="base revision, e.g. main or origin/main")
    report.add_argument("--out", type=Path, default=Path("reports/pr"), help="output folder")
    report.add_argument("--run-url", help="link to the CI run that holds the full report")
    report.add_argument("--pr-number", type=int, help="write it to the output, for the commenter")
    report.add_argument("--head-sha", help="write it to the output, for the commenter")
    report.add_argument(
        "--images",
        action="store_true",
        help="also draw PNG charts and link them (publishing them is opt-in)",
    )
    comment = add(
        "comment",
        cmd_comment,
        "post a report artifact as the PR's one CML comment (workflow_run job)",
    )
    comment.add_argument("--artifact", type=Path, required=True, help="the downloaded artifact")
    comment.add_argument("--run-head-sha", required=True, help="head SHA of the workflow run")
    comment.add_argument(
        "--publish",
        action="store_true",
        help="let CML upload the report's images to its asset host",
    )
    comment.add_argument("--dry-run", action="store_true", help="print the cml command instead")
    add(
        "import-model",
        cmd_import_model,
        "put artifacts/model.joblib into the BentoML store; print its tag",
    )
    bento = add("bento", cmd_bento, "import the model and build the BentoML service; print its tag")
    bento.add_argument("--version", help="bento version, e.g. the release tag v1.2.0")
    pull = add(
        "pull-model",
        cmd_pull_model,
        "fetch the outputs dvc.lock names, retraining only what the DVC remote lacks",
    )
    pull.add_argument(
        "--github-output",
        type=Path,
        help="also append model-sha256=<sha256> to this file (GITHUB_OUTPUT)",
    )
    smoke = add(
        "smoke-test",
        cmd_smoke_test,
        "check a served model: ready, predicts as the artifact does, refuses bad input",
    )
    smoke.add_argument("url", help="the service's base URL, e.g. http://127.0.0.1:3000")
    smoke.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for /readyz")
    tags = add("image-tags", cmd_image_tags, "the image references a release pushes, one a line")
    tags.add_argument("tag", help="the release tag, e.g. v1.2.0")
    tags.add_argument("--repository", required=True, help="OWNER/NAME on GitHub (lower-cased)")
    notes = add(
        "release-notes",
        cmd_release_notes,
        "the GitHub Release notes: metrics against the last release and a model card",
    )
    notes.add_argument("--tag", required=True, help="the release tag, e.g. v1.2.0")
    notes.add_argument("--image", help="the image name, e.g. ghcr.io/owner/repo")
    notes.add_argument("--digest", help="the pushed image's digest, sha256:...")
    notes.add_argument("--output", type=Path, help="write the notes here instead of stdout")
    promote = add(
        "promote", cmd_promote, "point an MLflow registry alias at the registered current model"
    )
    promote.add_argument("--alias", default="production", help="the alias to move")
    promote.add_argument("--release", help="tag the model version with this release tag")
    promote.add_argument("--model-sha256", help="the model to promote (default: the current one)")
    add_monitoring_commands(add)
    params = add("params", cmd_params, "print params.yaml as validated, or its JSON Schema")
    params.add_argument("--schema", action="store_true", help="print the JSON Schema instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ratchet.errors import RatchetError

    try:
        code: int = args.handler(args)
    except RatchetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
