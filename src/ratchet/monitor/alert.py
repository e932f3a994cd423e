"""The drift alert: one open issue labelled `drift`, opened on the first drift and commented on
while it stays open. Standard library only (the alert job runs with no install)."""

from __future__ import annotations

from ratchet.github.gh import gh, gh_json
from ratchet.monitor.drift import DriftSummary, render_markdown

ISSUE_LABEL = "drift"
ISSUE_TITLE = "Data drift: the model's inputs have changed"


def issue_body(summary: DriftSummary, run_url: str | None) -> str:
    return (
        render_markdown(summary, run_url)
        + "\nA retraining run was started: it opens a pull request with the retrained model, "
        "which the `metrics-gate` check judges like any other change. Close this issue when "
        "the drift is handled.\n"
    )


def report_drift_issue(summary: DriftSummary, run_url: str | None) -> str:
    """Open the one drift issue, or comment on it if it is open already; returns what was done."""
    gh(
        "label",
        "create",
        ISSUE_LABEL,
        "--force",
        "--color",
        "D93F0B",
        "--description",
        "The monitored data drifted from the training data",
    )
    found = gh_json(
        "issue",
        "list",
        "--label",
        ISSUE_LABEL,
        "--state",
        "open",
        "--json",
        "number",
        "--limit",
        "1",
    )
    body = issue_body(summary, run_url)
    if found:
        number = str(found[0]["number"])
        gh("issue", "comment", number, "--body-file", "-", stdin=body)
        return f"commented on the open drift issue #{number}"
    url = gh(
        "issue",
        "create",
        "--title",
        ISSUE_TITLE,
        "--label",
        ISSUE_LABEL,
        "--body-file",
        "-",
        stdin=body,
    ).strip()
    return f"opened {url}"
