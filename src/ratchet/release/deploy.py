"""Which image each deploy overlay runs, and the pull requests that change it.

`deploy/overlays/<env>/kustomization.yaml` names the service's image in one `images:` entry:

    images:
      - name: ratchet
        newName: ghcr.io/OWNER/REPO
        digest: sha256:<64 hex>

A release sets staging's entry by pull request; promotion copies staging's into production by a
second one; a rollback reverts one of them. `set_image` edits that one entry as text, so that the
file's comments and layout stay as the forker wrote them (kubectl's kustomize renders overlays but
does not edit them, and a YAML round trip would drop the comments).

Standard library only: the job that holds the App token runs this on the runner's own Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ratchet.core.errors import RatchetError
from ratchet.core.files import text, write_all
from ratchet.github.actions import TokenSource
from ratchet.github.api import GitHubAPI

OVERLAYS = Path("deploy/overlays")
KUSTOMIZATION = "kustomization.yaml"
IMAGE = "ratchet"  # the image the base's Deployment names, which each overlay's entry replaces
BRANCH = "ratchet/deploy-{env}"  # one open pull request per environment, replaced by a newer one

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# REGISTRY[:PORT]/PATH in lower case, as registries name repositories (no tag).
NAME = re.compile(
    r"[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+"
)
# One `key: value  # comment` line of a block mapping, possibly a list item's first (`- key: …`).
LINE = re.compile(
    r"^(?P<indent> *)(?P<dash>- +)?(?P<key>[A-Za-z][\w.-]*):(?P<gap>[ \t]*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^#]*?)(?P<tail>[ \t]*(?:#.*)?)$"
)

TOKEN_WARNING = (
    "This pull request was opened with the workflow's GITHUB_TOKEN, and GitHub starts no "
    "workflow for what that token does: the required checks run only once a person closes and "
    "reopens it. Give the `deploy` environment a GitHub App (secrets RATCHET_APP_CLIENT_ID and "
    "RATCHET_APP_PRIVATE_KEY) or a token (secret RATCHET_PR_TOKEN) to have them run by themselves."
)


@dataclass(frozen=True)
class Image:
    name: str  # ghcr.io/owner/repo
    digest: str  # sha256:<64 hex>

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}"


def parse_image(reference: str) -> Image:
    """`REGISTRY/PATH@sha256:<64 hex>`; a tag moves, so an overlay never takes one."""
    name, at, digest = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        raise RatchetError(
            f"image {reference!r} names the tag {last.split(':', 1)[1]!r}: an overlay takes a "
            "digest, never a tag: give IMAGE@sha256:<64 hex> (the digest "
            "`python -m ratchet push-image` printed)"
        )
    if not at:
        raise RatchetError(f"image {reference!r} has no digest: give IMAGE@sha256:<64 hex>")
    if not DIGEST.fullmatch(digest):
        raise RatchetError(
            f"image {reference!r}: the digest {digest!r} is not sha256: and 64 lower-case hex "
            "digits"
        )
    if not NAME.fullmatch(name):
        raise RatchetError(
            f"image {reference!r}: {name!r} is not REGISTRY/PATH in lower case "
            "(e.g. ghcr.io/owner/repo)"
        )
    return Image(name, digest)


def unquote(value: str) -> str:
    return value[1:-1] if value[:1] in "\"'" and value[-1:] == value[:1] else value


def image_entry(content: str, source: str) -> dict[str, tuple[int, re.Match[str]]]:
    """The `images:` entry named ratchet: each of its keys, with its line's index and parts."""
    lines = content.splitlines()
    starts = [i for i, line in enumerate(lines) if re.fullmatch(r"images:[ \t]*(#.*)?", line)]
    if len(starts) != 1:
        raise RatchetError(
            f"{source}: no top-level `images:` list: add one with the entry `- name: {IMAGE}`, "
            "`newName: ghcr.io/OWNER/REPO` and `digest: sha256:…`"
        )
    entries: list[dict[str, tuple[int, re.Match[str]]]] = []
    column = -1
    for index in range(starts[0] + 1, len(lines)):
        line = lines[index]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith((" ", "-")):
            break  # the next top-level key
        found = LINE.match(line)
        if found is None:
            continue  # a nested value: not one of the entry's keys
        if found["dash"]:
            column = len(found["indent"]) + len(found["dash"])
            entries.append({})
        elif len(found["indent"]) != column:
            continue
        if entries:
            entries[-1][found["key"]] = (index, found)
    named = [e for e in entries if "name" in e and unquote(e["name"][1]["value"]) == IMAGE]
    if len(named) != 1:
        raise RatchetError(
            f"{source}: `images:` has {len(named)} entries named {IMAGE}: keep exactly one "
            "(name, newName and digest)"
        )
    entry = named[0]
    if "newTag" in entry:
        raise RatchetError(
            f"{source}: the {IMAGE} image has a newTag: remove it, the overlay gives the image by "
            "digest alone"
        )
    missing = [key for key in ("newName", "digest") if key not in entry]
    if missing:
        raise RatchetError(
            f"{source}: the {IMAGE} image has no {' and no '.join(missing)}: add "
            "`newName: ghcr.io/OWNER/REPO` and `digest: sha256:…` under `- name: ratchet`"
        )
    return entry


def current_image(content: str, source: str) -> Image:
    """The image an overlay names now, as written (the template's is a placeholder)."""
    entry = image_entry(content, source)
    return Image(*(unquote(entry[key][1]["value"]) for key in ("newName", "digest")))


