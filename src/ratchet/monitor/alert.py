"""The drift alert: one open issue labelled `drift`, opened on the first drift and commented on
while it stays open. Standard library only (the alert job runs with no install)."""

from __future__ import annotations

from ratchet.github.api import GitHubAPI
from ratchet.monitor.drift import DriftSummary, render_markdown

ISSUE_LABEL = "drift"
ISSUE_TITLE = "Data drift: the model's inputs have changed"
RETRAIN_WORKFLOW = "retrain.yml"


def issue_body(summary: DriftSummary, run_url: str | None) -> str:
    return (
        render_markdown(summary, run_url)
        + "\nA retraining run was started: it opens a pull request with the retrained model, "
        "which the `metrics-gate` check judges like any other change. Close this issue when "
        "the drift is handled.\n"
    )


def report_drift_issue(
    api: GitHubAPI, repository: str, summary: DriftSummary, run_url: str | None
) -> str:
    """Open the one drift issue, or comment on it if it is open already; returns what was done."""
    description = "The monitored data drifted from the training data"
    api.ensure_label(repository, ISSUE_LABEL, "D93F0B", description)
    found = api.open_issues(repository, ISSUE_LABEL)
    body = issue_body(summary, run_url)
    if found:
        number = int(found[0]["number"])
        api.comment(repository, number, body)
        return f"commented on the open drift issue #{number}"
    return f"opened {api.create_issue(repository, ISSUE_TITLE, body, [ISSUE_LABEL])}"


def start_retraining(api: GitHubAPI, repository: str, ref: str) -> str:
    """Start the retraining workflow, which proposes its model as a pull request."""
    api.dispatch_workflow(repository, RETRAIN_WORKFLOW, ref)
    return f"started {RETRAIN_WORKFLOW} on {ref}"
