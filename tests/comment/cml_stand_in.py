"""A stand-in for CML 0.20.6's `cml comment update --no-publish`, for machines without CML.

It makes CML's own choice (src/cml.js, src/drivers/github.js): it lists the first page of the
pull request's comments, takes the newest one that carries the watermark whoever wrote it, and
edits it, or else creates a comment. That choice is what the relay must contain, so the comment
job's tests run here too; where CML is built, they run with CML itself as well.

Run as `cml_stand_in.py LOG comment update OPTIONS FILE`: it appends its arguments and its
environment to LOG, as JSON.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

OPTIONS = {"--repo", "--driver", "--watermark-title", "--target"}


def call(url: str, method: str, payload: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode() if payload is not None else None,
        method=method,
        headers={"Authorization": f"token {os.environ['REPO_TOKEN']}"},
    )
    context = ssl.create_default_context(cafile=os.environ["NODE_EXTRA_CA_CERTS"])
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        return json.loads(answer.read())


def environment() -> dict[str, str]:
    """The environment this process was started with (Python adds LC_CTYPE to its own)."""
    started = Path("/proc/self/environ")
    if not started.is_file():
        return dict(os.environ)
    pairs = started.read_bytes().decode().split("\0")
    return dict(pair.split("=", 1) for pair in pairs if pair)


def main(log: str, args: list[str]) -> int:
    with Path(log).open("a") as handle:
        handle.write(json.dumps({"args": args, "env": environment()}) + "\n")
    options = dict(arg.split("=", 1) for arg in args[2:-1] if "=" in arg)
    flags = [arg for arg in args[2:-1] if "=" not in arg]
    assert args[:2] == ["comment", "update"] and set(options) == OPTIONS, args
    assert flags == ["--no-publish"] and options["--driver"] == "github", args
    repo = urlsplit(options["--repo"])
    api = f"https://{repo.netloc}/api/v3/repos{repo.path}"
    number = options["--target"].removeprefix("pr/")
    title = options["--watermark-title"]
    mark = f'![](https://cml.dev/watermark.png#{os.environ["GITHUB_SHA"]} "CML watermark {title}")'
    pattern = re.compile(
        r"!\[\]\(https://cml\.dev/watermark\.png#[0-9a-fA-F]+ "
        + re.escape(f'"CML watermark {title}"')
    )
    body = Path(args[-1]).read_text(encoding="utf-8") + "\n\n" + mark
    try:
        comments = call(f"{api}/issues/{number}/comments", "GET")
        found = next((c for c in reversed(comments) if pattern.search(c["body"])), None)
        if found:
            written = call(f"{api}/issues/comments/{found['id']}", "PATCH", {"body": body})
        else:
            written = call(f"{api}/issues/{number}/comments", "POST", {"body": body})
    except urllib.error.HTTPError as error:
        said = json.loads(error.read())["message"]  # logged as CML logs it: one JSON record
        print(
            json.dumps({"level": "error", "message": said, "status": error.code}), file=sys.stderr
        )
        return 1
    print(written["html_url"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
