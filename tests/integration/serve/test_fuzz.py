"""S2 and S3: nothing a client sends gets a 5xx, and every error body has the one shape and
shows nothing of the server (traceback, path, DSN, SQL, key).

Two sources of requests: schemathesis generating positive and negative cases for every
operation of the app's own /openapi.json (bounded examples), and a corpus of raw bodies (bad
JSON, wrong content types, deep nesting, an empty body, huge strings and numbers, unicode junk)
against every POST route. Every response body is scanned (:mod:`tests.integration.serve.checks`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans

from tabops.serve.app import create_app
from tabops.settings import Settings
from tests.integration.serve.checks import (
    TALLY,
    check_error,
    check_response,
    leaks,
    sent_text,
    shared_project,
)
from tests.integration.serve.conftest import ServedProject, valid_record

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]

KEY, ADMIN = "fuzz-prediction-key-0123456789", "fuzz-admin-key-9876543210"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return shared_project(tmp_path_factory)


def secrets_of(project: ServedProject) -> tuple[str, ...]:
    """What no body may contain: the keys and where the workspace lives."""
    return (KEY, ADMIN, str(project.home), str(project.folder))


@pytest.fixture(scope="module")
def api_schema(project: ServedProject) -> Iterator[Any]:
    """The app's own OpenAPI document, loaded in-process (schemathesis runs the lifespan)."""
    app = create_app(project.spec, project.settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    yield schema
    shutdown_lifespans()


#: Every operation of the app's OpenAPI document (checked against it below).
OPERATIONS = [
    ("POST", "/predict"),
    ("POST", "/invocations"),
    ("POST", "/v2/models/{model_name}/infer"),
    ("POST", "/feedback"),
    ("POST", "/admin/reload"),
    ("GET", "/v2"),
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
    ("GET", "/v2/models/{model_name}/ready"),
    ("GET", "/v2/models/{model_name}"),
    ("GET", "/livez"),
    ("GET", "/health"),
    ("GET", "/readyz"),
    ("GET", "/model"),
    ("GET", "/metrics"),
]
#: Operations with a body to get wrong (a path parameter is any string: no negative cases).
NEGATIVE = [op for op in OPERATIONS if op[0] == "POST" and op[1] != "/admin/reload"]


def test_the_operations_are_all_of_the_openapi_document(api_schema: Any) -> None:
    found = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


def operation(api_schema: Any, method: str, path: str) -> Any:
    for result in api_schema.get_all_operations():
        found = result.ok()
        if (found.method.upper(), found.path) == (method, path):
            return found
    raise AssertionError(f"{method} {path} is not in /openapi.json")


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [(*op, GenerationMode.POSITIVE) for op in OPERATIONS]
    + [(*op, GenerationMode.NEGATIVE) for op in NEGATIVE],
)
def test_openapi_generated_requests_never_get_a_server_error(
    api_schema: Any, project: ServedProject, method: str, path: str, mode: GenerationMode
) -> None:
    """schemathesis's positive (schema-valid) and negative (schema-violating) cases for one
    operation: never a 5xx, every error body in the one shape and clean."""
    strategy = operation(api_schema, method, path).as_strategy(mode)

    @given(case=strategy, served=st.booleans())
    @settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any, served: bool) -> None:
        if served and "model_name" in (case.path_parameters or {}):
            # Half the time the served model, so that the route itself is fuzzed (any other
            # name only ever gets the 404 of the name check).
            case.path_parameters["model_name"] = "synthetic"
        response = case.call()
        TALLY["schemathesis_cases"] += 1
        sent = sent_text(case.body, str(case.path_parameters), str(case.query), str(case.headers))
        problems = check_response(
            response.status_code, response.content, response.headers, sent, secrets_of(project)
        )
        assert not problems, (case.body, problems)

    run()


# -- a corpus of raw bodies -------------------------------------------------------------------

