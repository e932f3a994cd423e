"""The one runner: a missing program says how to install it, a failing one says what it said."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ratchet.core.errors import RatchetError
from ratchet.core.process import call, run


def test_output_of_a_program_that_succeeds() -> None:
    assert run([sys.executable, "-c", "print('hello')"]) == "hello\n"


def test_a_failure_names_the_command_its_exit_and_its_last_words() -> None:
    script = "import sys; print('first', file=sys.stderr); sys.exit('last words')"
    with pytest.raises(RatchetError) as failed:
        run([sys.executable, "-c", script])
    python = Path(sys.executable).name
    assert str(failed.value) == f"`{python} -c {script}` failed (exit 1): first | last words"


def test_a_module_is_named_by_its_module() -> None:
    with pytest.raises(RatchetError, match=r"^`dvc no-such-command` failed \(exit \d+\): "):
        run([sys.executable, "-m", "dvc", "no-such-command"])


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("git", "install git"),
        ("docker", "install Docker"),
        ("bentoml", "run `make install`"),
    ],
)
def test_a_missing_program_says_how_to_install_it(
    name: str, fix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no program is found
    with pytest.raises(RatchetError, match=rf"^{name} not found: {fix}"):
        run([name, "--version"])


def test_without_inherit_nothing_else_of_this_environment_reaches_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATCHET_SECRET", "do not pass")
    script = "import os; print(sorted(k for k in os.environ if k != 'LC_CTYPE'))"
    inherited = call([sys.executable, "-c", script], env={"ONLY": "1"})
    alone = call([sys.executable, "-c", script], env={"ONLY": "1"}, inherit=False)
    assert "RATCHET_SECRET" in inherited.stdout and "ONLY" in inherited.stdout
    assert alone.stdout.strip() == "['ONLY']"


def test_a_shown_command_fails_pointing_at_its_output(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RatchetError, match=r"failed \(exit 3\): see its output above$"):
        run([sys.executable, "-c", "print('as it goes'); raise SystemExit(3)"], show=True)
    assert capfd.readouterr().out == "as it goes\n"


def test_a_program_that_hangs_is_stopped() -> None:
    with pytest.raises(RatchetError, match=r"did not finish within 0.5 s"):
        run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
