"""Building the bento without Docker: the image's requirements as uv.lock pins and hashes them,
and a bento version built again replaces the one the store holds."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

from ratchet.core.errors import RatchetError
from ratchet.release.bento import bento_name, export_requirements
from tests.conftest import REGRESSION_DATA, ROOT, make_project, regression_frame, train_workspace

# Packages that only the pipeline and the monitor import, and what they pull in.
NOT_SERVED = {"dvc", "mlflow", "mlflow-skinny", "evidently", "pyarrow", "skops", "alembic"}


def requirements(text: str) -> dict[str, tuple[str, list[str]]]:
    """Each requirement of an exported requirements.txt: its pinned version and its hashes."""
    found: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in text.splitlines():
        if pinned := re.match(r"^([A-Za-z0-9][\w.-]*)==([^\s;\\]+)", line):
            name = pinned.group(1).lower()
            found[name] = (pinned.group(2), [])
        elif hashed := re.match(r"^\s+--hash=(sha256:[0-9a-f]{64})", line):
            found[name][1].append(hashed.group(1))
        else:
            assert not line.strip(), f"unexpected line {line!r}"
    return found


def test_the_image_gets_the_serve_groups_packages_pinned_with_their_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    output = tmp_path / "requirements.txt"
    export_requirements(output)
    exported = requirements(output.read_text())
    for name in ("bentoml", "scikit-learn", "pandas", "pydantic", "pyyaml", "joblib"):
        assert exported[name][0] == version(name)  # the versions .venv has, from the same lock
    assert [name for name, (_, hashes) in exported.items() if not hashes] == []
    assert NOT_SERVED & set(exported) == set()


def test_a_bento_version_built_again_replaces_the_stored_one(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", with_make=True)
    train_workspace(project.path, REGRESSION_DATA, regression_frame())
    env = {"BENTOML_HOME": str(tmp_path / "bentoml"), "BENTOML_DO_NOT_TRACK": "true"}
    first = project.ratchet("bento", "--version", "v0.1.0", env=env)
    service = project.path / "src/ratchet/serve/service.py"
    service.write_text(service.read_text() + "# changed after the first build\n")
    second = project.ratchet("bento", "--version", "v0.1.0", env=env)

    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1] == "ratchet:v0.1.0"
    bento = tmp_path / "bentoml/bentos/ratchet/v0.1.0"
    assert (bento / "src/ratchet/serve/service.py").read_text() == service.read_text()
    # bentofile.yaml's Dockerfile template, as containerize will render it: no toolchain, no uv,
    # every package checked against its hash, and the service user only at the end
    dockerfile = (bento / "env/docker/Dockerfile").read_text()
    assert "apt-get" not in dockerfile and "pip install uv" not in dockerfile
    assert "--require-hashes" in dockerfile
    assert re.findall(r"^USER .*$", dockerfile, re.M) == ["USER bentoml"]


def test_the_bento_is_named_by_bentofile_yaml_or_the_error_says_how(tmp_path: Path) -> None:
    assert bento_name(ROOT / "bentofile.yaml") == "ratchet"
    with pytest.raises(RatchetError, match="bentofile.yaml not found: run from the project root"):
        bento_name(tmp_path / "bentofile.yaml")
    (tmp_path / "bentofile.yaml").write_text("service: 'ratchet.serve.service:Ratchet'\n")
    with pytest.raises(RatchetError, match="has no `name`: add e.g. `name: ratchet`"):
        bento_name(tmp_path / "bentofile.yaml")
