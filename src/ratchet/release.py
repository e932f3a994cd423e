"""Release steps the tag workflow runs: fetch the locked model, tag and smoke-test the image,
write the release notes, and point the MLflow alias at the released model.

Pure functions (versions, image tags, notes) take data and return data; the commands below them
gather the inputs from git, DVC, the files and the network.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ratchet.errors import RatchetError
from ratchet.gate import parse_metrics
from ratchet.paths import METRICS_FILE, MODEL_FILE
from ratchet.serving import (
    LOCK_FILE,
    MODEL_NAME,
    PREDICT_ROUTE,
    check_against_lock,
    example_record,
    file_sha256,
    model_version,
)

if TYPE_CHECKING:
    from ratchet.schema import DataSchema

SEMVER = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?$")


# --- Versions and image tags ----------------------------------------------------------------------


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


def image_name(repository: str) -> str:
    """The GHCR image of a GitHub repository: registries want lower-case names."""
    if repository.count("/") != 1 or not all(repository.split("/")):
        raise RatchetError(f"repository {repository!r} is not OWNER/NAME (GITHUB_REPOSITORY)")
    return f"ghcr.io/{repository.lower()}"


def previous_release(tag: str, existing: Iterable[str]) -> str | None:
    """The newest release (not pre-release) before `tag`: what its notes compare against."""
    version = require_version(tag)
    older = [
        (v, name)
        for name in existing
        if (v := parse_version(name)) is not None and v.is_release and v < version
    ]
    return max(older)[1] if older else None


# --- Release notes --------------------------------------------------------------------------------


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


def metric_change(
    name: str, new: float, old: float | None, higher_is_better: dict[str, bool]
) -> str:
    if old is None:
        return "new"
    delta = new - old
    if delta == 0:
        return "unchanged"
    if name not in higher_is_better:
        return f"{delta:+.4g}"
    better = (delta > 0) == higher_is_better[name]
    return f"{delta:+.4g} ({'better' if better else 'worse'})"


def render_metrics(facts: ReleaseFacts, higher_is_better: dict[str, bool]) -> list[str]:
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
        lines.append(
            f"| {name} | {value:.6g} | {shown} | "
            f"{metric_change(name, value, old, higher_is_better)} |"
        )
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


def render_release_notes(facts: ReleaseFacts, higher_is_better: dict[str, bool]) -> str:
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
        if schema.task == "classification"
        else "one prediction per record"
    )
    version = model_version(facts.model_sha256)
    lines = [
        f"Model `{MODEL_NAME}:{version}`, trained at commit `{facts.git_commit[:12]}` on data "
        f"`{facts.data_md5}` (data.dvc).",
        "",
        *render_metrics(facts, higher_is_better),
        "",
        "### Model card",
        "",
        f"- **Task**: {task}, from {len(schema.features)} features.",
        f"- **Estimator**: `{facts.estimator}`" + (f" ({settings})" if settings else "") + ".",
        f"- **Evaluation**: {facts.split}; the metrics above are on those held-out rows.",
        f"- **Output**: {output}, and `model_version` (`{version}`), from `POST {PREDICT_ROUTE}`.",
        "- **Limits**: the model knows only the data above. Values outside the training ranges "
        "are extrapolated; categories not seen in training are refused with a 400.",
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
            owner = facts.image.split("/")[1]
            verify = f"gh attestation verify oci://{facts.image}@{facts.digest} --owner {owner}"
            lines += ["", f"Digest `{facts.digest}`. Verify its build provenance: `{verify}`."]
    lines += ["", "### Rollback", ""]
    if facts.previous_tag is None:
        lines.append("This is the first release: there is no earlier image to go back to.")
    else:
        before = image_tags(facts.previous_tag, [])[0]
        image = f"`{facts.image}:{before}`" if facts.image else f"the {facts.previous_tag} image"
        lines.append(
            f"Deploy {image} again, and move the MLflow alias back to its model with "
            f"MLFLOW_TRACKING_URI set: `git checkout {facts.previous_tag} && make pull-model "
            "promote`."
        )
    return "\n".join(lines) + "\n"


def git(*args: str) -> str:
    try:
        result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RatchetError("git not found on PATH") from None
    if result.returncode != 0:
        raise RatchetError(f"`git {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout


def describe_split(method: str, time_column: str | None, test_size: float, seed: int) -> str:
    if method == "time":
        return f"held out the latest {test_size:.0%} of rows by `{time_column}`"
    return f"held out a random {test_size:.0%} of rows (seed {seed})"


def release_facts(tag: str, image: str | None, digest: str | None) -> ReleaseFacts:
    """Everything the notes say, read from the checkout of the tagged commit."""
    from ratchet.schema import DataSchema
    from ratchet.settings import load_params
    from ratchet.tracking import data_version

    require_version(tag)
    for path in (METRICS_FILE, MODEL_FILE):
        if not path.is_file():
            raise RatchetError(f"{path} not found: run `make pull-model` (or `make run`) first")
    previous = previous_release(tag, git("tag", "--list", "v*").split())
    previous_metrics = None
    if previous is not None:
        try:
            text = git("show", f"{previous}:{METRICS_FILE.as_posix()}")
        except RatchetError:
            previous_metrics = None
        else:
            previous_metrics = parse_metrics(text, f"{previous}:{METRICS_FILE}")
    params = load_params()
    return ReleaseFacts(
        tag=tag,
        model_sha256=file_sha256(MODEL_FILE),
        git_commit=git("rev-parse", "HEAD").strip(),
        data_md5=data_version(),
        metrics=parse_metrics(METRICS_FILE.read_text(), str(METRICS_FILE)),
        previous_tag=previous,
        previous_metrics=previous_metrics,
        schema=DataSchema.load(),
        estimator=params.train.estimator,
        hyperparameters=dict(params.train.hyperparameters),
        split=describe_split(
            params.split.method, params.split.time_column, params.split.test_size, params.split.seed
        ),
        image=image,
        digest=digest,
    )


# --- Fetching the locked model --------------------------------------------------------------------


def stream(command: list[str]) -> None:
    """Run a long command with its output shown as it goes."""
    try:
        code = subprocess.run(command, check=False).returncode
    except FileNotFoundError:
        raise RatchetError(f"`{command[0]}` not found on PATH: run `make install`") from None
    if code != 0:
        raise RatchetError(f"`{' '.join(command)}` failed (exit {code}): see its output above")


def pull_model() -> str:
    """Fetch what this commit's dvc.lock names, retraining only what the DVC remote lacks (as
    `make repro` does); returns the model file's sha256.

    Retraining must reproduce the locked outputs exactly (training is seeded): if dvc.lock
    changes, the release would ship a model no commit names, so this fails instead.
    """
    dvc = [sys.executable, "-m", "dvc"]
    stream([*dvc, "pull", "data.dvc"])
    stream([*dvc, "repro", "--pull"])
    if git("status", "--porcelain", "--", str(LOCK_FILE)).strip():
        raise RatchetError(
            f"`dvc repro` changed {LOCK_FILE}: the outputs this commit names are not in the DVC "
            "remote and retraining made different ones; `dvc push` them from where they were "
            "trained, then rerun the release"
        )
    check_against_lock([MODEL_FILE])
    return file_sha256(MODEL_FILE)


# --- Smoke test -----------------------------------------------------------------------------------


def http(
    url: str, payload: dict[str, Any] | None = None, timeout: float = 30.0
) -> tuple[int, dict[str, Any]]:
    """GET (or POST JSON) and return the status and the decoded JSON body ({} if none)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        body = {"raw": raw.decode("utf-8", "replace")[:200]}
    return status, body if isinstance(body, dict) else {"json": body}


