"""Every path is owned by .github/CODEOWNERS unless it is carved out on purpose.

The matcher below follows GitHub's documented rules ("About code owners", docs.github.com,
sections "CODEOWNERS file location" and "CODEOWNERS syntax"):

- GitHub looks for CODEOWNERS in `.github/`, the root, then `docs/`, and uses the first it finds.
- A line is a pattern followed by owners (`@user`, `@org/team` or an email address); `#` starts
  a comment, also after the owners ("*.js @js-owner #This is an inline comment.").
- Patterns follow "most of the same rules used in gitignore files" (git-scm.com/docs/gitignore,
  "Pattern format"): a slash at the start or in the middle anchors the pattern to the root, else
  it matches at any depth; a trailing slash matches only a directory, i.e. the files under it; a
  pattern that names a directory covers everything under it; `*` and `?` never match `/`; a
  leading `**/` matches in every directory, a trailing `/**` everything inside, `/**/` zero or
  more directories; a backslash makes the next character literal.
- GitHub's exceptions: "Escaping a pattern starting with `#` using `\\`", "Using `!` to negate a
  pattern" and "Using `[ ]` to define a character range" do not work. "If any line in your
  CODEOWNERS file contains invalid syntax, that line will be skipped." (The REST API's list of
  CODEOWNERS errors gives the example "The pattern `/` will never match anything".)
- "The `docs/*` pattern will match files like `docs/getting-started.md` but not further nested
  files like `docs/build-app/troubleshooting.md`."
- "Order is important; the last matching pattern takes the most precedence", and a line whose
  "owners are left empty" leaves what it matches unowned (the `/apps/github` example).
- "CODEOWNERS paths are case sensitive."
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT

CODEOWNERS = ROOT / ".github/CODEOWNERS"
# The only paths a pull request may change without an owner's review: files that run no code.
CARVED_OUT = {"params.yaml", "data.dvc"}
# Files a pull request might add: startup hooks and test hooks that run in the check without
# being called, tool settings, and any new file at all.
ADDED = [
    "src/sitecustomize.py",
    "src/usercustomize.py",
    "src/evil.pth",
    "x.pth",
    "conftest.py",
    "tests/conftest.py",
    "tests/a/b/conftest.py",
    ".dvc/config.local",
    "ruff.toml",
    "mypy.ini",
    "setup.cfg",
    "pytest.ini",
    ".python-version",
    "some/new/file.py",
    "bento.Dockerfile.j2",
    "CODEOWNERS",
    "docs/CODEOWNERS",
]
OWNER = re.compile(r"@[\w-]+(/[\w.-]+)?|[^@\s]+@[^@\s]+\.\w+")


@dataclass(frozen=True)
class Rule:
    line: int
    pattern: str
    owners: tuple[str, ...]
    regex: re.Pattern[str]


def translate(segment: str) -> str:
    """One path segment: `*` is any characters but `/`, `?` one, `\\x` a literal x."""
    regex, chars = "", iter(segment)
    for char in chars:
        if char == "\\":
            regex += re.escape(next(chars, char))
        elif char in "*?":
            regex += "[^/]*" if char == "*" else "[^/]"
        else:
            regex += re.escape(char)
    return regex


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A CODEOWNERS pattern as a regular expression over a file's path from the root."""
    anchored = "/" in pattern.rstrip("/")  # a slash at the start or in the middle
    segments = pattern.strip("/").split("/")
    if not anchored and segments != ["**"]:
        segments.insert(0, "**")
    if pattern.endswith("/"):
        segments.append("**")  # a directory: the files under it
    regex = ""
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            regex += ".+" if i == 0 and last else ".*" if last else "(?:.*/)?"
            continue
        regex += "[^/]+" if segment == "*" else translate(segment)
        if not last:
            regex += "/"
        elif segment != "*":  # `docs/*` stops at docs' own files; a name covers a directory
            regex += "(?:/.*)?"
    return re.compile(regex)


