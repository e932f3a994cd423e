"""Release tags: which are versions, what they sort after, and which image tags a release moves."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ratchet.core.errors import RatchetError

SEMVER = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?$")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int
    # A release sorts after its pre-releases (1.2.0-rc.1 < 1.2.0).
    is_release: bool
    prerelease: str

    @property
    def text(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return core if self.is_release else f"{core}-{self.prerelease}"


def parse_version(tag: str) -> Version | None:
    match = SEMVER.match(tag)
    if match is None:
        return None
    major, minor, patch, prerelease = match.groups()
    return Version(int(major), int(minor), int(patch), prerelease is None, prerelease or "")


def require_version(tag: str) -> Version:
    version = parse_version(tag)
    if version is None:
        raise RatchetError(
            f"tag {tag!r} is not a release version: name releases vMAJOR.MINOR.PATCH "
            "(e.g. v1.2.0, or v1.3.0-rc.1 for a pre-release)"
        )
    return version


def image_tags(tag: str, existing: Iterable[str]) -> list[str]:
    """The image tags a release pushes: its version, and the moving tags it is now the newest of.

    v1.2.0 gets 1.2.0, 1.2, 1 and latest; a later v1.1.5 gets 1.1.5 and 1.1 only, so `latest`
    never moves backwards; a pre-release gets its own version only; 0.x gets no major tag.
    """
    version = require_version(tag)
    tags = [version.text]
    if not version.is_release:
        return tags
    releases = {v for v in map(parse_version, existing) if v is not None and v.is_release}
    releases.add(version)

    def newest(same: Iterable[Version]) -> bool:
        return max(same) == version

    if newest(v for v in releases if (v.major, v.minor) == (version.major, version.minor)):
        tags.append(f"{version.major}.{version.minor}")
    if version.major > 0 and newest(v for v in releases if v.major == version.major):
        tags.append(str(version.major))
    if newest(releases):
        tags.append("latest")
    return tags


def image_name(repository: str, registry: str = "ghcr.io") -> str:
    """The image of a GitHub repository (on GHCR unless told): registries want lower-case names."""
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise RatchetError(f"repository {repository!r} is not OWNER/NAME (GITHUB_REPOSITORY)")
    return f"{registry}/{repository.lower()}"


def previous_release(tag: str, existing: Iterable[str]) -> str | None:
    """The newest release (not pre-release) before `tag`: what its notes compare against."""
    version = require_version(tag)
    older = [
        (v, name)
        for name in existing
        if (v := parse_version(name)) is not None and v.is_release and v < version
    ]
    return max(older)[1] if older else None
