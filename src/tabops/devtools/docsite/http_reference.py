"""The HTTP API reference, rendered from the OpenAPI document that ``tabops serve`` publishes
(built here from the app without loading a model, so the record schema is the generic one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tabops.serve.app import create_app
from tabops.settings import Settings
from tabops.spec import ProjectSpec

#: The file beside the page holding the whole document.
OPENAPI_FILE = "openapi.json"
#: A placeholder project: the routes and their schemas do not depend on it.
_SPEC = {
    "name": "model",
    "task": "classification",
    "target": "label",
    "source": {"path": "data.csv"},
    "columns": {"feature": {"type": "numeric"}, "label": {"type": "boolean", "role": "target"}},
}
_REF = "#/components/schemas/"

LEAD = f"""\
Generated from the OpenAPI document of `tabops serve` when the site is built. A running server
publishes its own at `/openapi.json` (interactive at `/docs`), where `Record` is the served
model's input schema: every feature, typed as in `tabops.yaml`. Here `Record` is generic. The
whole document: [{OPENAPI_FILE}]({OPENAPI_FILE}). [serve.md](../serve.md) explains validation,
errors, limits, the prediction log and reloads.

Authentication: with keys set (`TABOPS_API_KEYS`, `TABOPS_ADMIN_KEY`; required when
`TABOPS_ENV=production`), the prediction, feedback, model and OIP model routes take a key as
`Authorization: Bearer KEY` or `X-API-Key: KEY`, `/admin/reload` the admin key (a prediction
key gets 403); the probes (`/livez`, `/readyz`, OIP's health, server metadata and model
readiness) and `/metrics` are public."""


def openapi_document() -> dict[str, Any]:
    """The server's OpenAPI document, as ``GET /openapi.json`` answers before a model loads."""
    # Explicit settings: the build must not depend on (or refuse) the environment's keys.
    settings = Settings(home=Path(".tabops"), env="embedded", api_keys=[], admin_key=None)
    app = create_app(ProjectSpec.model_validate(_SPEC), settings)
    return app.openapi()


def render(document: dict[str, Any]) -> str:
    """The reference as one Markdown page."""
    parts = ["# HTTP API", LEAD]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parts.append(_operation(method.upper(), path, operation))
    parts.append("## Schemas")
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        parts.append(f"### `{name}` {{#schema-{name.lower()}}}\n\n{_json(schema)}")
    return "\n\n".join(parts) + "\n"


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    parts = [f"## `{method} {path}`", f"**{operation.get('summary', '')}**"]
    if description := operation.get("description"):
        parts.append(description)
    if parameters := operation.get("parameters"):
        rows = ["| parameter | in | required | type | description |", "|---|---|---|---|---|"]
        rows += [
            f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} | "
            f"{_schema_name(p.get('schema', {}))} | {_cell(p.get('description', ''))} |"
            for p in parameters
        ]
        parts.append("\n".join(rows))
    if body := operation.get("requestBody"):
        required = " (required)" if body.get("required") else ""
        parts.append(f"Request body{required}:")
        for media, content in body.get("content", {}).items():
            schema = content.get("schema", {})
            if "$ref" in schema:
                parts.append(f"`{media}`: {_schema_name(schema)}")
            else:
                parts += [f"`{media}`:", _json(schema)]
    rows = ["| status | meaning | body |", "|---|---|---|"]
    for status, response in operation.get("responses", {}).items():
        bodies = ", ".join(
            f"`{media}` {_schema_name(content.get('schema', {}))}".strip()
            for media, content in response.get("content", {}).items()
        )
        rows.append(f"| {status} | {_cell(response.get('description', ''))} | {bodies or '—'} |")
    parts.append("\n".join(rows))
    return "\n\n".join(parts)


def _schema_name(schema: dict[str, Any]) -> str:
    """A short name for a schema: a link to a named one, else its type."""
    if ref := schema.get("$ref"):
        name = ref.removeprefix(_REF)
        return f"[{name}](#schema-{name.lower()})"
    if schema.get("type") == "array" and "items" in schema:
        return f"array of {_schema_name(schema['items'])}"
    return str(schema.get("type", "")) or "any"


def _json(schema: dict[str, Any]) -> str:
    return f"```json\n{json.dumps(schema, indent=2, ensure_ascii=False)}\n```"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
