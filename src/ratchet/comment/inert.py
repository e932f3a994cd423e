"""The pull request's report made inert: posted by the repository's bot, it notifies nobody and
references nothing.

GitHub turns `@name` into a mention, which notifies that person or team, and turns `#5`, `GH-5`,
`owner/repo#5` and the URL of an issue, pull request or discussion into a cross-reference, an event
in that thread, in any repository; `owner/repo@SHA` links to a commit (GitHub's docs: "Autolinked
references and URLs"). A character reference spells the same: a browser reads `&#64;alice`,
`&#64alice`, `&#x40;alice`, `&#0064;alice` and `&commat;alice` as `@alice` in an HTML block, and
Markdown decodes the ones with a semicolon in text and in link targets.

So first each character reference to a character that these are written with (letters, digits,
`@ # - _ . / : %`) is written as that character: the page reads the same. Then a zero-width space
goes between each sign and what it names (here shown as `·`): `@·alice`, `#·5`, `GH-·5`,
`…/issues/·5`. It cannot be seen, so text and code blocks read as before, but GitHub finds no name
or number after the sign. An e-mail address gets one too: what precedes an `@` proves nothing
(`&amp@alice` reads `&@alice`).
"""

from __future__ import annotations

import html
import re
import string
from urllib.parse import urlsplit

ZERO_WIDTH_SPACE = "\u200b"
SPELLING = frozenset(string.ascii_letters + string.digits + "@#-_./:%")
CHARACTER_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?")


def inert(text: str, server: str = "https://github.com") -> str:
    """`text` as GitHub will show it, with no mention and no cross-reference (see the module).

    `server` is the GitHub the job runs on (GITHUB_SERVER_URL): its URLs are references too."""
    while (spelled := CHARACTER_REFERENCE.sub(as_character, text)) != text:
        text = spelled  # again: `&&#35;64;` is `&#64;` once spelled out
    hosts = sorted({"github.com", urlsplit(server).netloc or "github.com"})
    sign = re.compile(
        rf"(?:{'|'.join(map(re.escape, hosts))})/[\w.-]+/[\w.-]+/(?:issues|pulls?|discussions)/"
        r"(?=[0-9%])"  # an issue's, pull request's or discussion's URL
        r"|@(?=[A-Za-z0-9])"  # @alice, @org/team, owner/repo@SHA
        r"|(?<!&)#(?=[0-9])"  # #5, owner/repo#5 (not a numeric character reference's #)...
        r"|&#(?![0-9]{1,7};)(?=[0-9])"  # ...unless Markdown leaves it as text: &#5, &#12345678;
        r"|GH-(?=[0-9])",  # GH-5
        re.IGNORECASE,
    )
    return sign.sub(lambda found: found.group() + ZERO_WIDTH_SPACE, text)


def as_character(reference: re.Match[str]) -> str:
    """The character a browser reads `reference` as, if it is one that a reference is spelled
    with; else the reference as it is."""
    read = html.unescape(reference.group())
    return read if len(read) == 1 and read in SPELLING else reference.group()
