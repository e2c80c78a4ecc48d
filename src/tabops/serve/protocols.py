"""Request and response formats of the other serving protocols tabops speaks, turned into the
records :class:`~tabops.serve.schema.RequestSchema` validates.

* MLflow's scoring protocol (``POST /invocations``): ``dataframe_split``,
  ``dataframe_records``, ``inputs`` and ``instances`` in JSON, or CSV with a header row.
* The Open Inference Protocol v2 (KServe, Triton): one input tensor per column.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
from collections.abc import Collection
from typing import Any

from tabops.serve.http import ApiError
from tabops.values import header_names, unique_names

_MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "inputs", "instances")
_OIP_TYPES = {
    "BOOL": "boolean",
    "BYTES": "string",
    "FP16": "number",
    "FP32": "number",
    "FP64": "number",
    **{f"INT{n}": "integer" for n in (8, 16, 32, 64)},
    **{f"UINT{n}": "integer" for n in (8, 16, 32, 64)},
}


def _bad(message: str) -> ApiError:
    return ApiError(422, "invalid_payload", message)


def check_batch_size(count: int, max_rows: int) -> None:
    """413 for a request with more records than allowed; checked before records are built
    (a column-wise body expands to many times its size as records)."""
    if count > max_rows:
        raise ApiError(
            413,
            "batch_too_large",
            f"The request has more than the limit of {max_rows} records; split it.",
        )


def mlflow_key(payload: Any, columns: frozenset[str]) -> str | None:
    """The MLflow key of a body that is an MLflow scoring request rather than a record of the
    model's ``columns`` (sent to /predict instead of /invocations), else None."""
    if not isinstance(payload, dict) or not payload or payload.keys() & columns:
        return None
    if not set(payload) <= {*_MLFLOW_KEYS, "params"}:
        return None
    return next((k for k in _MLFLOW_KEYS if k in payload), None)


def mlflow_records(payload: Any, max_rows: int) -> list[Any]:
    """Records from an MLflow scoring request (JSON already parsed)."""
    if not isinstance(payload, dict):
        raise _bad(f"The body must be a JSON object with one of the keys {list(_MLFLOW_KEYS)}.")
    keys = [k for k in _MLFLOW_KEYS if k in payload]
    extra = set(payload) - set(_MLFLOW_KEYS) - {"params"}
    if len(keys) != 1 or extra:
        raise _bad(
            f"The body must have exactly one of the keys {list(_MLFLOW_KEYS)} "
            f"(and optionally 'params'); it has {sorted(payload)[:10]}."
        )
    key, data = keys[0], payload[keys[0]]
    if key == "dataframe_split":
        return _split_records(data, max_rows)
    if key == "dataframe_records":
        if not isinstance(data, list):
            raise _bad("'dataframe_records' must be a list of objects.")
        return data
    return _tensor_records(key, data, max_rows)


def _split_records(data: Any, max_rows: int) -> list[Any]:
    if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
        raise _bad("'dataframe_split' must be an object with 'columns' and 'data' lists.")
    columns, rows = data["columns"], data.get("data")
    if not isinstance(rows, list) or not all(isinstance(c, str) for c in columns):
        raise _bad("'dataframe_split' needs 'columns' (strings) and 'data' (a list of rows).")
    if len(set(columns)) != len(columns):
        raise _bad("'dataframe_split.columns' names a column twice.")
    check_batch_size(len(rows), max_rows)
    records = []
    for position, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise _bad(
                f"'dataframe_split.data' row {position} must be a list of {len(columns)} values."
            )
        records.append(dict(zip(columns, row, strict=True)))
    return records


