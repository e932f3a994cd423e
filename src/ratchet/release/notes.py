"""The GitHub Release notes: the metrics against the previous release, and a model card.

`render_release_notes` is pure; `release_facts` reads its inputs from the tagged checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ratchet.core.dvc import data_version
from ratchet.core.errors import RatchetError
from ratchet.core.files import sha256
from ratchet.core.git import git, show
from ratchet.core.metrics import better, parse_metrics
from ratchet.core.paths import METRICS_FILE, MODEL_FILE
from ratchet.core.schema import DataSchema
from ratchet.core.settings import load_params
from ratchet.release.versions import image_tags, previous_release, require_version
from ratchet.serve.contract import PREDICT_ROUTE
from ratchet.serve.store import MODEL_NAME, model_version


@dataclass(frozen=True)
class ReleaseFacts:
    tag: str
    model_sha256: str
    git_commit: str
    data_md5: str
    metrics: dict[str, float]
    previous_tag: str | None
    previous_metrics: dict[str, float] | None
    schema: DataSchema
    estimator: str
    hyperparameters: dict[str, Any]
    split: str
    image: str | None
    digest: str | None
    probabilities: bool  # the served model answers with class probabilities


def metric_change(name: str, new: float, old: float | None) -> str:
    if old is None:
        return "new"
    delta = new - old
    if delta == 0:
        return "unchanged"
    direction = better(name)
    if direction is None:
        return f"{delta:+.4g}"
    improved = (delta > 0) == (direction == "higher")
    return f"{delta:+.4g} ({'better' if improved else 'worse'})"


def render_metrics(facts: ReleaseFacts) -> list[str]:
    lines = ["### Metrics (held-out test split)", ""]
    if facts.previous_tag is None:
        lines += ["First release: nothing to compare with.", ""]
        lines += ["| metric | value |", "|---|---:|"]
        lines += [f"| {name} | {value:.6g} |" for name, value in facts.metrics.items()]
        return lines
    previous = facts.previous_metrics or {}
    if facts.previous_metrics is None:
        lines += [f"{facts.previous_tag} has no {METRICS_FILE}: nothing to compare with.", ""]
    lines += [f"| metric | {facts.tag} | {facts.previous_tag} | change |", "|---|---:|---:|---|"]
    for name, value in facts.metrics.items():
        old = previous.get(name)
        shown = "-" if old is None else f"{old:.6g}"
        lines.append(f"| {name} | {value:.6g} | {shown} | {metric_change(name, value, old)} |")
    return lines


def render_features(schema: DataSchema) -> list[str]:
    lines = ["| feature | type | seen in training |", "|---|---|---|"]
    for feature in schema.features:
        if feature.kind == "categorical":
            values = feature.categories or []
            seen = ", ".join(map(str, values[:12])) + (" …" if len(values) > 12 else "")
            kind = f"categorical ({feature.dtype})"
        else:
            seen = f"{feature.minimum:g} to {feature.maximum:g}"
            kind = feature.dtype
        lines.append(f"| `{feature.name}` | {kind} | {seen} |")
    return lines


def unseen_categories(schema: DataSchema) -> str:
    """What the service does with a category training never saw, per data.unseen."""
    policies: dict[str, list[str]] = {"refuse": [], "unknown": []}
    for feature in schema.features:
        if feature.kind == "categorical":
            policies[feature.unseen or "refuse"].append(f"`{feature.name}`")
    said = [
        f"{what} in {', '.join(names)}"
        for what, names in (
            ("refused with a 400", policies["refuse"]),
            ("scored as the rare categories' level", policies["unknown"]),
        )
        if names
    ]
    return "; a category not seen in training is " + ", and ".join(said) if said else ""


def render_release_notes(facts: ReleaseFacts) -> str:
    """The GitHub Release body: metrics against the previous release, a model card, the image."""
    schema = facts.schema
    settings = ", ".join(f"{key}={value}" for key, value in facts.hyperparameters.items())
    task = (
        f"classification of `{schema.target}` into {', '.join(map(str, schema.classes or []))}"
        if schema.task == "classification"
        else f"regression of `{schema.target}`"
    )
    output = (
        "one prediction and the probability of each class per record"
        if facts.probabilities
        else "one prediction per record"
    )
    version = model_version(facts.model_sha256)
    lines = [
        f"Model `{MODEL_NAME}:{version}`, trained at commit `{facts.git_commit[:12]}` on data "
        f"`{facts.data_md5}` (data.dvc).",
        "",
        *render_metrics(facts),
        "",
        "### Model card",
        "",
        f"- **Task**: {task}, from {len(schema.features)} features.",
        f"- **Estimator**: `{facts.estimator}`" + (f" ({settings})" if settings else "") + ".",
        f"- **Evaluation**: {facts.split}; the metrics above are on those held-out rows.",
        f"- **Output**: {output}, and `model_version` (`{version}`), from `POST {PREDICT_ROUTE}`.",
        "- **Limits**: the model knows only the data above. Values outside the training ranges "
        f"are extrapolated{unseen_categories(schema)}.",
        f"- **Model file**: sha256 `{facts.model_sha256}`.",
        "",
        "**Inputs**",
        "",
        *render_features(schema),
    ]
    if facts.image:
        reference = f"{facts.image}:{image_tags(facts.tag, [])[0]}"
        lines += ["", "### Image", "", "```sh", f"docker run --rm -p 3000:3000 {reference}", "```"]
        if facts.digest:
            lines += [
                "",
                f"Digest `{facts.digest}`. Verify that this repository's release workflow built "
                "it:",
                "",
                "```sh",
                verify_command(facts.image, facts.digest),
                "```",
            ]
    lines += ["", "### Rollback", ""]
    if facts.previous_tag is None:
        lines.append("This is the first release: there is no earlier image to go back to.")
    else:
        before = image_tags(facts.previous_tag, [])[0]
        image = f"`{facts.image}:{before}`" if facts.image else f"the {facts.previous_tag} image"
        lines.append(
            "Revert the merged pull request that deployed this release (its *Revert* button "
            "opens one that puts the overlay's previous digest back; docs/deploy.md), or, "
            f"outside Kubernetes, run {image} again. Move the MLflow alias back to its model "
            f"with MLFLOW_TRACKING_URI set: `git checkout {facts.previous_tag} && python -m "
            "ratchet reproduce && python -m ratchet promote`."
        )
    return "\n".join(lines) + "\n"


def verify_command(image: str, digest: str) -> str:
    """The check that an image's provenance was signed by this repository's release workflow
    (and not merely by any workflow of the same owner)."""
    repository = image.split("/", 1)[1]  # ghcr.io/owner/name: owner/name
    return (
        f"gh attestation verify oci://{image}@{digest} --repo {repository} "
        f"--signer-workflow {repository}/.github/workflows/release.yml"
    )


def describe_split(method: str, time_column: str | None, test_size: float, seed: int) -> str:
    if method == "time":
        return f"held out the latest {test_size:.0%} of rows by `{time_column}`"
    return f"held out a random {test_size:.0%} of rows (seed {seed})"


def release_facts(tag: str, image: str | None, digest: str | None) -> ReleaseFacts:
    """Everything the notes say, read from the checkout of the tagged commit."""
    require_version(tag)
    for path in (METRICS_FILE, MODEL_FILE):
        if not path.is_file():
            raise RatchetError(
                f"{path} not found: run `make run` (or `python -m ratchet reproduce`) first"
            )
    previous = previous_release(tag, git("tag", "--list", "v*").split())
    previous_metrics = None
    if previous is not None and (text := show(previous, METRICS_FILE)) is not None:
        previous_metrics = parse_metrics(text, f"{previous}:{METRICS_FILE}")
    import joblib

    params = load_params()
    schema = DataSchema.load()
    return ReleaseFacts(
        tag=tag,
        model_sha256=sha256(MODEL_FILE),
        git_commit=git("rev-parse", "HEAD"),
        data_md5=data_version(),
        metrics=parse_metrics(METRICS_FILE.read_text(), str(METRICS_FILE)),
        previous_tag=previous,
        previous_metrics=previous_metrics,
        schema=schema,
        estimator=params.train.estimator,
        hyperparameters=dict(params.train.hyperparameters),
        split=describe_split(
            params.split.method, params.split.time_column, params.split.test_size, params.split.seed
        ),
        image=image,
        digest=digest,
        probabilities=schema.gives_probabilities(joblib.load(MODEL_FILE)),
    )