def wait_ready(base_url: str, timeout: float) -> float:
    """Poll /readyz until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    last = "no answer"
    while True:
        try:
            status, _ = http(f"{base_url}/readyz", timeout=5.0)
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        else:
            if status == 200:
                return time.monotonic() - started
            last = f"HTTP {status}"
        if time.monotonic() - started > timeout:
            raise RatchetError(
                f"{base_url}/readyz was not ready within {timeout:g} s "
                f"(last: {last}): check the service's log"
            )
        time.sleep(0.5)


def smoke_test(base_url: str, timeout: float) -> list[str]:
    """Prove a served model is the current one: ready, predicts what the artifact predicts, and
    refuses a bad request with a 400 that names the field."""
    import joblib
    import pandas as pd

    from ratchet.schema import SCHEMA_FILE, DataSchema

    base_url = base_url.rstrip("/")
    for path in (MODEL_FILE, SCHEMA_FILE):
        if not path.is_file():
            raise RatchetError(f"{path} not found: run `make pull-model` (or `make run`) first")
    schema = DataSchema.load()
    expected = model_version(file_sha256(MODEL_FILE))
    waited = wait_ready(base_url, timeout)
    report = [f"{base_url} ready after {waited:.1f} s"]

    record = example_record(schema)
    status, body = http(f"{base_url}{PREDICT_ROUTE}", {"records": [record]})
    if status != 200:
        raise RatchetError(f"POST {PREDICT_ROUTE} with a valid record got HTTP {status}: {body}")
    if body.get("model_version") != expected:
        raise RatchetError(
            f"the service runs model {body.get('model_version')!r}, but "
            f"{MODEL_FILE} is {expected!r}: build the image from this commit"
        )
    served = (body.get("predictions") or [None])[0]
    local = joblib.load(MODEL_FILE).predict(pd.DataFrame([record]))[0]
    same = (
        math.isclose(float(served), float(local), rel_tol=1e-9, abs_tol=1e-9)
        if schema.task == "regression" and served is not None
        else served == local
    )
    if not same:
        raise RatchetError(
            f"the service predicts {served!r} for the example record, but "
            f"{MODEL_FILE} predicts {local!r}: the image's packages differ"
        )
    report.append(
        f"model {expected} predicts {served!r} for {json.dumps(record)}, as the artifact does"
    )

    missing = schema.features[0].name
    status, body = http(
        f"{base_url}{PREDICT_ROUTE}",
        {"records": [{k: v for k, v in record.items() if k != missing}]},
    )
    if status != 400 or missing not in str(body.get("error", "")):
        raise RatchetError(
            f"a record without {missing!r} got HTTP {status} {body}; expected a "
            "400 naming the field"
        )
    report.append(f"a record without {missing!r} gets 400: {body['error']}")
    return report


# --- MLflow alias ---------------------------------------------------------------------------------


def promote(alias: str, release: str | None, sha256: str | None) -> str:
    """Register the MLflow run's model with this sha256 (default: artifacts/model.joblib's) and
    point `alias` at it.

    Running it again for the same model reuses its version, so promoting an older release's
    checkout is the rollback.
    """
    import os

    from ratchet import tracking

    if sha256 is None:
        if not MODEL_FILE.is_file():
            raise RatchetError(f"{MODEL_FILE} not found: run `make pull-model` (or `make run`)")
        sha256 = file_sha256(MODEL_FILE)
    uri = tracking.tracking_uri()
    run_id = tracking.find_run(sha256)
    if run_id is None:
        raise RatchetError(
            f"no MLflow run in {uri} logged the model with sha256 {sha256[:12]}: train it with "
            "this MLFLOW_TRACKING_URI set (`dvc repro --force`), then promote"
        )
    mlflow = tracking.start(uri)
    client = mlflow.MlflowClient()
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME", tracking.EXPERIMENT)
    versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    if versions:
        version = str(max(int(v.version) for v in versions))
    else:
        version = str(mlflow.register_model(f"runs:/{run_id}/model", name).version)
    try:
        before = str(client.get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        before = None
    client.set_model_version_tag(name, version, "model_sha256", sha256)
    if release:
        client.set_model_version_tag(name, version, "release", release)
    client.set_registered_model_alias(name, alias, version)
    moved = "already" if before == version else f"was {before}" if before else "new alias"
    return f"{name} version {version} (run {run_id}) is @{alias} ({moved}) in {uri}"