def _tensor_records(key: str, data: Any, max_rows: int) -> list[Any]:
    """``inputs``/``instances``: a list of records, or columns as {name: [values]}."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return _columns_to_records(data, f"'{key}'", max_rows)
    raise _bad(f"'{key}' must be a list of records or an object of columns.")


def _columns_to_records(columns: dict[str, Any], what: str, max_rows: int) -> list[dict[str, Any]]:
    lengths = {len(v) if isinstance(v, list) else -1 for v in columns.values()}
    if not columns or -1 in lengths or len(lengths) != 1:
        raise _bad(f"{what} as columns must map each name to a list, all of one length.")
    check_batch_size(lengths.pop(), max_rows)
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _charset(content_type: str) -> str | None:
    """The charset a Content-Type names (``text/csv; charset=windows-1252``), if any."""
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def _csv_text(body: bytes, charset: str | None, encoding: str) -> str:
    if charset is not None:
        try:
            return body.decode(charset).removeprefix("\ufeff")
        except LookupError:
            raise _bad(f"The Content-Type's charset {charset!r} is no known encoding.") from None
        except UnicodeDecodeError:
            raise _bad(f"The CSV body is not {charset}, as its Content-Type says.") from None
    with contextlib.suppress(UnicodeDecodeError):
        return body.decode("utf-8-sig")
    tried = "UTF-8"
    if codecs.lookup(encoding).name != "utf-8":  # the spec's codec, checked when it was read
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode(encoding)
        tried += f" nor {encoding} (the data file's encoding)"
    raise _bad(
        f"The CSV body is not {tried} text: name its encoding in the Content-Type, e.g. "
        "text/csv; charset=windows-1252."
    )


def csv_records(
    body: bytes, max_rows: int, delimiter: str = ",", quoting: bool = True,
    known: Collection[str] = (), content_type: str = "text/csv", encoding: str = "utf-8",
) -> list[dict[str, Any]]:  # fmt: skip
    """Records of strings from CSV with a header row (read as ingest reads a file's: byte-order
    marks skipped, names trimmed, empty columns after the last name dropped); the schema
    reads the values as the data contract reads a file (``model_rows(..., text=True)``). The
    fields are split by ``delimiter`` (the spec's file's) or by a comma, whichever splits the
    header into more names: rows copied from the file, or MLflow's comma-separated CSV;
    ``quoting`` off (the file's setting) reads every '"' as text. A name given twice reads as
    a file's does (the second ``x`` is ``x.1``) when those names are ``known`` columns: rows
    copied from a file whose header repeats a name. The text is in the ``content_type``'s
    charset, else UTF-8, else the spec's file ``encoding`` (rows copied from a cp1252 file)."""
    text = _csv_text(body, _charset(content_type), encoding)
    first = text.partition("\n")[0]  # counted, not parsed: any line may be malformed
    split = delimiter if first.count(delimiter) > first.count(",") else ","
    lines = io.StringIO(text)
    reader = (
        csv.reader(lines, delimiter=split)
        if quoting
        else csv.reader(lines, delimiter=split, quoting=csv.QUOTE_NONE)
    )
    try:
        rows = list(itertools.islice(reader, max_rows + 2))  # the header, and one too many
    except csv.Error as exc:
        raise _bad(f"The CSV body cannot be parsed: {exc}.") from None
    if not rows:
        raise _bad("The CSV body is empty; send a header row and data rows.")
    width, header = len(rows[0]), header_names(rows[0])  # trailing blank fields: no column
    if len(set(header)) != len(header) and set(unique_names(header)) <= set(known):
        header = unique_names(header)
    if len(set(header)) != len(header):
        twice = next(name for name in header if header.count(name) > 1)
        raise _bad(
            f"The CSV header names {twice!r} twice. Its first line must be the header, the "
            "columns' names (a row of values there repeats any value it holds twice)."
        )
    check_batch_size(len(rows) - 1, max_rows)
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            raise _bad(f"CSV line {number} has {len(row)} fields; the header has {width}.")
        if any(value.strip() for value in row[len(header) :]):
            raise _bad(f"CSV line {number} has a value after the header's last name.")
        records.append(dict(zip(header, row, strict=False)))
    return records


def oip_records(
    payload: Any, max_rows: int, schema: dict[str, Any]
) -> tuple[list[dict[str, Any]], Any]:
    """Records from an OIP v2 inference request (one input tensor per column), and its id.
    Each tensor's data must fit its declared datatype, and the datatype its column (``schema``
    is the record's JSON Schema); a name given twice is refused rather than one copy winning."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise _bad("The body must be an object with an 'inputs' list of tensors.")
    kinds = _column_kinds(schema)
    tensors: dict[str, list[Any]] = {}
    positions: dict[str, int] = {}
    for position, tensor in enumerate(payload["inputs"]):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise _bad(f"inputs[{position}] must be an object with a 'name'.")
        name, data, datatype = tensor["name"], tensor.get("data"), tensor.get("datatype")
        if not isinstance(datatype, str) or datatype not in _OIP_TYPES:
            raise _bad(
                f"inputs[{position}] ({name[:64]}): 'datatype' must be one of {sorted(_OIP_TYPES)}."
            )
        shape = tensor.get("shape")
        if not isinstance(data, list) or not isinstance(shape, list):
            raise _bad(f"inputs[{position}] ({name[:64]}) needs 'shape' and 'data' lists.")
        # Before the product of the dimensions: a long shape would make it a huge integer.
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise _bad(
                f"inputs[{position}] ({name[:64]}): each input is one column: shape [n] or [n, 1]."
            )
        flat = _flatten(data)
        if not all(isinstance(s, int) and s >= 0 for s in shape) or _product(shape) != len(flat):
            raise _bad(
                f"inputs[{position}] ({name[:64]}): shape {shape[:2]} does not match its "
                f"{len(flat)} values; use [n] or [n, 1] for one column."
            )
        if name in positions:
            raise _bad(
                f"inputs[{position}] ({name[:64]}): the name is also inputs[{positions[name]}]; "
                "send each column once."
            )
        _check_tensor(f"inputs[{position}] ({name[:64]})", datatype, flat, kinds.get(name))
        tensors[name], positions[name] = flat, position
    if not tensors:
        raise _bad("'inputs' is empty.")
    return _columns_to_records(tensors, "'inputs'", max_rows), payload.get("id")


# The values each numeric datatype holds: integers in their range, floats up to their largest
# finite value (JSON has no NaN or infinity).
_INT_RANGES = {
    **{f"INT{n}": (-(2 ** (n - 1)), 2 ** (n - 1) - 1) for n in (8, 16, 32, 64)},
    **{f"UINT{n}": (0, 2**n - 1) for n in (8, 16, 32, 64)},
}
_FLOAT_MAX = {"FP16": 65504.0, "FP32": 3.4028234663852886e38, "FP64": 1.7976931348623157e308}


def _check_tensor(what: str, datatype: str, data: list[Any], kinds: set[str] | None) -> None:
    """422 unless the datatype fits the column (``kinds``: its JSON types; None for a name that
    is not an input, which the schema names) and every value fits the datatype. Nulls pass:
    the schema decides whether the column may be null."""
    if kinds is not None and not _takes(kinds, datatype):
        expected = [d for d in _OIP_TYPES if _takes(kinds, d)]
        raise _bad(f"{what}: datatype {datatype} does not fit this column; send one of {expected}.")
    for index, value in enumerate(data):
        if value is not None and not _fits(datatype, value):
            raise _bad(f"{what}: data[{index}] {_shown(value)} is not a valid {datatype} value.")


def _takes(kinds: set[str], datatype: str) -> bool:
    """Whether a column of these JSON types takes tensors of ``datatype``: an integer is a
    number; a boolean column also takes strings (the tokens its data was read from, which the
    request schema checks)."""
    kind = _OIP_TYPES[datatype]
    return (
        kind in kinds
        or (kind == "integer" and "number" in kinds)
        or (kind == "string" and "boolean" in kinds)
    )


def _fits(datatype: str, value: Any) -> bool:
    if datatype in _INT_RANGES:  # 3.0 is the integer 3 (as the request schema reads it)
        low, high = _INT_RANGES[datatype]
        whole = type(value) is int or (type(value) is float and value.is_integer())
        return whole and low <= value <= high
    if datatype in _FLOAT_MAX:
        return type(value) in (int, float) and abs(value) <= _FLOAT_MAX[datatype]
    return type(value) is (bool if datatype == "BOOL" else str)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _column_kinds(schema: dict[str, Any]) -> dict[str, set[str]]:
    """Each input's JSON types (without null), from the record's JSON Schema; columns the
    model does not use (no type) are left out, like names it does not know."""
    kinds = {name: _json_types(prop) for name, prop in schema["properties"].items()}
    return {name: types for name, types in kinds.items() if types}


def _json_types(schema: dict[str, Any]) -> set[str]:
    if "anyOf" in schema:  # nullable columns, boolean tokens: alternatives, maybe nested
        return set().union(*(_json_types(option) for option in schema["anyOf"]))
    kind = schema.get("type", "null")
    return set() if kind == "null" else {kind}


def oip_requested_outputs(payload: dict[str, Any], available: list[str]) -> list[str]:
    """The output tensors an OIP v2 request asks for, in its order; all when it names none."""
    requested = payload.get("outputs")
    if requested is None:
        return available
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise _bad("'outputs' must be a list of objects with a 'name'.")
    names = [o["name"] for o in requested]
    unknown = [name[:64] for name in names if name not in available]
    if unknown:
        raise _bad(f"'outputs' asks for {unknown[:5]}; this model's outputs are {available}.")
    return names or available


def _flatten(data: list[Any]) -> list[Any]:
    if all(isinstance(v, list) for v in data) and data:
        return [v for row in data for v in (row if isinstance(row, list) else [row])]
    return data


def _product(shape: list[int]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total


def oip_tensor(name: str, values: list[Any]) -> dict[str, Any]:
    """An OIP v2 output tensor for one column of values."""
    if all(isinstance(v, str) for v in values):
        datatype = "BYTES"
    elif all(isinstance(v, bool) for v in values):
        datatype = "BOOL"
    else:
        datatype = "FP64"
    return {"name": name, "shape": [len(values)], "datatype": datatype, "data": values}


def oip_input_metadata(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The model's inputs as OIP v2 tensor metadata."""
    kinds = {"number": "FP64", "integer": "INT64", "boolean": "BOOL", "string": "BYTES"}
    inputs = []
    for name, prop in schema["properties"].items():
        while "anyOf" in prop:  # the value's own type comes first (then text, then null)
            prop = prop["anyOf"][0]
        declared = prop.get("type", "string")
        inputs.append({"name": name, "datatype": kinds.get(declared, "BYTES"), "shape": [-1]})
    return inputs
