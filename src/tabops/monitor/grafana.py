"""Grafana dashboards and provisioning files, generated from the spec.

Dashboards are built with the Grafana Foundation SDK's typed builders; SQL targets (the SDK
has no PostgreSQL query model) are plain query documents the SDK carries as they are. Three
dashboards: the fraud monitor's decisions over a ``tabops simulate --table`` table, model
health over the store's ``monitor_metrics`` and ``alert_events``, and the service from the
server's Prometheus metrics. Datasources have fixed uids so the dashboards find them; their
connection settings are environment placeholders that Grafana fills in at start-up, so no
secret is ever written into a file.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from grafana_foundation_sdk.builders import (
    barchart,
    common,
    dashboard,
    piechart,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime, variants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.common import (
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    TooltipDisplayMode,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from tabops.errors import TabopsError
from tabops.spec import ProjectSpec, Task
from tabops.store.monitoring import LOG_SOURCE

STORE_UID = "tabops-store"
PROMETHEUS_UID = "tabops-prometheus"
#: The PostgreSQL plugin's id ("postgres" stays an alias in Grafana 11).
POSTGRES_TYPE = "postgres"
#: Where Grafana reads the dashboards' JSON (mount deploy/grafana/dashboards there).
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/tabops"

_STORE = model.DataSourceRef(type_val=POSTGRES_TYPE, uid=STORE_UID)
_PROMETHEUS = model.DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


# ----------------------------------------------------------------------------- queries


class SqlQuery(cogbuilder.Builder[variants.Dataquery]):
    """A raw SQL target of the PostgreSQL datasource. ``table`` rows become one data frame;
    ``time_series`` needs a ``time`` column, and a ``metric`` column names each series."""

    def __init__(self, sql: str, ref_id: str = "A", fmt: str = "table") -> None:
        self._data = {"refId": ref_id, "datasource": _STORE.to_json(), "editorMode": "code",
                      "format": fmt, "rawQuery": True, "rawSql": sql}  # fmt: skip

    def build(self) -> variants.Dataquery:
        return runtime.UnknownDataquery(self._data)


def _promql(expr: str, legend: str, ref_id: str = "A") -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref_id)
        .range()
        .format(PromQueryFormat.TIME_SERIES)
    )


def _every(frame: Any) -> Any:
    """Show every row of a table frame (a pie slice or bar per row), not one reduced value."""
    return frame.reduce_options(common.ReduceDataOptions().values(True).calcs([]))


def _legend(series: Any) -> Any:
    """A legend below and a tooltip listing every series (the panels' options, set in full:
    Grafana and the SDK's model both read options that are never null)."""
    legend = (common.VizLegendOptions().display_mode(LegendDisplayMode.LIST)
              .placement(LegendPlacement.BOTTOM).show_legend(True))  # fmt: skip
    tooltip = common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.NONE)
    return series.legend(legend).tooltip(tooltip)


def _total(frame: Any) -> Any:
    return frame.reduce_options(common.ReduceDataOptions().values(False).calcs(["lastNotNull"]))


# ----------------------------------------------------------------------------- dashboards


def decisions_dashboard(spec: ProjectSpec, transactions: str) -> model.Dashboard:
    """The original fraud monitor's panels over the table ``tabops simulate --table`` fills:
    Rejected and Approved counts, the decision pie, blacklisted-card bars."""
    if not _IDENTIFIER.match(transactions):
        raise TabopsError(f"--table {transactions}: use a plain table name (letters, digits, _).")
    t, when = transactions, "$__timeFilter(tx_datetime)"

    def count(decision: str) -> str:
        return f"SELECT count(*) AS transactions FROM {t} WHERE decision = '{decision}' AND {when}"

    return (
        _dashboard(spec, "decisions", f"{spec.name}: authorization decisions")
        .with_panel(_total(stat.Panel().title("Rejected").datasource(_STORE).span(6).height(6)
                           .with_target(SqlQuery(count("reject")))))
        .with_panel(_total(stat.Panel().title("Approved").datasource(_STORE).span(6).height(6)
                           .with_target(SqlQuery(count("approve")))))
        .with_panel(_every(piechart.Panel().title("Authorization decisions").datasource(_STORE)
                           .span(12).height(12)
                           .with_target(SqlQuery(
                               f"SELECT decision, count(*) AS transactions FROM {t} "
                               f"WHERE {when} GROUP BY decision ORDER BY decision"))))
        .with_panel(barchart.Panel().title("Decisions by blacklisted card").datasource(_STORE)
                    .span(12).height(12).x_field("decision")
                    .with_target(SqlQuery(
                        "SELECT decision, count(*) FILTER (WHERE account_blacklisted) AS "
                        "blacklisted, count(*) FILTER (WHERE NOT account_blacklisted) AS "
                        f'"not blacklisted" FROM {t} WHERE {when} '
                        "GROUP BY decision ORDER BY decision")))
        .with_panel(_legend(timeseries.Panel()).title("Decisions per hour").datasource(_STORE)
                    .span(12).height(8)
                    .with_target(SqlQuery(
                        "SELECT $__timeGroupAlias(tx_datetime, '1h'), decision AS metric, "
                        f"count(*) AS transactions FROM {t} WHERE {when} "
                        "GROUP BY 1, 2 ORDER BY 1", fmt="time_series")))
        .with_panel(table.Panel().show_header(True).title("Latest rejections").datasource(_STORE)
                    .span(12).height(8)
                    .with_target(SqlQuery(
                        "SELECT tx_datetime, amount, transaction_type, account_blacklisted, "
                        f"fired_rules, explanation, rules_version FROM {t} "
                        f"WHERE decision = 'reject' AND {when} "
                        "ORDER BY tx_datetime DESC LIMIT 100")))
        .build()
    )  # fmt: skip


