"""Reading a JSON request body with orjson, with the error answers a client can act on."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import orjson
from starlette.requests import Request

from tabops.serve.http import ApiError


def parse_json(content_type: str | None, body: bytes) -> Any:
    """The parsed body; 415 for another media type, 400 for invalid JSON, 422 for a number
    past float64's range (valid JSON, which orjson refuses)."""
    if content_type is not None and "json" not in content_type:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the body as application/json (POST /invocations also takes text/csv).",
        )
    try:
        # A byte-order mark (Windows tools write one) is no part of the JSON, as in a CSV.
        return orjson.loads(body.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("number is infinity"):
            raise _out_of_range(exc.doc, exc.pos) from None
        raise _invalid(exc.doc, exc.pos) from None


async def read_json(request: Request) -> Any:
    """:func:`parse_json` of a request's body."""
    return parse_json(request.headers.get("content-type"), await request.body())


# The member name just before a number: `"name": ` (in the last 1000 characters).
_MEMBER = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*$')


#: What Python's json.dumps and pandas write for a missing or infinite float: not JSON.
_NOT_JSON_NUMBER = re.compile(r"-?(?:NaN|Infinity)")


def _invalid(text: str, position: int) -> ApiError:
    """400 naming where the body stops being JSON, and what to send for a NaN."""
    if not text.strip():
        return ApiError(400, "invalid_json", "The body is empty: send a JSON record or array.")
    if position > 0 and text[position - 1] == "-":  # orjson points past a minus sign
        position -= 1
    found = _NOT_JSON_NUMBER.match(text, position)
    if found is None:
        where = f" at character {position}" if position < len(text) else " (it ends early)"
        return ApiError(400, "invalid_json", f"The body is not valid JSON{where}.")
    member = _MEMBER.search(text[max(0, position - 1000) : position])
    field = f" (field '{member.group(1)}')" if member else ""
    return ApiError(
        400,
        "invalid_json",
        f"The body is not valid JSON: {found.group()} at character {position}{field} is no "
        "JSON value. Send null for a missing value (pandas: df.to_json(orient='records') "
        "writes null; Python: replace float('nan') with None before json.dumps).",
    )


def _out_of_range(text: str, position: int) -> ApiError:
    """422 for the number at ``position``, naming its field when it is an object member."""
    where = f"the number at character {position}"
    member = _MEMBER.search(text[max(0, position - 1000) : position])
    if member:
        with contextlib.suppress(orjson.JSONDecodeError):  # a name cut by the window
            name = orjson.loads(b'"' + member.group(1).encode() + b'"')  # unescaped, as meant
            where = f"'{name[:64]}'"
    return ApiError(
        422,
        "number_out_of_range",
        f"{where}: the number is out of range (beyond ±1.8e308, float64's largest); "
        "send a value within it.",
    )
