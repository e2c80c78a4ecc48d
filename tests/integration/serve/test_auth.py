"""X3 and X4: the endpoint x credential matrix (prediction routes need a prediction key, reload
the admin key, probes and metrics are open), production refuses to start without keys, keys
never reach the log, and the default bind is loopback only."""

from __future__ import annotations

import base64
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tabops.serve.app import create_app
from tabops.settings import Settings
from tests.integration.serve.checks import check_response, shared_project
from tests.integration.serve.conftest import TABOPS, ServedProject, running_server, valid_record

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]

KEYS = ("pk-first-0c6f1d2a9b7e4f35", "pk-second-8e21b3c4d5f60718")
ADMIN = "ak-admin-5a4b3c2d1e0f9a8b"
WRONG = "pk-wrong-ffffffffffffffff"
SECRETS = (*KEYS, ADMIN, WRONG)
MATRIX: Counter[str] = Counter()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ServedProject:
    return shared_project(tmp_path_factory)


@pytest.fixture(scope="module")
def keyed(project: ServedProject) -> Iterator[TestClient]:
    settings = Settings(
        home=project.home, api_keys=[SecretStr(k) for k in KEYS], admin_key=SecretStr(ADMIN)
    )
    with TestClient(create_app(project.spec, settings), raise_server_exceptions=False) as client:
        yield client


#: Each column's tensor datatype (a datatype must fit its column and its values).
OIP_TYPES = {"x": "FP64", "n": "INT64", "color": "BYTES", "flag": "BOOL", "when": "BYTES"}
OIP_BODY = {"inputs": [{"name": k, "shape": [1], "datatype": OIP_TYPES[k], "data": [v]}
                       for k, v in valid_record().items()]}  # fmt: skip
#: (method, path, JSON body, who may call it: "predict", "admin" or "open")
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("POST", "/predict", valid_record(), "predict"),
    ("POST", "/predict", [valid_record(), valid_record(x=-1.0)], "predict"),
    ("POST", "/invocations", {"dataframe_records": [valid_record()]}, "predict"),
    ("POST", "/v2/models/synthetic/infer", OIP_BODY, "predict"),
    ("GET", "/v2/models/synthetic", None, "predict"),
    ("GET", "/model", None, "predict"),
    ("POST", "/feedback", {"labels": [{"request_id": "auth-matrix", "label": "yes"}]}, "predict"),
    ("POST", "/admin/reload", None, "admin"),
    ("GET", "/livez", None, "open"),
    ("GET", "/health", None, "open"),
    ("GET", "/readyz", None, "open"),
    ("GET", "/metrics", None, "open"),
    ("GET", "/v2/health/live", None, "open"),
    ("GET", "/v2/health/ready", None, "open"),
    ("GET", "/v2/models/synthetic/ready", None, "open"),
    ("GET", "/v2", None, "open"),
    ("GET", "/openapi.json", None, "open"),
]
#: name -> (headers, who the credential is)
CREDENTIALS: dict[str, tuple[dict[str, str], str]] = {
    "none": ({}, "nobody"),
    "wrong key (bearer)": ({"authorization": f"Bearer {WRONG}"}, "nobody"),
    "wrong key (x-api-key)": ({"x-api-key": WRONG}, "nobody"),
    "empty bearer": ({"authorization": "Bearer "}, "nobody"),
    "empty x-api-key": ({"x-api-key": ""}, "nobody"),
    "prefix of a key": ({"x-api-key": KEYS[0][:-1]}, "nobody"),
    "key and more": ({"x-api-key": KEYS[0] + "0"}, "nobody"),
    "key upper-cased": ({"x-api-key": KEYS[0].upper()}, "nobody"),
    "key as basic auth": (
        {"authorization": "Basic " + base64.b64encode(f"u:{KEYS[0]}".encode()).decode()},
        "nobody",
    ),
    "key as a query parameter": ({}, "nobody"),  # ?api_key=... is not a credential
    "wrong bearer, right x-api-key": (
        {"authorization": f"Bearer {WRONG}", "x-api-key": KEYS[0]},
        "nobody",
    ),
    "prediction key (bearer)": ({"authorization": f"Bearer {KEYS[0]}"}, "predict"),
    "prediction key (lower-case scheme)": ({"authorization": f"bearer {KEYS[1]}"}, "predict"),
    "second prediction key (x-api-key)": ({"x-api-key": KEYS[1]}, "predict"),
    "admin key (bearer)": ({"authorization": f"Bearer {ADMIN}"}, "admin"),
    "admin key (x-api-key)": ({"x-api-key": ADMIN}, "admin"),
}


def expected(route_for: str, who: str) -> set[int]:
    if route_for == "open" or route_for == who:
        return {200}
    if route_for == "admin" and who == "predict":
        return {403}
    return {401}