def model_health_dashboard(spec: ProjectSpec) -> model.Dashboard:
    """Drift per feature, realized vs estimated performance, label coverage, refused requests
    and alert states from what ``tabops monitor`` and the servers store."""
    # The name's pattern allows no quote. The prediction log's series only: files and tables
    # measured with `monitor run --data` are kept apart (their own source).
    project = f"project = '{spec.name}' AND source = '{LOG_SOURCE}'"
    when = "$__timeFilter(window_end)"

    def series(metrics: tuple[str, ...], name: str) -> SqlQuery:
        listed = ", ".join(f"'{m}'" for m in metrics)
        return SqlQuery(
            f'SELECT window_end AS "time", {name} AS metric, value FROM monitor_metrics '
            f"WHERE {project} AND metric IN ({listed}) AND {when} ORDER BY 1",
            fmt="time_series",
        )

    def over_time(title: str, query: SqlQuery, unit: str = "none") -> timeseries.Panel:
        built: timeseries.Panel = _legend(timeseries.Panel())
        return (
            built.title(title).datasource(_STORE).span(12).height(8).unit(unit).with_target(query)
        )

    primary = spec.metric
    performance = (primary,) if spec.task == Task.REGRESSION else (primary, f"estimated_{primary}")
    return (
        _dashboard(spec, "model", f"{spec.name}: model health")
        .with_panel(over_time("Drift score per feature", series(("drift_score",), "column_name")))
        .with_panel(over_time("PSI per feature", series(("psi",), "column_name")))
        .with_panel(over_time(f"Realized vs estimated {primary}",
                              series(performance, "metric || ' ' || model_version")))
        .with_panel(over_time("Label coverage", series(("label_coverage",), "model_version"),
                              unit="percentunit"))
        .with_panel(over_time("Share of drifted features", series(("drift_share",), "metric"),
                              unit="percentunit"))
        .with_panel(over_time("Refused share of records", series(("rejected_rate",),
                                                                 "model_version"),
                              unit="percentunit"))
        .with_panel(over_time("Refused records by field (per hour)", SqlQuery(
            "SELECT $__timeGroupAlias(minute, '1h'), field || ' ' || reason AS metric, "
            f"sum(records) AS value FROM rejected_fields WHERE project = '{spec.name}' AND "
            "$__timeFilter(minute) GROUP BY 1, 2 ORDER BY 1", fmt="time_series")))
        .with_panel(_legend(statetimeline.Panel()).title("Alert states").datasource(_STORE)
                    .span(12).height(8)
                    .mappings([_state_map()])
                    .with_target(SqlQuery(
                        'SELECT window_end AS "time", alert AS metric, '
                        "CASE WHEN state = 'firing' THEN 1 ELSE 0 END AS value "
                        f"FROM alert_events WHERE {project} AND {when} ORDER BY 1",
                        fmt="time_series")))
        .with_panel(table.Panel().show_header(True).title("Alerts now (latest transition of each)")
                    .datasource(_STORE).span(24).height(8)
                    .with_target(SqlQuery(
                        "SELECT DISTINCT ON (model_name, alert) model_name, alert, state, "
                        "severity, metric, column_name, value, threshold, window_end "
                        f"FROM alert_events WHERE {project} "
                        "ORDER BY model_name, alert, window_end DESC, id DESC")))
        .build()
    )  # fmt: skip


