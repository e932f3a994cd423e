"""Release versions: which tags are releases, what they follow, which image tags they move."""

from __future__ import annotations

import pytest

from ratchet.core.errors import RatchetError
from ratchet.release.versions import image_name, image_tags, previous_release


@pytest.mark.parametrize(
    ("tag", "existing", "expected"),
    [
        ("v1.2.0", [], ["1.2.0", "1.2", "1", "latest"]),
        ("v1.2.0", ["v1.1.0", "v1.2.0", "v0.9.0"], ["1.2.0", "1.2", "1", "latest"]),
        ("v1.1.5", ["v1.2.0", "v1.1.4"], ["1.1.5", "1.1"]),  # 1 and latest stay on 1.2.0
        ("v1.2.1", ["v2.0.0", "v1.2.0"], ["1.2.1", "1.2", "1"]),  # latest stays on 2.0.0
        ("v1.3.0-rc.1", ["v1.2.0"], ["1.3.0-rc.1"]),  # a pre-release moves nothing
        ("v1.3.0", ["v1.3.0-rc.1", "v1.2.0"], ["1.3.0", "1.3", "1", "latest"]),
        ("v0.3.1", ["v0.3.0"], ["0.3.1", "0.3", "latest"]),  # 0.x: no major tag
        ("v1.0.0", ["not-a-version", "v1.0"], ["1.0.0", "1.0", "1", "latest"]),
    ],
)
def test_image_tags_never_move_backwards(
    tag: str, existing: list[str], expected: list[str]
) -> None:
    assert image_tags(tag, existing) == expected


@pytest.mark.parametrize("tag", ["v1.2", "1.2.0", "v1.2.0+build.5", "v01.2.0", "V1.2.0", "vfoo"])
def test_a_tag_that_is_not_a_release_version_is_refused(tag: str) -> None:
    with pytest.raises(RatchetError, match=r"is not a release version: name releases vMAJOR"):
        image_tags(tag, [])


def test_image_name_is_lower_case() -> None:
    assert image_name("Acme-Labs/Ratchet_Model") == "ghcr.io/acme-labs/ratchet_model"
    with pytest.raises(RatchetError, match="OWNER/NAME"):
        image_name("ratchet")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v1.2.0", "v1.1.10"),
        ("v1.1.10", "v1.1.2"),
        ("v1.3.0-rc.1", "v1.2.0"),
        ("v1.1.2", None),
    ],
)
def test_previous_release_is_the_newest_older_release(tag: str, expected: str | None) -> None:
    existing = ["v1.1.2", "v1.1.10", "v1.2.0", "v1.3.0-rc.1", "v1.2.0-rc.1", "junk"]
    assert previous_release(tag, existing) == expected
