"""Run with Airflow's python: parse every DAG file of a folder, each in a fresh DagBag, and
print one JSON line: per file its parse seconds (DagBag's own measure), its DAGs (tasks,
upstream, retries, timeouts, schedule), the import errors, and the tabops modules loaded."""

import json
import sys
import time
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

folder = Path(sys.argv[1])
files = {}
errors = {}
for path in sorted(folder.glob("*.py")):
    started = time.perf_counter()
    bag = DagBag(dag_folder=str(path))
    wall = time.perf_counter() - started
    errors.update(bag.import_errors)
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "schedule": None if dag.schedule is None else str(dag.schedule),
            "tasks": {
                t.task_id: {
                    "upstream": sorted(t.upstream_task_ids),
                    "retries": t.retries,
                    "timeout_s": t.execution_timeout.total_seconds(),
                    "operator": type(t).__name__,
                }
                for t in dag.tasks
            },
        }
    files[path.name] = {
        "parse_s": sum(s.duration.total_seconds() for s in bag.dagbag_stats),
        "wall_s": wall,
        "dags": dags,
    }
tabops_modules = sorted(m for m in sys.modules if m == "tabops" or m.startswith("tabops."))
print(json.dumps({"files": files, "errors": errors, "tabops_modules": tabops_modules}))
