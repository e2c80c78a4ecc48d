"""The OpenAPI document: request bodies the routes read themselves (FastAPI cannot infer them
from raw-body handlers), the error answers, and the record generated from the model's schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.openapi.utils import get_openapi

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tabops.serve.state import ServeState

#: One record; its schema is the served model's (filled in by :func:`document`).
RECORD = {"$ref": "#/components/schemas/Record"}
#: The error answers every prediction route may give.
ERRORS = {
    "401": {"description": "Missing or wrong API key."},
    "413": {"description": "Body or batch larger than the limits."},
    "422": {"description": "Records that do not fit the model's input schema; every field named."},
    "503": {"description": "Overloaded, past the deadline, or not ready (see Retry-After)."},
}


def _body(schema: dict[str, Any], csv: bool = False) -> dict[str, Any]:
    """A required request body: ``schema`` as JSON (and CSV text if ``csv``)."""
    content = {"application/json": {"schema": schema}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    return {"required": True, "content": content}


def _mlflow_format(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    """One of MLflow's JSON request formats: ``key`` (with optional ``params``) and nothing else."""
    return {
        "type": "object",
        "title": key,
        "required": [key],
        "properties": {key: schema, "params": {"type": "object"}},
        "additionalProperties": False,
    }


_DATAFRAME_SPLIT = {
    "type": "object",
    "required": ["columns", "data"],
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "data": {"type": "array", "items": {"type": "array"}},
        "index": {"type": "array"},
    },
}
# MLflow's tensor formats: a list of records, or one list of values per column.
_RECORDS_OR_COLUMNS = {
    "oneOf": [
        {"type": "array", "items": RECORD},
        {"type": "object", "additionalProperties": {"type": "array"}},
    ]
}

#: POST /predict: one record, or a list of them.
PREDICT_BODY = _body({"anyOf": [RECORD, {"type": "array", "items": RECORD, "minItems": 1}]})
#: POST /invocations: MLflow's JSON formats, or CSV with a header.
INVOCATIONS_BODY = _body(
    {
        "oneOf": [
            _mlflow_format("dataframe_split", _DATAFRAME_SPLIT),
            _mlflow_format("dataframe_records", {"type": "array", "items": RECORD}),
            _mlflow_format("inputs", _RECORDS_OR_COLUMNS),
            _mlflow_format("instances", _RECORDS_OR_COLUMNS),
        ]
    },
    csv=True,
)
#: POST /v2/models/{model_name}/infer: the Open Inference Protocol's request.
OIP_INFER_BODY = _body(
    {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {
                "type": "array",
                "items": {"type": "object", "required": ["name", "shape", "datatype", "data"]},
            },
            "outputs": {
                "type": "array",
                "description": "The output tensors to answer, in this order (default: all).",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}},
                },
            },
        },
    }
)


def document(app: FastAPI, state: ServeState) -> dict[str, Any]:
    """The OpenAPI document, with the request record generated from the model's schema."""
    document = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    served = state.served
    record: dict[str, Any] = {"type": "object"}
    if served is not None:
        record = served.schema.json_schema()
        if served.example:
            record["examples"] = served.example[:1]
    record["description"] = "One record: every feature of the model, typed as in tabops.yaml."
    schemas["Record"] = record
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    return document
