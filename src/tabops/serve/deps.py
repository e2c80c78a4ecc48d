"""The FastAPI dependencies of the routes: the server's state, the served model, and the keys.

Routers declare the keys (``APIRouter(dependencies=KEYED)``) and handlers take the model as a
parameter (``served: Served``). Dependencies are solved before the body is validated, so a
caller without a key learns nothing about the body (401 before 422), and they are ``async``:
a plain ``def`` dependency would hop to the thread pool on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tabops.serve.http import ApiError
from tabops.serve.model import ServedModel
from tabops.serve.state import ServeState


async def serve_state(request: Request) -> ServeState:
    state: ServeState = request.app.state.tabops
    return state


def serving(state: ServeState) -> ServedModel:
    """The model being served; 503 until it is loaded and warmed (and once draining)."""
    if state.served is None or not state.ready:
        raise ApiError(
            503, "not_ready", "The model is not loaded yet.", headers={"retry-after": "1"}
        )
    return state.served


async def served_model(request: Request) -> ServedModel:
    return serving(await serve_state(request))


async def require_key(request: Request) -> None:
    """401 unless the request carries a prediction key (when the server has keys)."""
    (await serve_state(request)).auth.require(request)


async def require_admin(request: Request) -> None:
    """401, or 403 for a prediction key, unless the request carries the admin key."""
    (await serve_state(request)).auth.require(request, admin=True)


State = Annotated[ServeState, Depends(serve_state)]
Served = Annotated[ServedModel, Depends(served_model)]
#: For routes and routers that need a prediction key, and for the admin routes.
KEYED = [Depends(require_key)]
ADMIN = [Depends(require_admin)]