JSON = "application/json"
RECORD = valid_record()
CORPUS: list[tuple[str, str, bytes]] = [
    ("empty body", JSON, b""),
    ("whitespace", JSON, b"  \n\t "),
    ("truncated", JSON, b'{"x": 0.5, "n": 3, "color": "re'),
    ("trailing garbage", JSON, b'{"x": 0.5} {"x": 1}'),
    ("single quotes", JSON, b"{'x': 0.5}"),
    ("comment", JSON, b'{"x": 0.5 /* comment */}'),
    ("NaN", JSON, b'{"x": NaN}'),
    ("nested 100k open", JSON, b"[" * 100_000),
    ("nested 5k balanced", JSON, b"[" * 5_000 + b"]" * 5_000),
    ("nested objects", JSON, b'{"a":' * 20_000 + b"1" + b"}" * 20_000),
    ("nested in a record", JSON, b'{"x": ' + b"[" * 3_000 + b"]" * 3_000 + b"}"),
    ("number 10k digits", JSON, b"1" * 10_000),
    ("fraction 10k digits", JSON, b"0." + b"1" * 10_000),
    ("number 10k digits in a record", JSON, b'{"x": ' + b"9" * 10_000 + b"}"),
    ("huge string", JSON, b'"' + b"a" * 3_000_000 + b'"'),
    ("huge key", JSON, b'{"' + b"k" * 1_000_000 + b'": 1}'),
    ("many keys", JSON, b"{" + b",".join(b'"k%d": %d' % (i, i) for i in range(50_000)) + b"}"),
    ("unicode junk", JSON, '{"x": "\u202e\ud7ff\ufffd\U0001f4a9\u0000"}'.encode()),
    ("lone surrogate escape", JSON, b'{"color": "\\ud800"}'),
    ("invalid utf-8", JSON, b'{"color": "\xff\xfe\xfd"}'),
    ("utf-16 bom", JSON, '{"x": 1}'.encode("utf-16")),
    ("null bytes", JSON, b"\x00" * 1000),
    ("a bare number", JSON, b"42"),
    ("a bare string", JSON, b'"predict"'),
    ("null", JSON, b"null"),
    ("true", JSON, b"true"),
    ("array of nulls", JSON, b"[null, null]"),
    ("record of objects", JSON, b'{"x": {}, "n": [], "color": {}, "flag": [], "when": {}}'),
    ("sql in values", JSON, b'{"x": 0.5, "n": 3, "color": "red\'; DROP TABLE predictions; --",'
                            b' "flag": true, "when": null}'),
    ("path in values", JSON, b'{"x": 0.5, "n": 3, "color": "../../../../etc/passwd",'
                             b' "flag": true, "when": "file:///etc/passwd"}'),
    ("url for a model", JSON, b'{"model_uri": "http://169.254.169.254/latest/meta-data/"}'),
    ("text/plain", "text/plain", b'{"x": 0.5}'),
    ("xml", "application/xml", b"<record><x>0.5</x></record>"),
    ("form", "application/x-www-form-urlencoded", b"x=0.5&n=3"),
    ("multipart", "multipart/form-data; boundary=zz", b"--zz\r\n\r\n0.5\r\n--zz--\r\n"),
    ("no content type", "", b'{"x": 0.5}'),
    ("bad charset", "application/json; charset=ebcdic", b'{"x": 0.5}'),
    ("csv without header", "text/csv", b"0.5,3,red,true,\n"),
    ("csv ragged", "text/csv", b"x,n,color\n0.5\n1,2,3,4\n"),
    ("csv invalid utf-8", "text/csv", b"x,n\n\xff,\xfe\n"),
    ("csv nul", "text/csv", b"x,n,color,flag,when\n\x00,\x00,\x00,\x00,\x00\n"),
    ("csv huge field", "text/csv", b"x,n,color,flag,when,id\n0.5,3,red,true,," + b"9" * 50_000),
    ("csv quotes", "text/csv", b'x,n,color,flag,when\n"0.5,3,red,true,\n'),
]  # fmt: skip
#: Routes that read a body; /admin/reload takes none (it only checks the registry).
BODY_ROUTES = ["/predict", "/invocations", "/v2/models/synthetic/infer", "/feedback"]


@pytest.fixture(scope="module")
def keyed_client(project: ServedProject) -> Iterator[TestClient]:
    """The app with auth on, and the prediction key sent with every request."""
    settings = Settings(home=project.home, api_keys=[SecretStr(KEY)], admin_key=SecretStr(ADMIN))
    app = create_app(project.spec, settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["authorization"] = f"Bearer {KEY}"
        yield client


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize(("name", "content_type", "body"), CORPUS, ids=[c[0] for c in CORPUS])
def test_raw_bodies_get_4xx_in_the_error_shape(
    keyed_client: TestClient,
    project: ServedProject,
    route: str,
    name: str,
    content_type: str,
    body: bytes,
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = keyed_client.post(route, content=body, headers=headers)
    TALLY["corpus_cases"] += 1
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:300])
    problems = check_response(
        response.status_code,
        response.content,
        response.headers,
        sent_text(body),
        secrets_of(project),
    )
    assert not problems, problems


