"""The reference endpoint of ``benchmarks/serve.py``: the least a Python service can do per request.

A FastAPI app on uvicorn (httptools, uvloop) whose ``POST /predict`` json-loads the body (one
record), runs the same compiled predictor as ``tabops serve`` on it
(:meth:`tabops.model.compile.OnnxPredictor.predict_rows`) and answers the positive-class
score. No validation, no logging, no metrics, no auth: what is left is the web framework, the
JSON and the model.

The model comes from a folder written by the benchmark: ``model.onnx``, ``plan.json`` (the
encoder plan) and ``meta.json`` (classes and the positive class).

Usage: python benchmarks/bare_onnx_app.py --model-dir DIR [--port 8002]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import orjson
import uvicorn
from fastapi import FastAPI, Request
from starlette.responses import Response

from tabops.model.compile import EncoderPlan, OnnxPredictor


def create_app(model_dir: Path) -> FastAPI:
    meta = json.loads((model_dir / "meta.json").read_text())
    predictor = OnnxPredictor(
        EncoderPlan.from_json((model_dir / "plan.json").read_text()),
        (model_dir / "model.onnx").read_bytes(),
        meta["classes"],
    )
    column = meta["classes"].index(meta["positive"])
    app = FastAPI(title="bare ONNX reference", openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        record = orjson.loads(await request.body())
        score = float(predictor.predict_rows([record])[0, column])
        return Response(orjson.dumps({"score": score}), media_type="application/json")

    @app.get("/ping")
    async def ping() -> Response:
        return Response(b"ok")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.model_dir),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
