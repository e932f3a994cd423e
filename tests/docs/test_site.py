"""The docs site: mkdocs builds docs/ strictly (a broken link or anchor fails), the home page takes
its sections from the README, and no page loads anything from another host (no fonts, trackers
or scripts from a CDN), so the site works offline and tells no third party who reads it."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import markdown_it
import pytest

from tests.conftest import BIN, ROOT


class Resources(HTMLParser):
    """The URLs a page loads by itself: scripts, stylesheets, icons, fonts, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        if tag in {"script", "img", "iframe", "source", "audio", "video"} and given.get("src"):
            self.urls.append(str(given["src"]))
        if tag == "link" and given.get("href") and given.get("rel") != "canonical":
            self.urls.append(str(given["href"]))


class Skeleton(HTMLParser):
    """The block structure of a page: its lists and items, headings, code blocks and tables."""

    TAGS = frozenset({"ul", "ol", "li", "pre", "table", "blockquote", "h1", "h2", "h3", "h4"})

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.TAGS:
            self.tags.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.TAGS:
            self.tags.append(f"</{tag}>")


def skeleton(html: str) -> list[str]:
    parser = Skeleton()
    parser.feed(html)
    return parser.tags


def build(source: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=source,
        capture_output=True,
        text=True,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("docs") / "site"
    result = build(ROOT, site)
    assert result.returncode == 0, result.stderr
    return site


def test_every_page_of_docs_is_in_the_site(site: Path) -> None:
    pages = {path.stem for path in (ROOT / "docs").glob("*.md")}
    assert pages == {path.stem for path in site.glob("*.html")} - {"404"}


def test_the_home_page_takes_the_readmes_introduction_and_quick_start(site: Path) -> None:
    home = (site / "index.html").read_text()
    assert "only ever moves forward" in home  # the README's introduction
    assert "make run" in home and "--8&lt;--" not in home and "--8<--" not in home


@pytest.mark.parametrize(
    "page",
    [path.stem for path in sorted((ROOT / "docs").glob("*.md")) if path.stem != "index"],
)
def test_each_page_has_the_structure_github_shows(site: Path, page: str) -> None:
    """mkdocs' Markdown nests a list, or a code block in a list item, only at 4 spaces and starts
    a list only after a blank line; GitHub (CommonMark) is laxer. A page written for one must not
    flatten or swallow a list on the other."""
    github = markdown_it.MarkdownIt("commonmark").enable("table")
    expected = skeleton(github.render((ROOT / "docs" / f"{page}.md").read_text()))
    html = (site / f"{page}.html").read_text()
    article = html.split('<article class="md-content__inner md-typeset">', 1)[1]
    assert skeleton(article.split("</article>", 1)[0]) == expected


def test_no_page_loads_anything_from_another_host(site: Path) -> None:
    for page in site.glob("*.html"):
        parser = Resources()
        parser.feed(page.read_text())
        assert parser.urls, page.name
        remote = [url for url in parser.urls if url.startswith(("http:", "https:", "//"))]
        assert remote == [], f"{page.name} loads {remote}"
        assert "fonts.googleapis.com" not in page.read_text()


def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path) -> None:
    for name in ("mkdocs.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    page = tmp_path / "docs" / "pipeline.md"
    text = page.read_text()
    page.write_text(text + "\nSee [the gate](gate.md#no-such-heading).\n")
    result = build(tmp_path, tmp_path / "site")
    assert result.returncode != 0 and "no-such-heading" in result.stderr
    page.write_text(text + "\nSee [the gate](no-such-page.md).\n")
    result = build(tmp_path, tmp_path / "site")
    assert result.returncode != 0 and "no-such-page.md" in result.stderr
