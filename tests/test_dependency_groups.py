"""Every `uv add` the README and the docs tell you to run names the dependency group that needs
the package: the project's own dependencies are what the service's image holds, so a package
added without a group (DVC's S3 plugin, with s3fs and botocore) would ship in it."""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any

from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
UV_ADD = re.compile(r"uv add [^`\n#]+")


def groups() -> dict[str, list[Any]]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found: dict[str, list[Any]] = pyproject["dependency-groups"]
    return found


def packages(group: str) -> set[str]:
    """The names a group installs, its included groups' too."""
    names = set()
    for entry in groups()[group]:
        if isinstance(entry, dict):
            names |= packages(entry["include-group"])
        else:
            names.add(re.split(r"[<>=!~\[; ]", entry, maxsplit=1)[0].lower())
    return names


def documented() -> list[tuple[str, list[str]]]:
    commands = []
    for doc in DOCS:
        for command in UV_ADD.findall(doc.read_text()):
            commands.append((f"{doc.relative_to(ROOT)}: {command.strip()}", shlex.split(command)))
    return commands


def test_every_documented_uv_add_names_a_group_that_exists() -> None:
    commands = documented()
    assert any("dvc-s3" in argv for _, argv in commands)  # the README's remote plugin is seen
    for where, argv in commands:
        assert "--group" in argv, f"{where}: add it to the group that needs it"
        assert argv[argv.index("--group") + 1] in groups(), where


def test_dvc_plugins_go_to_a_group_that_runs_dvc() -> None:
    for where, argv in documented():
        group = argv[argv.index("--group") + 1]
        if any(name.startswith("dvc-") for name in argv):
            assert "dvc" in packages(group), where
    assert {"monitor", "release", "dev"} <= {name for name in groups() if "dvc" in packages(name)}
