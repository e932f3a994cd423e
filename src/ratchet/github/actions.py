"""The GitHub Actions run a command is part of: what the runner tells a step, read from the
environment here and nowhere else, and the two files a step writes back (its outputs and the job
summary). Outside Actions every field is empty and writing back does nothing.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ratchet.core.errors import RatchetError


@dataclass(frozen=True)
class Run:
    repository: str | None = None  # owner/name
    repository_url: str | None = None  # https://github.com/owner/name
    server_url: str = "https://github.com"  # GITHUB_SERVER_URL: github.com, or the GHES host
    run_url: str | None = None
    api_url: str = "https://api.github.com"  # GITHUB_API_URL: the REST API, also on GHES
    token: str | None = field(default=None, repr=False)  # GITHUB_TOKEN or GH_TOKEN, if set
    ref_name: str | None = None  # the branch or tag the run is for
    event: dict[str, Any] = field(default_factory=dict)  # the webhook payload
    temp: Path | None = None  # RUNNER_TEMP: outside the checkout, emptied after the job
    output_file: Path | None = None  # GITHUB_OUTPUT
    summary_file: Path | None = None  # GITHUB_STEP_SUMMARY
    env: Mapping[str, str] = field(default_factory=dict)  # Ratchet's own RATCHET_* settings

    @property
    def pull_request(self) -> dict[str, Any]:
        """The pull request a `pull_request` run is for ({} for any other run)."""
        found = self.event.get("pull_request")
        return found if isinstance(found, dict) else {}

    @property
    def workflow_run(self) -> dict[str, Any]:
        """The run that a `workflow_run` run follows ({} for any other run)."""
        found = self.event.get("workflow_run")
        return found if isinstance(found, dict) else {}

    @property
    def default_branch(self) -> str:
        repository = self.event.get("repository")
        found = repository.get("default_branch") if isinstance(repository, dict) else None
        return str(found or "main")

    def set_outputs(self, **outputs: str) -> None:
        """Write step outputs (`steps.<id>.outputs.<name>` to later steps and jobs)."""
        if self.output_file is None:
            return
        lines = []
        for name, value in outputs.items():
            if "\n" in value:  # the multi-line form, with a delimiter the value cannot hold
                delimiter = f"ratchet-{uuid.uuid4().hex}"
                lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                lines.append(f"{name}={value}\n")
        append(self.output_file, "".join(lines))

    def add_summary(self, markdown: str) -> None:
        """Add Markdown to the job's summary page."""
        if self.summary_file is not None:
            append(self.summary_file, markdown if markdown.endswith("\n") else markdown + "\n")


TokenSource = Literal["app", "pat", "github-token"]


def token_source(value: str | None) -> TokenSource:
    """What GH_TOKEN is, as a workflow says in RATCHET_TOKEN_SOURCE (default: an App's token)."""
    if value in (None, "", "app"):
        return "app"
    if value == "pat":
        return "pat"
    if value == "github-token":
        return "github-token"
    raise RatchetError(f"RATCHET_TOKEN_SOURCE is {value!r}: set it to app, pat or github-token")


def append(path: Path, content: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(content)


def current(environ: Mapping[str, str] = os.environ) -> Run:
    """The run this process is a step of, from the variables the runner sets."""
    if environ.get("GITHUB_ACTIONS") != "true":
        return Run(env={k: v for k, v in environ.items() if k.startswith("RATCHET_")})

    def path(name: str) -> Path | None:
        value = environ.get(name)
        return Path(value) if value else None

    repository = environ.get("GITHUB_REPOSITORY") or None
    server = environ.get("GITHUB_SERVER_URL", "https://github.com")
    run_id = environ.get("GITHUB_RUN_ID")
    return Run(
        repository=repository,
        repository_url=f"{server}/{repository}" if repository else None,
        server_url=server,
        run_url=f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else None,
        api_url=environ.get("GITHUB_API_URL") or Run.api_url,
        token=environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN") or None,
        ref_name=environ.get("GITHUB_REF_NAME") or None,
        event=read_event(path("GITHUB_EVENT_PATH")),
        temp=path("RUNNER_TEMP"),
        output_file=path("GITHUB_OUTPUT"),
        summary_file=path("GITHUB_STEP_SUMMARY"),
        env={k: v for k, v in environ.items() if k.startswith("RATCHET_")},
    )


def read_event(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        event = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RatchetError(f"cannot read the Actions event payload {path}: {exc}") from None
    return event if isinstance(event, dict) else {}
