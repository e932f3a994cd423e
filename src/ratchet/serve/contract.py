"""The predict endpoint's contract: request and response models built from the data schema.

A new dataset gets a correct, strict API without code changes: feature names, JSON types, the
categories seen in training. Runs inside the image: pydantic and the standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from ratchet.core.schema import DataSchema, Feature, Scalar

# Rows per request: larger batches are refused with a 400 that says to split them.
MAX_RECORDS = 1000
# JSON numbers beyond 2**53 lose precision in most clients; integer features stay inside.
SAFE_INTEGER = 2**53
PREDICT_ROUTE = "/predict"
# The most characters of a client's value that an error message or log line repeats.
ECHO_LIMIT = 100

PYTHON_TYPES: dict[str, type] = {"integer": int, "number": float, "string": str, "boolean": bool}


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` cut to `limit` characters, for repeating a client's input in a message or log."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def one_of(feature: Feature) -> AfterValidator:
    allowed = list(feature.categories or [])
    shown = clip(", ".join(json.dumps(item) for item in allowed), 10 * ECHO_LIMIT)

    def check(value: Scalar) -> Scalar:
        if value not in allowed:
            raise PydanticCustomError(
                "unknown_category",
                "unknown category {value}; expected one of {allowed}",
                {"value": clip(json.dumps(value)), "allowed": shown},
            )
        return value

    return AfterValidator(check)


def feature_field(feature: Feature) -> tuple[Any, Any]:
    """The annotation and Field of one feature: strict JSON types; categories as an enum when an
    unseen one is refused; null accepted only when the model imputes empty values."""
    annotation, field = _field(feature)
    if feature.nulls == "impute":
        annotation = annotation | None
        field.description = f"{field.description or ''} Null: the model imputes it.".strip()
    return annotation, field


def _field(feature: Feature) -> tuple[Any, Any]:
    python_type = PYTHON_TYPES[feature.dtype]
    if feature.kind == "categorical":
        categories: list[Any] = list(feature.categories or [])
        if feature.unseen == "unknown":
            seen = clip(", ".join(json.dumps(item) for item in categories), 10 * ECHO_LIMIT)
            return python_type, Field(
                alias=feature.name,
                strict=True,
                description=f"Seen in training: {seen}. Any other value is treated as the "
                "model's unknown level.",
            )
        return (
            Annotated[python_type, one_of(feature)],
            Field(
                alias=feature.name,
                strict=True,
                json_schema_extra={"enum": categories},
                description=f"One of the {len(categories)} categories seen in training.",
            ),
        )
    seen_range = (
        f"Training data range: {feature.minimum:g} to {feature.maximum:g}."
        if feature.minimum is not None and feature.maximum is not None
        else None
    )
    if feature.dtype == "integer":
        return int, Field(
            alias=feature.name,
            strict=True,
            ge=-SAFE_INTEGER,
            le=SAFE_INTEGER,
            description=seen_range,
        )
    if feature.dtype == "number":
        return float, Field(
            alias=feature.name, strict=True, allow_inf_nan=False, description=seen_range
        )
    return python_type, Field(alias=feature.name, strict=True)


def example_record(schema: DataSchema) -> dict[str, Scalar]:
    """A valid record: the middle of each numeric range, the first category of each category."""
    record: dict[str, Scalar] = {}
    for feature in schema.features:
        if feature.kind == "categorical":
            record[feature.name] = (feature.categories or [""])[0]
        elif feature.dtype == "boolean":
            record[feature.name] = False
        else:
            middle = ((feature.minimum or 0.0) + (feature.maximum or 0.0)) / 2
            record[feature.name] = round(middle) if feature.dtype == "integer" else middle
    return record


@dataclass(frozen=True)
class Contract:
    """The request and response models of the predict endpoint for one schema and model."""

    schema: DataSchema
    version: str
    record: type[BaseModel]
    request: type[BaseModel]
    response: type[BaseModel]
    probabilities: type[BaseModel] | None


def build_contract(schema: DataSchema, version: str, probabilities: bool = True) -> Contract:
    """The contract of a model of this schema; `probabilities`: a classifier that can say them."""
    # Fields get positional names and the feature name as alias, so any column name works
    # (even one that shadows a pydantic attribute, like "schema" or "copy").
    record = create_model(  # type: ignore[call-overload]
        "Record",
        __config__=ConfigDict(extra="forbid", title="Record"),
        **{f"feature_{i}": feature_field(feature) for i, feature in enumerate(schema.features)},
    )
    example: dict[str, Any] = {"records": [example_record(schema)]}
    request = create_model(
        "PredictRequest",
        __config__=ConfigDict(
            extra="forbid",
            # OpenAPI 3.0 (which BentoML writes) knows `example`, not JSON Schema's `examples`.
            json_schema_extra={"example": example},
        ),
        records=(
            list[record],
            Field(
                min_length=1,
                max_length=MAX_RECORDS,
                description=f"The rows to score, 1 to {MAX_RECORDS} per request.",
            ),
        ),
    )
    fields: dict[str, Any] = {"model_version": (str, Field(description="The served model."))}
    probability_model = None
    if schema.task == "classification":
        classes = tuple(schema.classes or [])
        fields["predictions"] = (list[Literal[classes]], ...)  # type: ignore[valid-type]
        if probabilities:
            probability_model = create_model(  # type: ignore[call-overload]
                "Probabilities",
                __config__=ConfigDict(serialize_by_alias=True),
                **{
                    f"class_{i}": (float, Field(alias=str(label)))
                    for i, label in enumerate(classes)
                },
            )
            fields["probabilities"] = (
                list[probability_model],
                Field(description="Per record, the probability of each class."),
            )
    else:
        fields["predictions"] = (list[float], ...)
    response = create_model("Predictions", **fields)
    return Contract(schema, version, record, request, response, probability_model)


def error_body(problem: str, fix: str) -> dict[str, str]:
    """The body of every 400 from the service, as BentoML's OpenAPI spec documents it."""
    return {"error": problem, "detail": fix}


def describe_validation_error(body: dict[str, Any]) -> dict[str, str]:
    """Turn BentoML's validation error (a list of pydantic errors) into one readable message.

    Each problem is named by its place in the request, e.g. `records[0].colour: Field required`.
    """
    problems = []
    for item in body.get("detail") or []:
        where = "".join(  # clipped: an unknown key is a client's value too
            f"[{part}]" if isinstance(part, int) else f".{clip(str(part))}"
            for part in item.get("loc") or []
        )
        where = where.lstrip(".") or "request body"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    shown = "; ".join(problems[:5]) + (
        f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    )
    return error_body(
        shown or str(body.get("error", "invalid request")),
        f'send a JSON object {{"records": [...]}} with 1 to {MAX_RECORDS} records as the '
        "OpenAPI spec at /docs.json describes",
    )
