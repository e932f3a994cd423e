"""A newcomer's first hour on the demo, for real (dvc repro, dvc push, dvc plots, make): a stage
that fails leaves the outputs dvc.lock records, `dvc push` sends the demo remote (a folder in
git) the data and never a model, DVC draws every plot dvc.yaml declares, and what the docs say
to run leaves `git status` clean. The demo is trained by `Project.repro`, which leaves what
`dvc repro` leaves."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from ratchet.core.files import md5
from tests.conftest import ROOT, Project, make_project

pytestmark = pytest.mark.slow

OUTPUTS = [
    "artifacts/split/train.parquet",
    "artifacts/split/test.parquet",
    "artifacts/schema.json",
    "artifacts/model.joblib",
    "reports/data.json",
    "reports/metrics.json",
    "reports/plots/predictions.csv",
]


@pytest.fixture(scope="module")
def trained_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as a fork starts it: the demo data pulled from the demo remote, trained once
    and committed."""
    project = make_project(
        tmp_path_factory.mktemp("demo") / "project", demo_data=True, with_make=True
    )
    shutil.copy2(ROOT / ".gitignore", project.path / ".gitignore")
    project.dvc("pull", "-q", "data.dvc")
    project.repro()
    project.commit("the demo, trained")
    return project.path


@pytest.fixture
def demo(trained_demo: Path, tmp_path: Path) -> Project:
    """A copy of the trained demo of this test's own."""
    shutil.copytree(trained_demo, tmp_path / "project", symlinks=True)
    return Project(tmp_path / "project")


def fingerprints(project: Project) -> dict[str, str]:
    return {name: md5(project.path / name) for name in OUTPUTS}


@pytest.mark.parametrize(
    ("right", "wrong", "said"),
    [
        ("learning_rate: 0.1", "learnin_rate: 0.1", "(did you mean 'learning_rate'?)"),
        ("target: bikers", "target: biker", "(did you mean 'bikers'?)"),
    ],
    ids=["misspelt-hyperparameter", "wrong-target"],
)
def test_a_stage_that_fails_leaves_the_outputs_dvc_lock_records(
    demo: Project, right: str, wrong: str, said: str
) -> None:
    before = fingerprints(demo)
    params = demo.read("params.yaml")
    (demo.path / "params.yaml").write_text(params.replace(right, wrong, 1))

    failed = demo.run("dvc", "repro", check=False)
    assert failed.returncode != 0
    assert said in failed.stdout + failed.stderr
    assert fingerprints(demo) == before  # the split, schema, model and reports all stay

    (demo.path / "params.yaml").write_text(params)
    assert "up to date" in demo.run("dvc", "status").stdout  # and still match dvc.lock
    assert demo.git("status", "--porcelain") == ""


def test_dvc_push_sends_the_demo_remote_new_data_and_no_stage_output(demo: Project) -> None:
    remote = demo.path / ".dvc/demo-remote/files/md5"
    stored = {path for path in remote.rglob("*") if path.is_file()}
    head = demo.read("data/current.csv").splitlines(keepends=True)[:100]
    (demo.path / "data/august.csv").write_text("".join(head))  # new data
    demo.dvc("add", "-q", "data")
    demo.repro()
    demo.run("dvc", "push", "-q")

    added = {path.parent.name + path.name for path in remote.rglob("*") if path.is_file()} - {
        path.parent.name + path.name for path in stored
    }
    data = yaml.safe_load(demo.read("data.dvc"))["outs"][0]["md5"]
    assert added == {data, md5(demo.path / "data/august.csv")}  # the listing and the new file
    lock = yaml.safe_load(demo.read("dvc.lock"))
    outputs = {out["md5"] for stage in lock["stages"].values() for out in stage["outs"]}
    assert not {path.parent.name + path.name for path in remote.rglob("*")} & outputs

    # What `make retrain` commits: the data version, the lock and the remote's new data, no model.
    demo.ratchet("retrain-commit")
    committed = demo.git("diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD").split()
    objects = {name for name in committed if name.startswith(".dvc/demo-remote/")}
    assert {Path(name).parent.name + Path(name).name for name in objects} == added


def test_dvc_plots_show_draws_every_plot_dvc_yaml_declares_on_the_offline_page(
    demo: Project, tmp_path: Path
) -> None:
    result = demo.run("dvc", "plots", "show", "--out", str(tmp_path / "plots"))
    assert "failed to load" not in result.stdout + result.stderr
    page = (tmp_path / "plots/index.html").read_text()
    assert set(re.findall(r'<div id = "(\w+)">', page)) == {"predicted_vs_actual", "residuals"}
    assert '<script src="../.tools/vega/vega-embed.min.js"></script>' in page
    assert "{scripts}" not in page and "cdn.jsdelivr.net/npm/vega@5.20.2" not in page


def test_make_predict_and_dvc_plots_diff_leave_git_status_clean(demo: Project) -> None:
    demo.run("make", "--assume-old=.venv/.installed", "predict")  # IN=data/current.csv
    assert len((demo.path / "reports/predictions.csv").read_text().splitlines()) > 700
    demo.run("dvc", "plots", "diff", "HEAD")
    assert (demo.path / "dvc_plots/index.html").is_file()
    assert demo.git("status", "--porcelain", "--untracked-files=all") == ""
