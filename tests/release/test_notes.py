"""The release notes: a model card and the metrics against the previous release, from real git."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ratchet.core.schema import DataSchema
from ratchet.release.notes import ReleaseFacts, render_release_notes
from tests.conftest import (
    CLASSIFICATION_DATA,
    REGRESSION_DATA,
    Project,
    classification_frame,
    make_project,
    regression_frame,
    train_workspace,
)


def facts(schema: DataSchema, **changes: object) -> ReleaseFacts:
    base = ReleaseFacts(
        tag="v1.2.0",
        model_sha256="ab" * 32,
        git_commit="c0ffee" * 7,
        data_md5="d4t4.dir",
        metrics={"rmse": 4.0, "r2": 0.9},
        previous_tag="v1.1.0",
        previous_metrics={"rmse": 5.0, "r2": 0.92},
        schema=schema,
        estimator="hist_gradient_boosting",
        hyperparameters={"max_iter": 30},
        split="held out the latest 25% of rows by `when`",
        image="ghcr.io/acme/ratchet",
        digest="sha256:" + "e" * 64,
        probabilities=schema.task == "classification",
    )
    return ReleaseFacts(**{**base.__dict__, **changes})


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, DataSchema]:
    loaded = {}
    for name, data, frame in (
        ("regression", REGRESSION_DATA, regression_frame()),
        ("classification", CLASSIFICATION_DATA, classification_frame()),
    ):
        workspace = tmp_path_factory.mktemp(name)
        train_workspace(workspace, data, frame)
        loaded[name] = DataSchema.load(workspace / "artifacts/schema.json")
    return loaded


def test_notes_compare_metrics_with_the_previous_release(schemas: dict[str, DataSchema]) -> None:
    notes = render_release_notes(facts(schemas["regression"]))
    assert "| metric | v1.2.0 | v1.1.0 | change |" in notes
    assert "| rmse | 4 | 5 | -1 (better) |" in notes
    assert "| r2 | 0.9 | 0.92 | -0.02 (worse) |" in notes
    assert "Model `ratchet:abababababab`, trained at commit `c0ffeec0ffee`" in notes
    assert "- **Task**: regression of `price`, from 3 features." in notes
    assert "| `colour` | categorical (string) | blue, green, red |" in notes
    assert "| `age` | integer | 0 to 49 |" in notes
    assert "`hist_gradient_boosting` (max_iter=30)" in notes
    assert "a category not seen in training is refused with a 400 in `colour`." in notes
    assert "docker run --rm -p 3000:3000 ghcr.io/acme/ratchet:1.2.0" in notes
    assert (
        f"gh attestation verify oci://ghcr.io/acme/ratchet@sha256:{'e' * 64} --repo acme/ratchet "
        "--signer-workflow acme/ratchet/.github/workflows/release.yml\n"
    ) in notes
    assert "Revert the merged pull request that deployed this release" in notes
    assert "outside Kubernetes, run `ghcr.io/acme/ratchet:1.1.0` again" in notes
    rollback = "`git checkout v1.1.0 && python -m ratchet reproduce && python -m ratchet promote`"
    assert rollback in notes


def test_notes_of_a_first_classification_release(schemas: dict[str, DataSchema]) -> None:
    notes = render_release_notes(
        facts(
            schemas["classification"],
            previous_tag=None,
            previous_metrics=None,
            image=None,
            digest=None,
            metrics={"accuracy": 0.875},
        )
    )
    assert "First release: nothing to compare with." in notes
    assert "| accuracy | 0.875 |" in notes
    assert "classification of `label` into high, low" in notes
    assert "probability of each class" in notes
    assert "### Image" not in notes
    assert "first release: there is no earlier image" in notes


def test_the_model_card_says_what_the_served_model_does(schemas: dict[str, DataSchema]) -> None:
    """A classifier without predict_proba answers with classes only; a column whose unseen
    policy is `unknown` scores a new category."""
    schema = schemas["classification"]
    unknown = {"unseen": "unknown"}
    features = [
        feature.model_copy(update=unknown) if feature.kind == "categorical" else feature
        for feature in schema.features
    ]
    notes = render_release_notes(
        facts(schema.model_copy(update={"features": features}), probabilities=False)
    )
    assert "- **Output**: one prediction per record, and `model_version`" in notes
    assert "probability" not in notes
    categorical = ", ".join(f"`{f.name}`" for f in features if f.kind == "categorical")
    assert (
        f"a category not seen in training is scored as the rare categories' level in {categorical}."
    ) in notes
    assert "refused with a 400" not in notes


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A repository with release v1.0.0, then a better model committed for v1.1.0."""
    project = make_project(tmp_path_factory.mktemp("released") / "project")
    train_workspace(project.path, REGRESSION_DATA, regression_frame())
    (project.path / "data.dvc").write_text("outs:\n- md5: 0123abcd.dir\n  path: data\n")
    (project.path / "reports/metrics.json").write_text('{"rmse": 5.0, "r2": 0.9}\n')
    project.commit("first model")
    project.git("tag", "v1.0.0")
    (project.path / "reports/metrics.json").write_text('{"rmse": 4.5, "r2": 0.91}\n')
    project.commit("better model")
    project.git("tag", "v1.1.0")
    return project


