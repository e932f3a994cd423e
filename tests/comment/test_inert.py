"""The report made inert: every spelling of a mention and every cross-reference that GitHub would
make of the report, written the way a pull request could write it, and the text reads as before.

What GitHub would see is checked on the text as a browser reads it in HTML (`html.unescape`, by
the HTML standard's rules: a numeric reference needs no semicolon) and as Markdown reads it in text
(only references that end in a semicolon)."""

from __future__ import annotations

import html
import re

import pytest

from ratchet.comment.inert import ZERO_WIDTH_SPACE, inert

SERVER = "https://ghe.example.com"  # the job's own GitHub (GITHUB_SERVER_URL), an Enterprise one
SHA = "a5c3785ed8d6a35868bc169f07e40e889087fd2e"

# GitHub's autolinks ("Autolinked references and URLs"), on the text as a page shows it.
GITHUB_LINKS = re.compile(
    r"@[A-Za-z0-9]"  # a mention of a person or team, or USER@SHA, OWNER/REPO@SHA
    r"|#[0-9]"  # #26, OWNER/REPO#26
    r"|GH-[0-9]"  # GH-26
    r"|(?:github\.com|ghe\.example\.com)/[\w.-]+/[\w.-]+/(?:issues|pull|discussions)/[0-9]",
    re.IGNORECASE,
)

MENTIONS = {
    "plain": "@alice",
    "a team": "@acme/ml-team",
    "decimal": "&#64;alice",
    "decimal, no semicolon": "&#64alice",
    "hexadecimal": "&#x40;alice",
    "hexadecimal X, no semicolon": "&#X40mallory",
    "leading zeros": "&#0064;alice",
    "hexadecimal leading zeros": "&#x0040;alice",
    "named": "&commat;alice",
    "the name spelled too": "@&#97;lice",
    "a Markdown escape": "\\@alice",
    "after a reference": "&amp@alice",
    "made by spelling out": "&&#35;64;alice",
}
REFERENCES = {
    "#N": "#26",
    "GH-N": "GH-26",
    "gh-N": "gh-26",
    "OWNER/REPO#N": "octo/other#26",
    "a spelled #": "&#35;26",
    "a spelled number": "#&#50;6",
    "#N after a reference": "&amp;#26",
    "#N that Markdown leaves as text": "&#26",
    "USER@SHA": f"octo@{SHA}",
    "OWNER/REPO@SHA": f"octo/other@{SHA}",
    "an issue URL": "https://github.com/octo/other/issues/26",
    "a pull request URL": "https://github.com/octo/other/pull/26/files",
    "a discussion URL": "https://github.com/octo/other/discussions/26",
    "a URL without its scheme": "www.github.com/octo/other/issues/26",
    "a link": "[the fix](https://github.com/octo/other/pull/26)",
    "a spelled URL": "[x](https://github&#46;com/octo/other&#x2F;issues&sol;26)",
    "a URL on the job's server": "https://ghe.example.com/octo/other/issues/26",
}
CONTEXTS = {
    "text": "See {} here.",
    "HTML block": "<details><summary>Notes</summary>\n<p>See {} here.</p>\n</details>",
    "HTML attribute": '<a href="https://example.com/?{}">x</a>',
    "code span": "See `{}` here.",
    "code block": "```text\nSee {} here.\n```",
}


def github_links(text: str) -> list[str]:
    as_markdown = re.sub(r"&#?[0-9A-Za-z]+;", lambda found: html.unescape(found.group()), text)
    return GITHUB_LINKS.findall(html.unescape(text)) + GITHUB_LINKS.findall(as_markdown)


@pytest.mark.parametrize("context", CONTEXTS.values(), ids=CONTEXTS.keys())
@pytest.mark.parametrize("spelling", MENTIONS.values(), ids=MENTIONS.keys())
def test_no_spelling_of_a_mention_survives(spelling: str, context: str) -> None:
    text = context.format(spelling)
    assert github_links(text)  # as the pull request wrote it, GitHub would mention someone
    assert github_links(inert(text, SERVER)) == []


@pytest.mark.parametrize("context", CONTEXTS.values(), ids=CONTEXTS.keys())
@pytest.mark.parametrize("spelling", REFERENCES.values(), ids=REFERENCES.keys())
def test_no_cross_reference_survives(spelling: str, context: str) -> None:
    text = context.format(spelling)
    assert github_links(text)
    assert github_links(inert(text, SERVER)) == []


def test_the_page_reads_as_before() -> None:
    """Only invisible spaces are added: a browser shows the same text, code included. (Not quite
    for two: `&#26` is a control character in HTML, and `&&#35;64;` reads `&#64;`.)"""
    changed = {REFERENCES["#N that Markdown leaves as text"], MENTIONS["made by spelling out"]}
    for spelling in {*MENTIONS.values(), *REFERENCES.values()} - changed:
        read = html.unescape(inert(spelling, SERVER)).replace(ZERO_WIDTH_SPACE, "")
        assert read == html.unescape(spelling), spelling
    code = "```text\npip install pkg@1.2  # see #26\n```"
    assert inert(code).replace(ZERO_WIDTH_SPACE, "") == code


def test_what_links_nowhere_is_left_alone() -> None:
    text = (
        "## Report\n\nC# 10, a lone @ sign, issue 26, &#8212; &#x2713; &amp; &lt;b&gt; &#5;\n"
        "[run](https://github.com/octo/other/actions/runs/26) https://gitlab.com/o/r/issues/26"
    )
    assert inert(text, SERVER) == text


def test_only_github_and_the_jobs_server_are_references() -> None:
    elsewhere = "https://ghe.example.com/octo/other/issues/26"
    assert inert(elsewhere) == elsewhere  # on github.com, this is just a link
    assert github_links(inert(elsewhere, SERVER)) == []
