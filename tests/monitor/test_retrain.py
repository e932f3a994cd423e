"""The retraining commit's description, in process."""

from __future__ import annotations

from pathlib import Path

import pytest

from ratchet.core.errors import RatchetError
from ratchet.monitor.retrain import describe


def test_a_corrupt_metrics_file_is_named(in_tmp: Path) -> None:
    (in_tmp / "reports").mkdir()
    (in_tmp / "reports/metrics.json").write_text("{not json")
    with pytest.raises(RatchetError, match=r"reports/metrics.json is not valid JSON"):
        describe("main", None)
