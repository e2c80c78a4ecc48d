"""The Open Inference Protocol v2 (KServe, Triton): server and model metadata, health, and
``infer``. Health, server metadata and model readiness are public, as the protocol's probes
expect; the model's metadata and inference need a key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from tabops.serve.deps import KEYED, Served, State
from tabops.serve.http import ApiError, json_response, request_id_of
from tabops.serve.json_body import read_json
from tabops.serve.model import ServedModel
from tabops.serve.openapi import ERRORS, OIP_INFER_BODY
from tabops.serve.protocols import (
    oip_input_metadata,
    oip_records,
    oip_requested_outputs,
    oip_tensor,
)
from tabops.serve.routes.health import readiness
from tabops.serve.scoring import score_request, shadow_task

router = APIRouter()


async def named_model(model_name: str, served: Served) -> ServedModel:
    """The served model, if the path names it; 404 otherwise (one model per server)."""
    if model_name != served.name:
        raise ApiError(404, "not_found", f"This server serves the model '{served.name}' only.")
    return served


Named = Annotated[ServedModel, Depends(named_model)]


def _outputs(served: ServedModel) -> dict[str, str]:
    """The model's OIP v2 output tensors and their datatypes."""
    if served.classes is None:
        return {"prediction": "FP64"}
    return {"label": "BYTES", "score": "FP64"}


@router.post(
    "/v2/models/{model_name}/infer",
    summary="Predict with the Open Inference Protocol v2",
    description="KServe/Triton's inference protocol: one input tensor per feature column "
    "(shape [n] or [n, 1]); the outputs are 'label' and 'score' (classification) or "
    "'prediction' (regression), or those the request's 'outputs' list names.",
    openapi_extra={
        "requestBody": OIP_INFER_BODY,
        "responses": {**ERRORS, "404": {"description": "No such model."}},
    },
    response_class=Response,
    dependencies=KEYED,
)
async def oip_infer(request: Request, state: State, served: Named) -> Response:
    payload = await read_json(request)
    records, request_id = oip_records(
        payload, state.limits.max_batch_rows, served.schema.json_schema()
    )
    wanted = oip_requested_outputs(payload, list(_outputs(served)))
    outputs, scores = await score_request(request, state, served, records)
    tensors = [
        oip_tensor(name, [float(s) for s in served.score_of(scores)])
        if name == "score"
        else oip_tensor(name, [o[name] for o in outputs])
        for name in wanted
    ]
    body = {
        "model_name": served.name,
        "model_version": served.version.version,
        "id": str(request_id) if request_id is not None else request_id_of(request),
        "outputs": tensors,
    }
    return json_response(body, background=shadow_task(request, state, records))


@router.get("/v2", summary="OIP v2 server metadata")
async def oip_server() -> Response:
    from tabops import __version__

    return json_response({"name": "tabops", "version": __version__, "extensions": []})


@router.get("/v2/health/live", summary="OIP v2 liveness")
async def oip_live() -> Response:
    return json_response({"live": True})


@router.get("/v2/health/ready", summary="OIP v2 readiness")
async def oip_ready(state: State) -> Response:
    readiness(state)  # 503 unless ready
    return json_response({"ready": True})  # the protocol's body; KServe's client reads "ready"


@router.get("/v2/models/{model_name}/ready", summary="OIP v2 model readiness")
async def oip_model_ready(model_name: str, served: Named) -> Response:
    return json_response({"name": model_name, "ready": True})


@router.get("/v2/models/{model_name}", summary="OIP v2 model metadata", dependencies=KEYED)
async def oip_model(served: Named) -> Response:
    outputs = [
        {"name": name, "datatype": datatype, "shape": [-1]}
        for name, datatype in _outputs(served).items()
    ]
    return json_response(
        {
            "name": served.name,
            "versions": [served.version.version],
            "platform": "tabops",
            "inputs": oip_input_metadata(served.schema.json_schema()),
            "outputs": outputs,
        }
    )
