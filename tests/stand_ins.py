"""Recording stand-ins for tools whose real counterpart is out of reach here (a docker push needs
a registry), and the environment of a GitHub Actions step."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def install_stand_in(
    folder: Path, tool: str, answers: dict[str, Any]
) -> tuple[dict[str, str], Path]:
    """Put a `tool` on PATH that logs each call (arguments and stdin) and answers from `answers`,
    keyed by its first two arguments. Returns the environment to run with and the log."""
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{tool}-calls.jsonl"
    script = folder / tool
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "call = {'args': sys.argv[1:], 'stdin': sys.stdin.read()}\n"
        f"with open({str(log)!r}, 'a') as handle:\n"
        "    handle.write(json.dumps(call) + '\\n')\n"
        f"answers = json.loads({json.dumps(answers)!r})\n"
        "answer = answers.get(' '.join(sys.argv[1:3]), '')\n"
        "print(answer if isinstance(answer, str) else json.dumps(answer))\n"
    )
    script.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}, log


def calls(log: Path) -> list[dict[str, Any]]:
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def actions_env(folder: Path, event: dict[str, Any] | None = None) -> dict[str, str]:
    """The variables a GitHub Actions runner sets for a step of run 5 of o/r; the step's output,
    summary and event files live in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "event.json").write_text(json.dumps(event or {}))
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "5",
        "GITHUB_EVENT_PATH": str(folder / "event.json"),
        "GITHUB_OUTPUT": str(folder / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(folder / "summary.md"),
        "RUNNER_TEMP": str(folder),
    }