@pytest.fixture
def released(repository: Project, tmp_path: Path) -> Project:
    """A copy of the repository for one test to change."""
    shutil.copytree(repository.path, tmp_path / "project", symlinks=True)
    return Project(tmp_path / "project")


def test_release_notes_command_reads_the_repository(released: Project) -> None:
    result = released.here(
        "release-notes",
        "--tag",
        "v1.1.0",
        "--image",
        "ghcr.io/acme/ratchet",
        "--digest",
        "sha256:" + "f" * 64,
        "--output",
        "notes/release.md",
    )
    assert "wrote notes/release.md" in result.stdout
    notes = released.read("notes/release.md")
    assert "| rmse | 4.5 | 5 | -0.5 (better) |" in notes
    assert "| r2 | 0.91 | 0.9 | +0.01 (better) |" in notes
    assert f"trained at commit `{released.git('rev-parse', 'HEAD')[:12]}`" in notes
    assert "on data `0123abcd.dir`" in notes


def test_release_notes_fail_closed_without_metrics(released: Project) -> None:
    (released.path / "reports/metrics.json").unlink()
    result = released.here("release-notes", "--tag", "v1.1.0", "--output", "notes.md")
    assert result.returncode == 1
    assert result.stderr.startswith("error: reports/metrics.json not found: run `make run`")
    assert not (released.path / "notes.md").exists()


def test_image_tags_command_reads_the_existing_tags(released: Project) -> None:
    released.git("tag", "v2.0.0")
    result = released.here("image-tags", "--tag", "v1.2.0", "--repository", "Acme/Ratchet")
    assert result.stdout.split() == [
        "ghcr.io/acme/ratchet:1.2.0",
        "ghcr.io/acme/ratchet:1.2",
        "ghcr.io/acme/ratchet:1",
    ]
    refused = released.here("image-tags", "--tag", "release-1", "--repository", "a/b")
    assert refused.returncode == 1 and "is not a release version" in refused.stderr


def test_promote_fails_closed_without_a_matching_run(released: Project) -> None:
    result = released.here("promote", env={"MLFLOW_TRACKING_URI": ""})
    assert result.returncode == 1
    store = f"sqlite:///{released.path.resolve()}/mlruns/mlflow.db"
    assert f"no MLflow run in {store} logged the model with sha256" in result.stderr


def test_smoke_test_fails_when_nothing_answers(released: Project) -> None:
    result = released.here("smoke-test", "http://127.0.0.1:9", "--timeout", "1")
    assert result.returncode == 1
    assert "http://127.0.0.1:9/readyz was not ready within 1 s" in result.stderr
