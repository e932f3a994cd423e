"""The HTTP service: BentoML around the model that `python -m ratchet import-model` stored.

`make serve` serves it from source, `make bento` packages it. The request schema comes from the
stored model's schema.json, so a forker's dataset needs no change here. BentoML adds /healthz,
/readyz, /metrics (Prometheus) and the OpenAPI spec at /docs.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bentoml
from pydantic import BaseModel
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ratchet.core.errors import RatchetError
from ratchet.serve import contract as contracts
from ratchet.serve import scoring, store


class Arguments(BaseModel):
    """`bentoml serve|build --arg model=ratchet:<version>` picks the model; default the newest."""

    model: str = f"{store.MODEL_NAME}:latest"


class RequestErrors:
    """Give every refused request to the predict route a 400 whose message names the field.

    BentoML answers a form or multipart body with a 500, and its validation errors carry a list
    where its own OpenAPI spec promises a string; this puts both right before they leave.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != contracts.PREDICT_ROUTE:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        media_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip()
        if scope["method"] == "POST" and media_type.lower() != b"application/json":
            body = contracts.error_body(
                f"Content-Type {media_type.decode('latin-1')!r} is not accepted",
                "send the records as JSON with the header Content-Type: application/json",
            )
            await JSONResponse(body, status_code=400)(scope, receive, send)
            return

        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] == 400:
                start = message
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await send_rewritten(start, b"".join(chunks))
            else:
                await send(message)

        async def send_rewritten(start: Message, raw: bytes) -> None:
            try:
                original = json.loads(raw)
            except ValueError:
                original = {}
            if isinstance(original, dict) and isinstance(original.get("detail"), list):
                raw = json.dumps(contracts.describe_validation_error(original)).encode()
            kept = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send({**start, "headers": [*kept, (b"content-length", str(len(raw)).encode())]})
            await send({"type": "http.response.body", "body": raw})

        await self.app(scope, receive, rewrite)


class RatchetService(bentoml.Service[Any]):  # type: ignore[misc]
    """BentoML's service, with the predict request body marked required in its OpenAPI spec."""

    @property
    def openapi_spec(self) -> Any:
        spec = super().openapi_spec
        spec.paths[contracts.PREDICT_ROUTE].post["requestBody"]["required"] = True
        return spec


def create_service(model_tag: str) -> Any:
    """The service class for one stored model (module level below; tests build their own)."""
    reference = bentoml.models.BentoModel(model_tag)
    stored = reference.stored
    if stored is None:
        raise RatchetError(
            f"model {model_tag} is not in the BentoML store: run `make import-model` "
            "(after `make run`), or pass --arg model=<tag> from `bentoml models list`"
        )
    contract = store.read_contract(Path(stored.path), str(stored.tag.version))

    class Ratchet:
        model = reference

        def __init__(self) -> None:
            model = store.load_model(Path(self.model.path))
            self.batcher = scoring.Batcher(
                lambda requests: scoring.score_requests(model, contract, requests)
            )

        @bentoml.api(  # type: ignore[untyped-decorator]
            route=contracts.PREDICT_ROUTE,
            input_spec=contract.request,
            output_spec=contract.response,
        )
        async def predict(self, records: list[BaseModel]) -> BaseModel | JSONResponse:
            """Predict for a batch of records; also returns the model version that answered."""
            try:
                return await self.batcher(records)
            except scoring.Unscorable as exc:
                body = contracts.error_body(str(exc), "send values within the training ranges")
                return JSONResponse(body, status_code=400)

    service = bentoml.service(
        Ratchet, name="ratchet", description=__doc__, service_class=RatchetService
    )
    service.add_asgi_middleware(RequestErrors)
    return service


def __getattr__(name: str) -> Any:
    """`ratchet.service:Ratchet`, built on first use from the model `--arg model=` names.

    Lazy, so that importing this module needs no model in the store (tests build their own
    services with `create_service`).
    """
    if name != "Ratchet":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    service = create_service(bentoml.use_arguments(Arguments).model)
    globals()[name] = service
    return service