def service_dashboard(spec: ProjectSpec) -> model.Dashboard:
    """Request rate, latency percentiles, errors, refused records and the prediction log from
    ``/metrics``."""
    requests = "tabops_request_duration_seconds"
    rate = "[$__rate_interval]"

    def panel(title: str, unit: str, *queries: prometheus.Dataquery) -> timeseries.Panel:
        built: timeseries.Panel = _legend(timeseries.Panel())
        built = built.title(title).datasource(_PROMETHEUS).span(12).height(8)
        return built.unit(unit).targets(list(queries))

    quantiles = [
        _promql(f"histogram_quantile({q}, sum by (le) "
                f'(rate({requests}_bucket{{route="/predict"}}{rate})))', f"p{round(q * 100)}",
                ref_id=chr(ord("A") + i))
        for i, q in enumerate((0.5, 0.95, 0.99))
    ]  # fmt: skip
    return (
        _dashboard(spec, "service", f"{spec.name}: service")
        .with_panel(panel("Requests per second by route", "reqps",
                          _promql(f"sum by (route) (rate({requests}_count{rate}))", "{{route}}")))
        .with_panel(panel("/predict latency percentiles", "s", *quantiles))
        .with_panel(panel("Errors per second by status", "reqps",
                          _promql(f'sum by (status) (rate({requests}_count{{status=~"4..|5.."}}'
                                  f"{rate}))", "{{status}}")))
        .with_panel(panel("Overload rejections per second", "reqps",
                          _promql(f"sum by (reason) (rate(tabops_overload_rejections_total{rate}))",
                                  "{{reason}}")))
        .with_panel(panel("Prediction log backlog (rows)", "short",
                          _promql("sum(tabops_prediction_log_queue_rows)", "queued"),
                          _promql("sum(tabops_prediction_log_spilled_rows)", "spilled", "B"),
                          _promql("sum(tabops_prediction_log_dropped_rows)", "dropped", "C")))
        .with_panel(_total(stat.Panel().title("Prediction log store up").datasource(_PROMETHEUS)
                           .span(6).height(8).mappings([_up_map()])
                           .with_target(_promql("min(tabops_prediction_log_store_up)", "up"))))
        .with_panel(panel("Predictions per second by model version", "short",
                          _promql(f"sum by (model, version) (rate(tabops_predictions_total{rate}))",
                                  "{{model}} {{version}}")))
        .with_panel(panel("Refused records per second by field", "short",
                          _promql("sum by (field, reason) "
                                  f"(rate(tabops_rejected_fields_total{rate}))",
                                  "{{field}} {{reason}}")))
        .build()
    )  # fmt: skip


def _dashboard(spec: ProjectSpec, kind: str, title: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(f"tabops-{spec.name}-{kind}"[:40])
        .tags(["tabops", spec.name])
        .time("now-7d" if kind != "service" else "now-1h", "now")
        .refresh("1m")
        .timezone("utc")
        .editable()
    )


def _state_map() -> model.ValueMap:
    return model.ValueMap(options={
        "0": model.ValueMappingResult(text="resolved", color="green"),
        "1": model.ValueMappingResult(text="firing", color="red"),
    })  # fmt: skip


def _up_map() -> model.ValueMap:
    return model.ValueMap(options={
        "0": model.ValueMappingResult(text="down", color="red"),
        "1": model.ValueMappingResult(text="up", color="green"),
    })  # fmt: skip


# ----------------------------------------------------------------------------- files


def dashboards(spec: ProjectSpec, transactions: str | None = None) -> dict[str, model.Dashboard]:
    """Each dashboard by file name; the decisions one only for a transactions table."""
    built = {"model": model_health_dashboard(spec), "service": service_dashboard(spec)}
    if transactions is not None:
        built["decisions"] = decisions_dashboard(spec, transactions)
    return {f"tabops-{spec.name}-{kind}.json": board for kind, board in built.items()}


def dashboard_json(board: model.Dashboard) -> str:
    return json.dumps(board, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def datasources_yaml(spec: ProjectSpec) -> str:
    """The store and Prometheus datasources; every connection setting is a ``$VAR`` Grafana
    reads from its environment at start-up (deploy/README.md lists them)."""
    document = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "tabops store",
                "uid": STORE_UID,
                "type": POSTGRES_TYPE,
                "url": "${TABOPS_PGHOST}:${TABOPS_PGPORT}",
                "user": "${TABOPS_PGUSER}",
                "jsonData": {"database": "${TABOPS_PGDATABASE}",
                             "sslmode": "${TABOPS_PGSSLMODE}", "postgresVersion": 1500},
                "secureJsonData": {"password": "${TABOPS_PGPASSWORD}"},
                "editable": False,
            },
            {
                "name": "tabops prometheus",
                "uid": PROMETHEUS_UID,
                "type": "prometheus",
                "url": "${TABOPS_PROMETHEUS_URL}",
                "jsonData": {"timeInterval": "15s"},
                "editable": False,
            },
        ],
    }  # fmt: skip
    return _header(spec) + yaml.safe_dump(document, sort_keys=False)


def dashboard_provider_yaml(spec: ProjectSpec) -> str:
    document = {
        "apiVersion": 1,
        "providers": [
            {
                "name": f"tabops-{spec.name}",
                "folder": f"tabops {spec.name}",
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }
    return _header(spec) + yaml.safe_dump(document, sort_keys=False)


def _header(spec: ProjectSpec) -> str:
    return (
        f"# Generated by `tabops monitor provision` from {spec.name}'s tabops.yaml; "
        "regenerate rather than edit.\n"
    )
