"""The release commands (what release.yml runs, step by step)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ratchet.core.cli import Commands

if TYPE_CHECKING:
    from ratchet.github.actions import Run, TokenSource
    from ratchet.github.api import GitHubAPI

NOTES_FILE = Path("release-notes.md")


def release_tag(args: argparse.Namespace) -> str:
    """The tag given, or in a tag-triggered run the tag it runs for."""
    from ratchet.core.errors import RatchetError
    from ratchet.github.actions import current

    tag = args.tag or current().ref_name
    if not tag:
        raise RatchetError("no release tag: pass --tag (e.g. --tag v1.2.0)")
    return str(tag)


def cmd_check_tag(args: argparse.Namespace) -> int:
    from ratchet.github.actions import current
    from ratchet.release.publish import check_tag

    print(f"check-tag: {check_tag(release_tag(args), current().default_branch)}")
    return 0


def cmd_bento(args: argparse.Namespace) -> int:
    from ratchet.release.bento import build_bento

    print(build_bento(args.version))
    return 0


def cmd_container(args: argparse.Namespace) -> int:
    from ratchet.core.git import head_commit
    from ratchet.github.actions import current
    from ratchet.release.bento import bento_name
    from ratchet.release.image import containerize, containerize_command, image_labels, local_image

    tag = release_tag(args)
    commit, dirty = head_commit()
    source = args.source or current().repository_url
    labels = image_labels(tag, None if commit == "unknown" else commit, dirty, source)
    image = local_image(tag)
    containerize(containerize_command(f"{bento_name()}:{tag}", image, args.backend, labels))
    print(f"container: built {image}")
    for key, value in labels.items():
        print(f"container: label {key}={value}")
    return 0


def cmd_smoke_image(args: argparse.Namespace) -> int:
    from ratchet.release.image import local_image, smoke_image

    for line in smoke_image(local_image(release_tag(args)), args.port, args.name, args.timeout):
        print(f"smoke-image: {line}")
    return 0


def cmd_smoke_test(args: argparse.Namespace) -> int:
    from ratchet.release.smoke import smoke_test

    for line in smoke_test(args.url, args.timeout):
        print(f"smoke-test: {line}")
    return 0


def cmd_image_tags(args: argparse.Namespace) -> int:
    from ratchet.core.git import git
    from ratchet.release.versions import image_name, image_tags

    image = image_name(args.repository)
    tags = image_tags(release_tag(args), git("tag", "--list", "v*").split())
    print("\n".join(f"{image}:{tag}" for tag in tags))
    return 0


def cmd_push_image(args: argparse.Namespace) -> int:
    from ratchet.core.errors import RatchetError
    from ratchet.github.actions import current
    from ratchet.release.image import local_image
    from ratchet.release.publish import push_image

    run = current()
    tag = release_tag(args)
    repository = args.repository or run.repository
    if not repository:
        raise RatchetError("no repository to push to: pass --repository OWNER/NAME")
    registry = args.registry or run.env.get("RATCHET_REGISTRY") or "ghcr.io"
    image, digest = push_image(tag, repository, args.local or local_image(tag), registry)
    print(f"push-image: pushed {image}@{digest}")
    run.set_outputs(image=image, digest=digest)
    return 0


def cmd_release_notes(args: argparse.Namespace) -> int:
    from ratchet.core.files import text, write_all
    from ratchet.github.actions import current
    from ratchet.release.notes import release_facts, render_release_notes

    env = current().env
    image = args.image or env.get("RATCHET_IMAGE") or None
    digest = args.digest or env.get("RATCHET_DIGEST") or None
    notes = render_release_notes(release_facts(release_tag(args), image, digest))
    if args.output:
        write_all({args.output: text(notes)})
        print(f"release-notes: wrote {args.output}")
    else:
        print(notes, end="")
    return 0


def cmd_github_release(args: argparse.Namespace) -> int:
    from ratchet.core.errors import RatchetError
    from ratchet.github.actions import current
    from ratchet.github.api import client
    from ratchet.release.publish import github_release

    tag = release_tag(args)
    if not args.notes.is_file():
        raise RatchetError(f"{args.notes} not found: run `python -m ratchet release-notes` first")
    api, repository = client(current(), "github-release")
    print(f"github-release: {github_release(api, repository, tag, args.notes.read_text())}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from ratchet.github.actions import current
    from ratchet.release.promote import promote

    run = current()
    sha256 = args.model_sha256 or run.env.get("RATCHET_MODEL_SHA256") or None
    release = args.release or run.ref_name
    print(f"promote: {promote(args.alias, release, sha256)}")
    return 0


def cmd_deploy_set_image(args: argparse.Namespace) -> int:
    from ratchet.release.deploy import parse_image, set_overlay_image

    print(f"deploy-set-image: {set_overlay_image(args.env, parse_image(args.image))}")
    return 0


def github_api(command: str) -> tuple[GitHubAPI, Run, str]:
    """The API with the run's token (GH_TOKEN: the App's), the run, and its repository."""
    from ratchet.github.actions import current
    from ratchet.github.api import client

    run = current()
    api, repository = client(run, command)
    return api, run, repository


def report(command: str, run: Run, line: str, token: TokenSource) -> None:
    from ratchet.release.deploy import TOKEN_WARNING

    print(f"{command}: {line}")
    run.add_summary(f"### {command}\n\n{line}\n")
    if token == "github-token":
        print(f"::warning title=Deploy pull request::{TOKEN_WARNING}")


def cmd_deploy_pr(args: argparse.Namespace) -> int:
    from ratchet.core.errors import RatchetError
    from ratchet.github.actions import token_source
    from ratchet.release.deploy import parse_image, propose, release_proposal

    api, run, repository = github_api("deploy-pr")
    image = parse_image(
        args.image
        or "@".join(filter(None, (run.env.get("RATCHET_IMAGE"), run.env.get("RATCHET_DIGEST"))))
    )
    notes = args.notes or (run.temp / "release-notes" / NOTES_FILE if run.temp else NOTES_FILE)
    if not notes.is_file():
        raise RatchetError(f"{notes} not found: write it with `python -m ratchet release-notes`")
    base = run.default_branch
    proposal = release_proposal(
        api,
        repository,
        base,
        image,
        env=args.env,
        release=release_tag(args),
        notes=notes.read_text(),
    )
    token = token_source(run.env.get("RATCHET_TOKEN_SOURCE"))
    report("deploy-pr", run, propose(api, repository, base, proposal, token), token)
    return 0


def cmd_deploy_promote(args: argparse.Namespace) -> int:
    from ratchet.github.actions import token_source
    from ratchet.release.deploy import promotion_proposal, propose

    api, run, repository = github_api("deploy-promote")
    base = run.default_branch
    release = run.event.get("release")  # a `release: published` run: the Release's notes
    notes = str(release.get("body") or "") if isinstance(release, dict) else ""
    proposal = promotion_proposal(
        api, repository, base, source=args.source, target=args.target, release_notes=notes
    )
    token = token_source(run.env.get("RATCHET_TOKEN_SOURCE"))
    report("deploy-promote", run, propose(api, repository, base, proposal, token), token)
    return 0


def register(commands: Commands) -> None:
    check = commands.add(
        "check-tag",
        cmd_check_tag,
        "fail unless the release tag is on the default branch (its model passed metrics-gate)",
    )
    check.add_argument("--tag", help="the release tag (default: the tag the run is for)")
    bento = commands.add(
        "bento", cmd_bento, "import the model and build the BentoML service; print its tag"
    )
    bento.add_argument("--version", help="bento version, e.g. the release tag v1.2.0")
    container = commands.add(
        "container",
        cmd_container,
        "containerize the bento ratchet:TAG, with its model, into the image ratchet:TAG (Docker)",
    )
    container.add_argument("--tag", help="the bento's version (default: the tag the run is for)")
    container.add_argument(
        "--backend", default="buildx", help="bentoml containerize's builder (default: buildx)"
    )
    container.add_argument(
        "--source", help="the repository URL to label the image with (default: the run's)"
    )
    smoke_image = commands.add(
        "smoke-image",
        cmd_smoke_image,
        "run the image ratchet:TAG, smoke-test it over HTTP, and remove the container (Docker)",
    )
    smoke_image.add_argument("--tag", help="the image's tag (default: the tag the run is for)")
    smoke_image.add_argument(
        "--port", type=int, default=3000, help="the host port on 127.0.0.1 (default: 3000)"
    )
    smoke_image.add_argument(
        "--name", default="ratchet-smoke", help="the container's name (default: ratchet-smoke)"
    )
    smoke_image.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for /readyz"
    )
    smoke = commands.add(
        "smoke-test",
        cmd_smoke_test,
        "check a served model: ready, predicts as the artifact does, refuses bad input",
    )
    smoke.add_argument("url", help="the service's base URL, e.g. http://127.0.0.1:3000")
    smoke.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for /readyz")
    tags = commands.add(
        "image-tags", cmd_image_tags, "the image references a release pushes, one a line"
    )
    tags.add_argument("--tag", help="the release tag (default: the tag the run is for)")
    tags.add_argument("--repository", required=True, help="OWNER/NAME on GitHub")
    push = commands.add(
        "push-image", cmd_push_image, "push ratchet:TAG to ghcr.io with its semver tags"
    )
    push.add_argument("--tag", help="the release tag (default: the tag the run is for)")
    push.add_argument("--repository", help="OWNER/NAME (default: the run's repository)")
    push.add_argument("--local", help="the local image to push (default: ratchet:TAG)")
    push.add_argument(
        "--registry", help="the registry to push to (default: $RATCHET_REGISTRY, else ghcr.io)"
    )
    notes = commands.add(
        "release-notes",
        cmd_release_notes,
        "the GitHub Release notes: metrics against the last release and a model card",
    )
    notes.add_argument("--tag", help="the release tag (default: the tag the run is for)")
    notes.add_argument("--image", help="the pushed image, e.g. ghcr.io/owner/repo")
    notes.add_argument("--digest", help="the pushed image's digest, sha256:...")
    notes.add_argument("--output", type=Path, help="write the notes here instead of stdout")
    release = commands.add(
        "github-release", cmd_github_release, "publish the GitHub Release with the notes"
    )
    release.add_argument("--tag", help="the release tag (default: the tag the run is for)")
    release.add_argument(
        "--notes", type=Path, default=NOTES_FILE, help=f"the notes (default: {NOTES_FILE})"
    )
    promote = commands.add(
        "promote", cmd_promote, "point an MLflow registry alias at the registered current model"
    )
    promote.add_argument("--alias", default="production", help="the alias to move")
    promote.add_argument("--release", help="tag the model version with this release tag")
    promote.add_argument("--model-sha256", help="the model to promote (default: the current one)")
    set_image = commands.add(
        "deploy-set-image",
        cmd_deploy_set_image,
        "set the image of a deploy overlay (deploy/overlays/ENV) to IMAGE@sha256:...",
    )
    set_image.add_argument("--env", required=True, help="the overlay, e.g. staging")
    set_image.add_argument(
        "--image", required=True, help="the image by digest: ghcr.io/OWNER/REPO@sha256:<64 hex>"
    )
    deploy_pr = commands.add(
        "deploy-pr",
        cmd_deploy_pr,
        "open the pull request that sets an overlay to the release's image (GitHub API; system "
        "Python)",
    )
    deploy_pr.add_argument("--env", default="staging", help="the overlay (default: staging)")
    deploy_pr.add_argument("--tag", help="the release tag (default: the tag the run is for)")
    deploy_pr.add_argument(
        "--image", help="IMAGE@sha256:... (default: $RATCHET_IMAGE@$RATCHET_DIGEST)"
    )
    deploy_pr.add_argument(
        "--notes",
        type=Path,
        help=f"the release notes (default: $RUNNER_TEMP/release-notes/{NOTES_FILE})",
    )
    promote_pr = commands.add(
        "deploy-promote",
        cmd_deploy_promote,
        "open the pull request that gives production the image staging runs (GitHub API; system "
        "Python)",
    )
    promote_pr.add_argument(
        "--from", dest="source", default="staging", help="the overlay to copy (default: staging)"
    )
    promote_pr.add_argument(
        "--to", dest="target", default="production", help="the overlay to set (default: production)"
    )