def parse(text: str) -> tuple[list[Rule], list[str]]:
    """The rules of a CODEOWNERS file, and the lines GitHub would skip as invalid (with why)."""
    rules: list[Rule] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("\\#"):
            errors.append(f"line {number}: escaping a leading # does not work")
            continue
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        pattern, *rest = re.split(r"(?<!\\)\s+", raw.strip())
        owners = []
        for word in rest:
            if word.startswith("#"):
                break
            owners.append(word)
        if pattern.startswith("!"):
            errors.append(f"line {number}: negation (!) does not work")
        elif "[" in pattern or "]" in pattern:
            errors.append(f"line {number}: character ranges ([ ]) do not work")
        elif pattern == "/":
            errors.append(f"line {number}: the pattern / never matches anything")
        elif bad := [owner for owner in owners if not OWNER.fullmatch(owner)]:
            errors.append(f"line {number}: not an owner: {' '.join(bad)}")
        else:
            rules.append(Rule(number, pattern, tuple(owners), compile_pattern(pattern)))
    return rules, errors


def owners_of(rules: list[Rule], path: str) -> tuple[str, ...] | None:
    """The owners the last matching rule gives `path`: () if it lists none, None if none matches."""
    found: tuple[str, ...] | None = None
    for rule in rules:
        if rule.regex.fullmatch(path):
            found = rule.owners
    return found


def unowned(text: str, paths: list[str]) -> set[str]:
    rules, _ = parse(text)
    return {path for path in paths if not owners_of(rules, path)}


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return [path for path in listed.stdout.split("\0") if path]


def candidates() -> list[str]:
    """Every tracked file, and the files a pull request might add."""
    tracked = tracked_files()
    assert {"dvc.yaml", "src/ratchet/recipe.py", "params.yaml"} <= set(tracked)
    return sorted({*tracked, *ADDED})


# --- This repository's CODEOWNERS ----------------------------------------------------------------


def test_every_path_is_owned_except_the_files_that_run_no_code() -> None:
    text = CODEOWNERS.read_text()
    rules, errors = parse(text)
    assert errors == []
    assert unowned(text, candidates()) == CARVED_OUT
    for path in CARVED_OUT:  # carved out by a line of their own, not merely missed
        assert owners_of(rules, path) == ()


def test_the_default_owner_comes_first_and_each_carve_out_says_why() -> None:
    lines = CODEOWNERS.read_text().splitlines()
    rules, _ = parse(CODEOWNERS.read_text())
    assert rules[0].pattern == "*" and rules[0].owners  # a fork's own team, once replaced
    for rule in rules[1:]:
        if not rule.owners:
            assert rule.pattern.lstrip("/") in CARVED_OUT
            assert lines[rule.line - 2].startswith("#"), f"{rule.pattern}: say why, above it"


def test_github_reads_this_codeowners_file() -> None:
    """GitHub takes the first of .github/, the root and docs/: a copy elsewhere is never read."""
    places = [ROOT / ".github/CODEOWNERS", ROOT / "CODEOWNERS", ROOT / "docs/CODEOWNERS"]
    assert next(place for place in places if place.is_file()) == CODEOWNERS


def test_the_ruleset_requires_the_code_owners_review() -> None:
    ruleset = json.loads((ROOT / ".github/rulesets/main.json").read_text())
    (review,) = [rule for rule in ruleset["rules"] if rule["type"] == "pull_request"]
    assert review["parameters"]["require_code_owner_review"] is True
    assert review["parameters"]["dismiss_stale_reviews_on_push"] is True


def test_a_last_line_that_unowns_everything_fails_the_proof() -> None:
    text, paths = CODEOWNERS.read_text(), candidates()
    assert unowned(text + "*\n", paths) == set(paths)
    without_default = "\n".join(line for line in text.splitlines() if not line.startswith("* "))
    assert {"src/sitecustomize.py", "some/new/file.py", "x.pth"} <= unowned(without_default, paths)


# --- The matcher, on GitHub's documented examples -----------------------------------------------

