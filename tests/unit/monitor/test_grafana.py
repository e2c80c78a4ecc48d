"""The generated Grafana and Prometheus files: dashboards that Grafana's typed dashboard model
(the Foundation SDK's, generated from Grafana's own schema) reads back unchanged, provisioning
that points at them, and no secret in any file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard
from typer.testing import CliRunner

from tabops.cli import app
from tabops.errors import TabopsError
from tabops.monitor.grafana import DASHBOARDS_PATH, PROMETHEUS_UID, STORE_UID
from tabops.monitor.prometheus import rules_yaml
from tabops.monitor.provision import provision
from tabops.spec import load_spec
from tests.unit.monitor.test_prometheus import spec_with_alerts

FRAUD = Path(__file__).parents[3] / "examples" / "fraud"
# The panel and query types' typed models: without them, options and targets are read as
# plain dicts, unchecked.
register_default_plugins()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    provision(load_spec(FRAUD), tmp_path, "10.0.0.5:8000", "banking_data")
    return tmp_path


def test_each_dashboard_round_trips_through_grafanas_typed_model(files: Path) -> None:
    boards = sorted((files / "grafana" / "dashboards").glob("*.json"))
    assert [b.name for b in boards] == [
        "tabops-fraud-decisions.json", "tabops-fraud-model.json", "tabops-fraud-service.json"
    ]  # fmt: skip
    for path in boards:
        document = json.loads(path.read_text())
        # A field the model does not know is dropped on the way in, a wrong type fails or is
        # rewritten: what comes back out must be what was written, but for the panel plugins'
        # own field defaults (fieldConfig.defaults.custom), which the model fills in.
        again = json.loads(json.dumps(Dashboard.from_json(document), cls=JSONEncoder))
        for written, read in zip(document["panels"], again["panels"], strict=True):
            if "custom" not in written["fieldConfig"]["defaults"]:
                assert isinstance(read["fieldConfig"]["defaults"].pop("custom", {}), dict)
        assert again == document, path.name
        assert document["uid"].startswith("tabops-fraud-") and document["panels"]
        for panel in document["panels"]:
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                source = target.get("datasource", panel["datasource"])
                assert source == panel["datasource"]
                assert source["uid"] in {STORE_UID, PROMETHEUS_UID}
                assert ("rawSql" in target) == (source["uid"] == STORE_UID)
                assert ("expr" in target) == (source["uid"] == PROMETHEUS_UID)
            assert panel["options"], f"{panel['title']}: Grafana reads options, never null"
    uids = {json.loads(p.read_text())["uid"] for p in boards}
    assert len(uids) == 3


def test_provisioning_points_at_the_datasources_and_the_dashboards(files: Path) -> None:
    sources = yaml.safe_load((files / "grafana/provisioning/datasources/tabops.yaml").read_text())[
        "datasources"
    ]
    assert {s["uid"]: s["type"] for s in sources} == {STORE_UID: "postgres",
                                                      PROMETHEUS_UID: "prometheus"}  # fmt: skip
    provider = yaml.safe_load((files / "grafana/provisioning/dashboards/tabops.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == DASHBOARDS_PATH
    config = yaml.safe_load((files / "prometheus/prometheus.yml").read_text())
    assert config["scrape_configs"][0]["static_configs"] == [{"targets": ["10.0.0.5:8000"]}]
    rules = files / "prometheus" / config["rule_files"][0]
    assert rules.read_text() == rules_yaml(load_spec(FRAUD))


def test_no_file_holds_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABOPS_DATABASE_URL", "postgresql://tabops:s3cret-pw@db:5432/tabops")
    result = CliRunner().invoke(app, ["monitor", "provision", "--spec", str(FRAUD), "--out",
                                      str(tmp_path / "deploy")])  # fmt: skip
    assert result.exit_code == 0, result.output
    written = [p for p in (tmp_path / "deploy").rglob("*") if p.is_file()]
    assert len(written) == 6  # no decisions dashboard without --table
    assert not any("s3cret" in p.read_text() for p in written)
    source = (tmp_path / "deploy/grafana/provisioning/datasources/tabops.yaml").read_text()
    assert "password: ${TABOPS_PGPASSWORD}" in source


def test_a_table_name_that_is_not_an_identifier_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["monitor", "provision", "--spec", str(FRAUD), "--out",
                                      str(tmp_path), "--table", "x; DROP TABLE y"])  # fmt: skip
    # A user mistake (tabops.cli.main turns it into exit code 2), before any file is written.
    assert isinstance(result.exception, TabopsError)
    assert "plain table name" in str(result.exception)
    assert not list(tmp_path.iterdir())


def test_model_alerts_reach_the_generated_rules(tmp_path: Path) -> None:
    spec = spec_with_alerts()
    provision(spec, tmp_path)
    rules = yaml.safe_load((tmp_path / f"prometheus/tabops-{spec.name}.rules.yml").read_text())
    assert [r["alert"] for r in rules["groups"][0]["rules"]] == ["TabopsAmountDrift",
                                                                  "TabopsAucDrop"]  # fmt: skip
