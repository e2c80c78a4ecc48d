"""The routes, one module per protocol. Prediction handlers read the raw body and answer with
orjson bytes: FastAPI's body parsing and response validation would cost more than the model
itself (~20 µs a row). ``create_app`` includes the routers in the order of :data:`ROUTERS`,
which is the order of the OpenAPI document."""

from tabops.serve.routes import admin, feedback, health, invocations, oip, predict

ROUTERS = [
    predict.router,
    invocations.router,
    oip.router,
    health.router,
    feedback.router,
    admin.router,
]