@pytest.mark.parametrize(
    ("method", "path", "body", "route_for"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
def test_endpoint_credential_matrix(
    keyed: TestClient, method: str, path: str, body: Any, route_for: str
) -> None:
    for name, (headers, who) in CREDENTIALS.items():
        params = {"api_key": KEYS[0]} if name == "key as a query parameter" else None
        response = keyed.request(method, path, json=body, headers=headers, params=params)
        MATRIX["cells"] += 1
        authorised = route_for == "open" or route_for == who
        if 200 <= response.status_code < 300 and not authorised:
            MATRIX["unauthorised_2xx"] += 1
        assert response.status_code in expected(route_for, who), (name, response.text)
        if response.status_code in (401, 403):
            error = response.json()["error"]
            assert error["code"] == ("forbidden" if response.status_code == 403 else "unauthorized")
        if response.status_code == 401:
            assert response.headers.get("www-authenticate") == "Bearer" or path == "/admin/reload"
        problems = check_response(
            response.status_code, response.content, response.headers, secrets=SECRETS
        )
        assert not problems, (name, problems)


def test_matrix_report() -> None:
    """Not a check of its own: the figure for X3 (run with -s to see it)."""
    print(f"\nX3 matrix: {dict(MATRIX)}")
    assert MATRIX["unauthorised_2xx"] == 0


def test_an_unauthenticated_request_is_refused_before_its_body_is_used(keyed: TestClient) -> None:
    """The keyed routes check the key before reading the body: no validation details and
    no prediction for a caller without a key."""
    for path in ("/predict", "/invocations", "/v2/models/synthetic/infer", "/feedback"):
        response = keyed.post(path, json={"x": "not even valid"})
        assert response.status_code == 401, (path, response.text)


def test_keys_must_differ(project: ServedProject) -> None:
    from tabops.errors import TabopsError

    settings = Settings(home=project.home, api_keys=[SecretStr(ADMIN)], admin_key=SecretStr(ADMIN))
    with pytest.raises(TabopsError, match="TABOPS_ADMIN_KEY must differ"):
        create_app(project.spec, settings)


def serve_exits(project: ServedProject, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TABOPS, "serve", "--spec", str(project.folder), "--port", "0"],
        env=project.env(**env), cwd=project.folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TABOPS_ENV": "production"}, "TABOPS_API_KEYS"),
        ({"TABOPS_ENV": "production", "TABOPS_API_KEYS": KEYS[0]}, "TABOPS_ADMIN_KEY"),
        ({"TABOPS_ENV": "production", "TABOPS_ADMIN_KEY": ADMIN}, "TABOPS_API_KEYS"),
        (
            {"TABOPS_ENV": "production", "TABOPS_API_KEYS": ADMIN, "TABOPS_ADMIN_KEY": ADMIN},
            "must differ",
        ),
    ],
    ids=["no keys", "no admin key", "no prediction keys", "same key"],
)
def test_production_refuses_to_start_without_keys(
    project: ServedProject, env: dict[str, str], named: str
) -> None:
    result = serve_exits(project, **env)
    output = " ".join((result.stdout + result.stderr).split())  # the console wraps lines
    assert result.returncode == 2, output
    assert named in output
    assert "Traceback" not in output
    assert not any(secret in output for secret in SECRETS)


def listening(port: int) -> list[str]:
    """The local addresses of listening TCP sockets on ``port`` (IPv4 and IPv6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.append(address)
    return found


LOOPBACK = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it
#: Requests a server under test gets with each key: valid, invalid, admin and read routes.
CALLS = [
    ("POST", "/predict", valid_record()),
    ("POST", "/predict", {"x": 1}),
    ("POST", "/admin/reload", None),
    ("GET", "/model", None),
]


def test_production_server_binds_loopback_and_never_logs_keys(project: ServedProject) -> None:
    """X4 and the 'keys never logged' half of X3, on a real `tabops serve` with debug logging:
    wrong keys, right keys, the admin key on and off its route, invalid bodies."""
    env = project.env(
        TABOPS_ENV="production", TABOPS_API_KEYS=",".join(KEYS), TABOPS_ADMIN_KEY=ADMIN
    )
    with running_server(project, "--log-level", "debug", env=env) as server:
        port = int(server.url.rsplit(":", 1)[1])
        assert listening(port) == [LOOPBACK]
        with httpx.Client(base_url=server.url, timeout=10) as http:
            statuses: Counter[int] = Counter()
            for key in SECRETS:
                for headers in ({"authorization": f"Bearer {key}"}, {"x-api-key": key}):
                    for method, path, body in CALLS:
                        response = http.request(method, path, json=body, headers=headers)
                        statuses[response.status_code] += 1
                        assert response.status_code < 500, response.text
                        assert not check_response(
                            response.status_code, response.content, response.headers,
                            secrets=SECRETS,
                        )  # fmt: skip
            assert {200, 401, 403, 422} <= set(statuses)
        assert server.stop() == 0
    log = server.output()
    assert "Serving synthetic" in log
    for secret in SECRETS:
        assert secret not in log, "a key reached the log"
    assert not re.search(r"(?i)authorization|x-api-key", log), "an auth header reached the log"


def test_explicit_host_is_honoured(project: ServedProject) -> None:
    """The control for the loopback check above: --host 0.0.0.0 does bind every interface."""
    with running_server(project, "--host", "0.0.0.0") as server:
        port = int(server.url.rsplit(":", 1)[1])
        assert listening(port) == ["00000000"]
