"""deploy/compose.yaml: valid against the Compose Specification's JSON schema (vendored in
deploy/schema, its commit in the README there), no literal secret, and wired to the files
`tabops monitor provision` writes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.integration.deploy.install import ROOT

DEPLOY = ROOT / "deploy"
TABOPS = str(Path(sys.executable).with_name("tabops"))
SCHEMA = json.loads((DEPLOY / "schema" / "compose-spec.json").read_text())
#: A compose interpolation that stops compose when the variable is unset or empty.
REQUIRED = re.compile(r"\$\{([A-Z0-9_]+):\?[^}]*\}")


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def _errors(document: dict[str, Any]) -> list[str]:
    validator = Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(document)]  # fmt: skip


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert _errors(_compose()) == []


@pytest.mark.parametrize(
    "breakage",
    [
        lambda c: c["services"]["serve"].update(restart_policy="always"),  # not a service key
        lambda c: c["services"]["postgres"].update(ports="5432:5432"),  # a list, not a string
        lambda c: c["secrets"]["postgres_password"].update(path="x"),  # not a secret key
    ],
    ids=["unknown key", "wrong type", "bad secret"],
)
def test_the_schema_check_catches_a_broken_file(breakage: Any) -> None:
    compose = _compose()
    breakage(compose)
    assert _errors(compose)


def test_the_stack_has_every_service_of_the_deployment() -> None:
    services = _compose()["services"]
    assert {"postgres", "minio", "mlflow", "serve", "prometheus", "grafana", "airflow-scheduler",
            "airflow-api-server", "airflow-dag-processor"} <= set(services)  # fmt: skip
    serve = services["serve"]
    assert serve["command"][serve["command"].index("--workers") + 1] == "2"
    assert serve["environment"]["TABOPS_ENV"] == "production"
    mlflow = services["mlflow"]
    assert any(a.startswith("--artifacts-destination=s3://") for a in mlflow["command"])
    assert any(a.startswith("--backend-store-uri=postgresql") for a in mlflow["command"])
    assert mlflow["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _strings(key) + _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def test_no_literal_password_only_required_variables_and_secret_files() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|_KEY$|KEYS$", key) and not key.endswith("_FILE"):
                assert REQUIRED.fullmatch(str(value)), f"{name}: {key} is not ${{VAR:?...}}"
            if key.endswith("_FILE"):
                assert str(value).startswith("/run/secrets/"), (name, key)
    for text in _strings(compose):  # URLs with credentials: the password is a variable
        for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", text):
            assert REQUIRED.fullmatch(password), text
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")


def test_every_required_variable_is_in_the_env_example() -> None:
    example = (DEPLOY / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE))
    text = (DEPLOY / "compose.yaml").read_text()
    used = set(REQUIRED.findall(re.sub(r"(?m)^\s*#.*$", "", text)))
    assert used and used <= listed, used - listed


def test_mounts_match_what_monitor_provision_writes(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    done = subprocess.run(
        [TABOPS, "monitor", "provision", "--spec", str(ROOT / "examples" / "churn"),
         "--out", str(out), "--target", "serve:8000"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    services = _compose()["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (out / source).is_dir(), f"{name} mounts {source}, not provisioned"
    config = yaml.safe_load((out / "prometheus" / "prometheus.yml").read_text())
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["serve:8000"]
    assert (out / "prometheus" / config["rule_files"][0]).is_file()  # beside it, as mounted
