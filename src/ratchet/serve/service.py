"""The HTTP service: BentoML around the model that `python -m ratchet import-model` stored.

`make serve` serves it from source, `python -m ratchet bento` packages it. The request schema
comes from the stored model's schema.json, so a forker's dataset needs no change here. BentoML
adds /livez, /readyz, /metrics (Prometheus), the Swagger UI at / and the spec at /docs.json.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import bentoml
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from ratchet.core.errors import RatchetError
from ratchet.serve import contract as contracts
from ratchet.serve import scoring, store
from ratchet.serve.middleware import (
    BodyLimit,
    SwaggerPage,
    ValidRequests,
    logger,
    max_body_bytes,
)
from ratchet.serve.prediction_log import PredictionLog
from ratchet.serve.workarounds import RestorePath, fix_app

# BentoML's own settings for the service. Each can be changed without touching code, e.g.
#   BENTOML_CONFIG_OPTIONS="services.ratchet.workers=1 services.ratchet.logging.access.enabled=true"
# (or a file named by BENTOML_CONFIG); docs/serving.md lists them.
CONFIG: dict[str, Any] = {
    # One worker process per core (the container's CPU limit, in a pod).
    "workers": "cpu_count",
    # A request not answered in 60 s gets a 504.
    "traffic": {"timeout": 60},
    # No access log line per request (a refused request still gets one line).
    "logging": {"access": {"enabled": False}},
    # No tracing: BentoML records a span per request (sampled or not) unless its URL is excluded,
    # and "." matches every URL. To trace, set excluded_urls to "/livez,/readyz,/metrics" and
    # choose an exporter and a sample_rate.
    "tracing": {"excluded_urls": "."},
}


class Arguments(BaseModel):
    """`bentoml serve|build --arg model=ratchet:<version>` picks the model; default the newest."""

    model: str = f"{store.MODEL_NAME}:latest"


class RatchetService(bentoml.Service[Any]):  # type: ignore[misc]
    """BentoML's service, with the predict request body marked required and the 413 and 415
    documented in its OpenAPI spec, and its app fixed where its BentoML version needs it."""

    @property
    def openapi_spec(self) -> Any:
        spec = super().openapi_spec
        post = spec.paths[contracts.PREDICT_ROUTE].post
        post["requestBody"]["required"] = True
        responses = post["responses"]  # keyed by int; the 400 has our {"error", "detail"} body
        for status, description in ((413, "Content Too Large"), (415, "Unsupported Media Type")):
            responses[status] = type(responses[400])(description, responses[400].content)
        return spec

    def to_asgi(self, is_main: bool = True) -> Any:
        """BentoML's Starlette app, with the workarounds its version needs; the worker serves
        what this returns."""
        return fix_app(super().to_asgi(is_main))


def create_service(model_tag: str) -> Any:
    """The service class for one stored model (module level below; tests build their own)."""
    missing = RatchetError(
        f"model {model_tag!r} is not in the BentoML store: run `make run`, then `make serve` "
        "(or pass --arg model=<tag> from `bentoml models list`)"
    )
    try:
        reference = bentoml.models.BentoModel(model_tag)
    except ValueError:  # not a tag at all, e.g. empty
        raise missing from None
    stored = reference.stored
    if stored is None:
        raise missing
    metadata = stored.info.metadata
    contract = store.read_contract(
        Path(stored.path),
        str(stored.tag.version),
        probabilities=bool(metadata.get("probabilities", metadata.get("task") == "classification")),
    )

    class Ratchet:
        model = reference

        def __init__(self) -> None:
            model = store.load_model(Path(self.model.path))
            self.batcher = scoring.Batcher(
                lambda requests: scoring.score_requests(model, contract, requests)
            )
            self.log = PredictionLog.from_env()

        @bentoml.on_shutdown  # type: ignore[untyped-decorator]
        def close_log(self) -> None:
            if self.log is not None:
                self.log.close()

        @bentoml.api(  # type: ignore[untyped-decorator]
            route=contracts.PREDICT_ROUTE,
            input_spec=contract.request,
            output_spec=contract.response,
        )
        async def predict(self, records: list[BaseModel]) -> Response:
            """Predict for a batch of records; also returns the model version that answered.

            Answered as JSON already: the response model was built here, BentoML would check it
            again (the OpenAPI spec shows it all the same)."""
            try:
                response = await self.batcher(records)
            except scoring.Unscorable as exc:
                body = contracts.error_body(str(exc), "send values within the training ranges")
                logger.info("POST %s refused with 400: %s", contracts.PREDICT_ROUTE, body["error"])
                return JSONResponse(body, status_code=400)
            if self.log is not None:
                self.log.put(records, response)
            return Response(response.model_dump_json(by_alias=True), media_type="application/json")

    service = bentoml.service(
        Ratchet, name="ratchet", description=__doc__, service_class=RatchetService, **CONFIG
    )
    # Outermost first, all inside BentoML's metrics, tracing, access log and timeout.
    service.add_asgi_middleware(RestorePath)
    service.add_asgi_middleware(SwaggerPage, title="Ratchet")
    service.add_asgi_middleware(BodyLimit, limit=max_body_bytes())
    service.add_asgi_middleware(
        ValidRequests, route=contracts.PREDICT_ROUTE, request=contract.request
    )
    logger.setLevel(logging.INFO)  # above the root logger's WARNING in `bentoml serve`
    return service


def __getattr__(name: str) -> Any:
    """`ratchet.service:Ratchet`, built on first use from the model `--arg model=` names.

    Lazy, so that importing this module needs no model in the store (tests build their own
    services with `create_service`).
    """
    if name != "Ratchet":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        service = create_service(bentoml.use_arguments(Arguments).model)
    except RatchetError as exc:  # `bentoml serve` would show it under a traceback
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    globals()[name] = service
    return service