# GitHub's example file (docs.github.com, "About code owners"), comments shortened.
GITHUB_EXAMPLE = """\
# This is a comment.
*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/*  docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
"""


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("README.md", ("@global-owner1", "@global-owner2")),
        ("src/deep/app.js", ("@js-owner",)),
        ("main.go", ("docs@example.com",)),
        ("notes/todo.txt", ("@octo-org/octocats",)),
        ("build/logs/today/run.sh", ("@octocat",)),  # /build/logs/, then **/logs: the last wins
        ("docs/getting-started.md", ("@doctocat",)),
        ("lib/apps/server.rb", ("@octocat",)),
        ("scripts/deploy.sh", ("@doctocat", "@octocat")),
        ("deeply/nested/logs/out.sh", ("@octocat",)),
        ("apps/server.rb", ("@octocat",)),
        ("apps/github/index.rb", ()),  # the last match has no owners: unowned
    ],
)
def test_githubs_example_file(path: str, owners: tuple[str, ...]) -> None:
    rules, errors = parse(GITHUB_EXAMPLE)
    assert errors == []
    assert owners_of(rules, path) == owners


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        # "docs/*" matches docs' own files, not nested ones (GitHub's example)
        ("docs/*", ["docs/getting-started.md"], ["docs/build-app/troubleshooting.md", "a/docs/x"]),
        # no slash: any depth; a name covers a directory's files
        (
            "conftest.py",
            ["conftest.py", "tests/a/b/conftest.py"],
            ["conftest.pyc", "my_conftest.py"],
        ),
        ("*.pth", ["x.pth", "src/evil.pth"], ["x.pth.txt", "pth"]),
        ("apps", ["apps", "apps/x", "lib/apps/x"], ["apps.md", "lib/myapps/x"]),
        # a slash at the start or in the middle anchors the pattern to the root
        ("/apps", ["apps", "apps/x/y"], ["lib/apps/x"]),
        ("src/apps", ["src/apps/x"], ["lib/src/apps/x"]),
        # a trailing slash: a directory only
        ("apps/", ["apps/x", "lib/apps/x/y"], ["apps"]),
        ("/build/logs/", ["build/logs/a", "build/logs/a/b"], ["build/logs", "x/build/logs/a"]),
        # the lone star: everything, or the root's own files when anchored
        ("*", ["x", "a/b/c"], []),
        ("/*", ["x.pth", "params.yaml"], ["src/x.py"]),
        # double stars
        ("**/logs", ["logs/a", "build/logs/a", "deeply/nested/logs/a"], ["logsx/a"]),
        ("a/**/b", ["a/b", "a/x/b", "a/x/y/b/c"], ["x/a/b"]),
        ("a/**", ["a/x", "a/x/y"], ["a", "b/a/x"]),
        # ? is one character but never /, a backslash makes the next one literal
        ("f?o", ["foo", "x/fao"], ["fo", "f/o"]),
        ("f\\*o", ["f*o"], ["foo"]),
        # case sensitive
        ("/README.md", ["README.md"], ["readme.md"]),
    ],
)
def test_pattern_rules(pattern: str, matches: list[str], misses: list[str]) -> None:
    rules, errors = parse(f"{pattern} @owner\n")
    assert errors == []
    assert [path for path in matches if owners_of(rules, path) is None] == []
    assert [path for path in misses if owners_of(rules, path) is not None] == []


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("!params.yaml", "negation"),
        ("*.[ch]", "character ranges"),
        ("\\#params.yaml", "escaping a leading #"),
        ("params.yaml alice", "not an owner"),
        ("/ @owner", "never matches"),
    ],
)
def test_lines_that_github_skips_change_nothing(line: str, why: str) -> None:
    """GitHub's exceptions to gitignore: such a line is an error, and skipped."""
    rules, errors = parse(f"* @team\n{line}\n")
    assert len(errors) == 1 and why in errors[0]
    assert owners_of(rules, "params.yaml") == owners_of(rules, "x.c") == ("@team",)


def test_the_last_matching_line_wins() -> None:
    rules, _ = parse("/apps/ @octocat\n/apps/github @doctocat\n*.js\n")
    assert owners_of(rules, "apps/github/a.rb") == ("@doctocat",)
    assert owners_of(rules, "apps/github/a.js") == ()
    assert owners_of(rules, "other/a.rb") is None
