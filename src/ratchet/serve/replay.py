"""Replay a CSV of records to a running service, as traffic: the demo's way to fill the
prediction log on one machine (serve, replay, monitor)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from ratchet.core.errors import RatchetError
from ratchet.core.schema import DataSchema
from ratchet.serve.contract import MAX_RECORDS, PREDICT_ROUTE, clip


def replay(source: Path, url: str, schema: DataSchema, batch: int = 100) -> tuple[int, int]:
    """POST the schema's features of every row, `batch` records a request; returns the records
    answered and refused."""
    import pandas as pd

    if not 1 <= batch <= MAX_RECORDS:
        raise RatchetError(f"--batch {batch}: send 1 to {MAX_RECORDS} records a request")
    if not source.is_file():
        raise RatchetError(f"{source} not found: give the CSV of records to send")
    frame = pd.read_csv(source)
    missing = [name for name in schema.feature_names if name not in frame.columns]
    if missing:
        raise RatchetError(f"{source} lacks the feature column(s) {', '.join(missing)}")
    records = json.loads(frame[schema.feature_names].to_json(orient="records"))
    answered = refused = 0
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        request = urllib.request.Request(
            f"{url.rstrip('/')}{PREDICT_ROUTE}",
            data=json.dumps({"records": chunk}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
            answered += len(chunk)
        except urllib.error.HTTPError as error:
            if error.code >= 500:
                raise RatchetError(f"{url} answered {error.code}: see the service's log") from None
            refused += len(chunk)
        except OSError as exc:
            raise RatchetError(
                f"{url} does not answer ({clip(str(exc))}): start it with `make serve`"
            ) from None
    return answered, refused