@pytest.mark.parametrize(
    ("name", "content_type", "body"), CORPUS[:12], ids=[c[0] for c in CORPUS[:12]]
)
def test_admin_reload_ignores_any_body(
    keyed_client: TestClient, project: ServedProject, name: str, content_type: str, body: bytes
) -> None:
    response = keyed_client.post(
        "/admin/reload",
        content=body,
        headers={"content-type": content_type, "authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "unchanged"
    assert not leaks(response.text, secrets=secrets_of(project))


ROUTES = {
    "/predict": "POST",
    "/invocations": "POST",
    "/v2/models/synthetic/infer": "POST",
    "/feedback": "POST",
    "/admin/reload": "POST",
    "/model": "GET",
    "/livez": "GET",
    "/health": "GET",
    "/readyz": "GET",
    "/metrics": "GET",
    "/v2/health/live": "GET",
    "/v2/models/synthetic": "GET",
}


@pytest.mark.parametrize(("route", "method"), sorted(ROUTES.items()))
def test_wrong_methods_get_405_in_the_error_shape(
    keyed_client: TestClient, route: str, method: str
) -> None:
    for wrong in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        if wrong == method:
            continue
        response = keyed_client.request(wrong, route)
        assert response.status_code == 405, (wrong, route, response.text)
        assert not check_response(response.status_code, response.content, response.headers)


TRAVERSAL = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/%2e%2e/etc/passwd",
    "....//....//etc/passwd",
    "file:%2F%2F%2Fetc%2Fpasswd",
    "http:%2F%2F169.254.169.254%2Flatest",
    "synthetic%00",
    "synthetic%2F..%2F..",
    "models:%2Fsynthetic@champion",
    "s3:%2F%2Fbucket%2Fmodel.pkl",
    "%252e%252e%252fetc",
]


@pytest.mark.parametrize("name", TRAVERSAL)
@pytest.mark.parametrize("suffix", ["", "/ready", "/infer"])
def test_model_names_are_never_paths_or_urls(
    keyed_client: TestClient, project: ServedProject, name: str, suffix: str
) -> None:
    """X2 at the API: the name in /v2/models/{name} is only compared with the served model's."""
    path = f"/v2/models/{name}{suffix}"
    response = (
        keyed_client.post(path, json={"inputs": []})
        if suffix == "/infer"
        else keyed_client.get(path)
    )
    assert response.status_code == 404, (path, response.text)
    assert not check_response(
        response.status_code, response.content, response.headers, secrets=secrets_of(project)
    )
    assert keyed_client.get("/model").json()["version"] == "1"


@pytest.mark.parametrize(
    "path",
    ["/nope", "/predict/%2e%2e/model", "/%2e%2e/etc/passwd", "/docs/../../x", "/" + "a" * 5000],
)
def test_unknown_routes_get_404_in_the_error_shape(keyed_client: TestClient, path: str) -> None:
    response = keyed_client.get(path)
    assert response.status_code == 404, response.text
    assert not check_response(response.status_code, response.content, response.headers)


def test_success_bodies_show_no_path_dsn_or_key(
    keyed_client: TestClient, project: ServedProject
) -> None:
    for route in ("/model", "/readyz", "/metrics", "/openapi.json", "/v2/models/synthetic", "/v2"):
        response = keyed_client.get(route)
        assert response.status_code == 200, (route, response.text)
        assert not leaks(response.text, secrets=secrets_of(project)), route


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": {"code": "x", "message": "Traceback (most recent call last):",'
        b' "request_id": "r"}}',
        b'{"error": {"code": "x", "message": "File \\"/srv/app.py\\"", "request_id": "r"}}',
        b'{"error": {"code": "x", "message": "postgresql://u:p@h/db", "request_id": "r"}}',
        b'{"error": {"code": "x", "message": "SELECT * FROM labels", "request_id": "r"}}',
        b'{"error": {"code": "x", "message": "bad key fuzz-admin-key-9876543210",'
        b' "request_id": "r"}}',
        b'{"error": {"code": "x", "message": "m"}}',
        b'{"error": {"code": "x", "message": "m", "request_id": "r", "trace": []}}',
        b'{"detail": "Not Found"}',
        b"Internal Server Error",
    ],
)
def test_the_scanner_finds_what_it_looks_for(body: bytes) -> None:
    """The control for 0 leaks: each of these bodies is caught."""
    before = dict(TALLY)
    assert check_error(400, body, secrets=(KEY, ADMIN))
    TALLY.clear()
    TALLY.update(before)


def test_report(request: pytest.FixtureRequest) -> None:
    """Not a check: prints what this module scanned (run with -s to see it)."""
    print(f"\nS2/S3 tally: {dict(TALLY)}")
    assert TALLY["server_errors"] == 0 and TALLY["leaks"] == 0
