"""The CLI as a user meets it: one-line errors, exit codes, nothing half-written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Project, regression_frame


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["image-tags", "--tag", "v1.0.0", "--repository", "acme/ratchet"]],
    ids=["help", "image-tags"],
)
def test_help_and_light_commands_import_no_heavy_library(argv: list[str], tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    code = (
        "import sys; from ratchet.__main__ import main\n"
        f"try: main({argv!r})\nexcept SystemExit: pass\n"
        "heavy = {'pandas', 'sklearn', 'mlflow', 'bentoml', 'evidently', 'dvc'}\n"
        "heavy &= set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "prepare" in result.stdout or "ghcr.io/acme/ratchet:1.0.0" in result.stdout


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (
            lambda p: p.set_params({**p.params, "data": {**p.params["data"], "target": "prise"}}),
            "did you mean 'price'",
        ),
        (
            lambda p: (p.path / "params.yaml").write_text("data: {target: [oops"),
            "params.yaml is not valid YAML",
        ),
        (lambda p: (p.path / "data/table.csv").write_text(""), "data/table.csv is empty"),
        (lambda p: p.write_data(regression_frame().assign(age="old")), "non-numeric values"),
    ],
)
def test_bad_input_exits_1_with_one_line_and_no_outputs(
    project: Project, breakage, message: str
) -> None:  # type: ignore[no-untyped-def]
    breakage(project)
    result = project.ratchet("prepare", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (project.path / "artifacts/split").exists()
    assert not (project.path / "artifacts/schema.json").exists()


def test_params_schema_prints_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ratchet", "params", "--schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"additionalProperties": false' in result.stdout
