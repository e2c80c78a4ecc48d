"""A small daily project: the synthetic model of the serving tests registered as champion,
one Parquet file of new rows per day (no label), and labels released by entity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
import yaml

from tabops.context import Context
from tabops.model.train import run_train
from tabops.monitor.reference import on_registered
from tabops.registry.tracking import MlflowTracking
from tabops.release.register import run_register
from tabops.settings import Settings
from tabops.spec import ProjectSpec, load_spec
from tabops.store import schema
from tabops.store.labels import upsert_labels
from tests.integration.serve.conftest import served_spec_dict
from tests.unit.model.conftest import add_snapshot, synthetic_table

D1 = date(2026, 4, 1)
DAY_ROWS = 200


def daily_spec_dict(**retrain: Any) -> dict[str, Any]:
    raw = served_spec_dict()
    raw["monitor"] = {"alerts": [{"name": "x_drift", "metric": "psi", "column": "x",
                                  "above": 1.0, "min_rows": 10}]}  # fmt: skip
    raw["orchestration"] = {
        "day": {"input": "days/{date}.parquet"},
        "output": "scores",
        "retrain": {"min_new_labels": 50, "cooldown_days": 3, "max_retrains": 1,
                    "period_days": 30, **retrain},
    }  # fmt: skip
    return raw


@dataclass
class DailyProject:
    folder: Path
    settings: Settings

    @property
    def spec(self) -> ProjectSpec:
        return load_spec(self.folder)

    @property
    def ctx(self) -> Context:
        return Context(settings=self.settings)

    def write_day(self, day: date, rows: int = DAY_ROWS, shift: float = 0.0) -> pa.Table:
        """The day's rows (ids unique across days; ``shift`` moves x: drift)."""
        offset = (day - D1).days
        table = synthetic_table(rows, seed=100 + offset).drop(["label"])
        ids = pa.array(range(100_000 * (offset + 1), 100_000 * (offset + 1) + rows), pa.int64())
        table = table.set_column(0, "id", ids)
        x = table.column("x").to_numpy() + shift
        table = table.set_column(table.column_names.index("x"), "x", pa.array(x))
        (self.folder / "days").mkdir(exist_ok=True)
        pq.write_table(table, self.folder / "days" / f"{day.isoformat()}.parquet")
        return table

    def label_day(self, day: date) -> int:
        """Release a label for every row of ``day`` (the synthetic rule's truth)."""
        table = synthetic_table(DAY_ROWS, seed=100 + (day - D1).days)
        offset = 100_000 * ((day - D1).days + 1)
        now = datetime.now(UTC)
        rows = [{"project": "synthetic", "request_id": f"e-{offset + i}",
                 "entity_id": str(offset + i), "event_time": None, "label": label,
                 "source": "test", "received_at": now}
                for i, label in enumerate(table.column("label").to_pylist())]  # fmt: skip
        upsert_labels(self.ctx.store, rows)
        return len(rows)

    def counts(self) -> dict[str, Any]:
        """Rows of every store table and the files under the output folder: what a rerun
        must leave unchanged."""
        store = self.ctx.store
        with store.connect() as conn:
            tables = {
                name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in schema.metadata.tables.items()
                if store.table_exists(name)
            }
        files = sorted(str(p.relative_to(self.folder)) for p in (self.folder / "scores").rglob("*"))
        return {"tables": tables, "files": files}


def make_daily_project(
    folder: Path, database_url: str | None = None, **retrain: Any
) -> DailyProject:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tabops.yaml").write_text(yaml.safe_dump(daily_spec_dict(**retrain)))
    project = DailyProject(folder, Settings(home=folder / ".tabops", database_url=database_url))
    spec, ctx = project.spec, project.ctx
    add_snapshot(ctx, spec, synthetic_table(600))
    result = run_train(spec, ctx, MlflowTracking(project.settings, spec))
    run_register(spec, ctx, result.best.run_id, False, on_registered(spec, ctx))
    for n in range(8):
        project.write_day(D1 + timedelta(days=n), shift=3.0 if n >= 5 else 0.0)
    return project
