"""``POST /invocations``: MLflow's scoring protocol, for clients of ``mlflow models serve``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from tabops.serve.deps import KEYED, Served, State
from tabops.serve.http import json_response
from tabops.serve.json_body import read_json
from tabops.serve.openapi import ERRORS, INVOCATIONS_BODY
from tabops.serve.protocols import csv_records, mlflow_records
from tabops.serve.scoring import score_request, shadow_task

router = APIRouter(dependencies=KEYED)


@router.post(
    "/invocations",
    summary="Predict with MLflow's scoring protocol",
    description="The request and response formats of `mlflow models serve`: a JSON object with "
    "one of dataframe_split, dataframe_records, inputs or instances, or text/csv with a header. "
    'Answers {"predictions": [...]} with what the MLflow model\'s predict() returns (the most '
    "probable label, or the regression value); /predict gives scores and the tuned threshold.",
    openapi_extra={"requestBody": INVOCATIONS_BODY, "responses": ERRORS},
    response_class=Response,
)
async def invocations(request: Request, state: State, served: Served) -> Response:
    text = request.headers.get("content-type", "").startswith("text/csv")
    if text:
        options = state.spec.source.csv
        records: list[Any] = csv_records(
            await request.body(), state.limits.max_batch_rows, options.delimiter,
            options.quoting, served.schema.known, request.headers["content-type"],
            options.encoding,
        )  # fmt: skip
    else:
        records = mlflow_records(await read_json(request), state.limits.max_batch_rows)
    _, scores = await score_request(request, state, served, records, text)
    predictions = served.mlflow_predictions(scores)
    return json_response(
        {"predictions": predictions}, background=shadow_task(request, state, records)
    )
