"""dvc.yaml's deps are true: every Ratchet module a stage's command imports lies inside its deps,
so that DVC reruns a stage whenever code it runs changes."""

from __future__ import annotations

import importlib.util
import shlex
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT, Project

SOURCES = ROOT / "src"


def imported_files(stderr: str) -> set[str]:
    """The files of the ratchet modules that `python -X importtime` reports as imported."""
    files = set()
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        module = line.rsplit("|", 1)[-1].strip()
        if module == "ratchet" or module.startswith("ratchet."):
            spec = importlib.util.find_spec(module)
            assert spec is not None and spec.origin is not None, module
            files.add(Path(spec.origin).relative_to(ROOT).as_posix())
    return files


def covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(f"{dep}/") for dep in deps)


def test_every_module_a_stage_imports_is_among_its_deps(project: Project) -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    seen = set()
    for name, stage in stages.items():  # in pipeline order: each stage reads the one before
        program, *args = shlex.split(stage["cmd"])
        assert program == "python", f"{name}: run the stage with the project's python"
        result = project.run(sys.executable, "-X", "importtime", *args)
        files = imported_files(result.stderr)
        assert any(f.startswith("src/ratchet/pipeline/") for f in files), name  # really measured
        code_deps = [dep for dep in stage["deps"] if dep.startswith("src/")]
        assert [path for path in sorted(files) if not covered(path, code_deps)] == [], name
        seen |= files
    assert "src/ratchet/recipe.py" in seen  # the train stage imports the recipe
