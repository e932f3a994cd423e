"""The smoke test of a served model, before its image is pushed: ready, predicts what the model
file predicts, and refuses a bad request with a 400 that names the field."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from typing import Any

from ratchet.core.errors import RatchetError
from ratchet.core.files import sha256
from ratchet.core.paths import MODEL_FILE, SCHEMA_FILE
from ratchet.serve.contract import PREDICT_ROUTE, example_record
from ratchet.serve.store import model_version


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

    from ratchet.core.schema import DataSchema

    base_url = base_url.rstrip("/")
    for path in (MODEL_FILE, SCHEMA_FILE):
        if not path.is_file():
            raise RatchetError(
                f"{path} not found: run `make run` (or `python -m ratchet reproduce`) first"
            )
    schema = DataSchema.load()
    expected = model_version(sha256(MODEL_FILE))
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
