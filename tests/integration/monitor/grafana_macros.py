"""Grafana's query macros, expanded as Grafana expands them before a query runs.

Only the macros the generated dashboards use:

- PostgreSQL (Grafana's SQL datasource): ``$__timeFilter(col)`` becomes
  ``col BETWEEN 'from' AND 'to'`` with RFC 3339 UTC bounds; ``$__timeGroupAlias(col, 'iv')``
  becomes ``floor(extract(epoch from col)/secs)*secs AS "time"`` (seconds since the epoch,
  which Grafana reads as the time column).
- Prometheus: ``$__rate_interval`` becomes max(4 x scrape interval, interval + scrape
  interval), with Grafana's interval taken equal to the scrape interval here.
"""

from __future__ import annotations

import re
from datetime import datetime

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(interval: str) -> int:
    return int(interval[:-1]) * _UNITS[interval[-1]]


def expand_sql(sql: str, start: datetime, end: datetime) -> str:
    bounds = f"'{start:%Y-%m-%dT%H:%M:%SZ}' AND '{end:%Y-%m-%dT%H:%M:%SZ}'"
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN {bounds}", sql)
    sql = re.sub(
        r"\$__timeGroupAlias\(([^,]+),\s*'(\d+[smhd])'\)",
        lambda m: f'floor(extract(epoch from {m[1]})/{seconds(m[2])})*{seconds(m[2])} AS "time"',
        sql,
    )
    assert "$__" not in sql, f"a macro the expander does not know: {sql}"
    return sql


def expand_promql(expr: str, scrape_interval: str) -> str:
    scrape = seconds(scrape_interval)
    expr = expr.replace("$__rate_interval", f"{max(4 * scrape, 2 * scrape)}s")
    assert "$__" not in expr, f"a macro the expander does not know: {expr}"
    return expr