def valid_image(content: str, source: str) -> Image:
    """The image an overlay runs, which must be a real one: what promotion copies."""
    try:
        return parse_image(str(current_image(content, source)))
    except RatchetError as error:
        raise RatchetError(f"{source}: {error}") from None


def set_image(content: str, image: Image, source: str) -> str:
    """The overlay with its image set to `image`: two values change, nothing else."""
    lines = content.splitlines(keepends=True)
    for key, value in image_entry(content, source).items():
        if key not in ("newName", "digest"):
            continue
        index, parts = value
        new = image.name if key == "newName" else image.digest
        quote = parts["value"][:1] if parts["value"][:1] in "\"'" else ""
        ending = lines[index][len(lines[index].rstrip("\r\n")) :]
        head = lines[index][: parts.start("value")]
        lines[index] = f"{head}{quote}{new}{quote}{parts['tail']}{ending}"
    return "".join(lines)


def overlay(env: str) -> Path:
    """The kustomization of environment `env`, which must be one of the overlays."""
    known = sorted(path.parent.name for path in OVERLAYS.glob(f"*/{KUSTOMIZATION}"))
    if env not in known:
        have = f"the overlays are {', '.join(known)}" if known else "there is none"
        raise RatchetError(f"no overlay {env!r} in {OVERLAYS}/: {have}")
    return OVERLAYS / env / KUSTOMIZATION


def change(env: str, before: Image, after: Image) -> str:
    if before == after:
        return f"{env} already runs {after}"
    return f"{env}: {before} -> {after}"


def set_overlay_image(env: str, image: Image) -> str:
    """Set the overlay's image in place (atomically); say what changed."""
    path = overlay(env)
    content = path.read_text(encoding="utf-8")
    before = current_image(content, str(path))
    if before != image:
        write_all({path: text(set_image(content, image, str(path)))})
    return f"{change(env, before, image)} ({path})"


# --- The pull requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    env: str
    before: Image
    after: Image
    title: str
    body: str


def propose(
    api: GitHubAPI, repository: str, base: str, proposal: Proposal, token: TokenSource
) -> str:
    """Open (or refresh) the pull request that sets `proposal.env`'s image, from the branch
    ratchet/deploy-ENV reset to `base`; nothing when the base already runs that image."""
    if proposal.before == proposal.after:
        return f"{change(proposal.env, proposal.before, proposal.after)}: no pull request"
    path = f"{OVERLAYS}/{proposal.env}/{KUSTOMIZATION}"
    content, _ = api.file(repository, path, base)
    branch = BRANCH.format(env=proposal.env)
    api.reset_branch(repository, branch, api.branch_head(repository, base))
    message = f"{proposal.title}\n\n{proposal.before} -> {proposal.after}"
    api.put_file(repository, path, set_image(content, proposal.after, path), message, branch)
    body = proposal.body
    if token == "github-token":
        body += f"\n\n> [!WARNING]\n> {TOKEN_WARNING}\n"
    done = api.open_or_update_pull(repository, base, branch, proposal.title, body)
    return f"{change(proposal.env, proposal.before, proposal.after)}: {done}"


def release_proposal(
    api: GitHubAPI, repository: str, base: str, image: Image, *, env: str, release: str, notes: str
) -> Proposal:
    """The release's pull request: `env` (staging) runs the image just pushed."""
    path = f"{OVERLAYS}/{env}/{KUSTOMIZATION}"
    before = current_image(api.file(repository, path, base)[0], f"{base}:{path}")
    body = (
        f"Deploys release {release} to **{env}**: sets `{path}` to\n\n"
        f"`{image}`\n\n(was `{before}`). Once merged, Argo CD or Flux syncs {env} to it. To "
        "send it on to production, run the **Promote** workflow, which opens the pull request "
        f"that copies {env}'s digest to production. A later release replaces this pull "
        "request's change; to roll back after the merge, revert it (docs/deploy.md).\n\n"
        f"## Release {release}\n\n{notes.strip()}\n"
    )
    return Proposal(env, before, image, f"Deploy {release} to {env}", body)


def promotion_proposal(
    api: GitHubAPI, repository: str, base: str, *, source: str, target: str, release_notes: str = ""
) -> Proposal:
    """Promotion: `target` runs the image that `source` runs on the base branch now."""
    source_path = f"{OVERLAYS}/{source}/{KUSTOMIZATION}"
    target_path = f"{OVERLAYS}/{target}/{KUSTOMIZATION}"
    commit = api.branch_head(repository, base)
    image = valid_image(api.file(repository, source_path, commit)[0], f"{base}:{source_path}")
    before = current_image(api.file(repository, target_path, commit)[0], f"{base}:{target_path}")
    if "Digest `sha256:" in release_notes and f"Digest `{image.digest}`" not in release_notes:
        raise RatchetError(
            f"{source} runs {image.digest}, not the published release's image: merge the "
            f"release's pull request to {source} first, then run the Promote workflow"
        )
    body = (
        f"Promotes to **{target}** the image that {source} runs: sets `{target_path}` to\n\n"
        f"`{image}`\n\n(was `{before}`), as `{source_path}` has it on {base} at commit "
        f"`{commit[:12]}`. Once merged, Argo CD or Flux syncs {target}. To roll back, revert the "
        "merged pull request (docs/deploy.md).\n"
    )
    title = f"Promote {image.digest[:19]} from {source} to {target}"
    return Proposal(target, before, image, title, body)
