"""The admin routes: they need the admin key (a prediction key gets 403)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from tabops.serve.deps import ADMIN, State, served_model
from tabops.serve.http import json_response

router = APIRouter(dependencies=ADMIN)


@router.post(
    "/admin/reload",
    summary="Reload the model now (admin key)",
    description="Check the alias at once instead of at the next interval. A new version is "
    "loaded beside the serving one, checked (schema, artifact hashes, smoke prediction, finite "
    "outputs) and swapped in; a refused one leaves the serving version in place.",
    dependencies=[Depends(served_model)],  # 503 while no model is loaded
)
async def admin_reload(state: State) -> Response:
    return json_response(await state.reload(force=True))
