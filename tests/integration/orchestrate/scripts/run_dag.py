"""Run with Airflow's python: ``dag.test()`` one DAG of the DAG folder for each logical date
given, and print one JSON line: per date the run's state, each task's state and each task's
XCom (the branch's summary under its "summary" key)."""

import json
import sys
from datetime import datetime

from airflow.dag_processing.dagbag import DagBag

dag_id, dates = sys.argv[1], sys.argv[2:]
bag = DagBag()
assert not bag.import_errors, bag.import_errors
dag = bag.dags[dag_id]
runs = {}
for date in dates:
    run = dag.test(logical_date=datetime.fromisoformat(f"{date}T00:00:00+00:00"))
    tasks = {}
    for ti in run.get_task_instances():
        summary = ti.xcom_pull(task_ids=ti.task_id, key="summary")  # a branch's
        tasks[ti.task_id] = {
            "state": str(ti.state.value if hasattr(ti.state, "value") else ti.state),
            "xcom": summary if summary is not None else ti.xcom_pull(task_ids=ti.task_id),
        }
    runs[date] = {
        "state": str(run.state.value if hasattr(run.state, "value") else run.state),
        "tasks": tasks,
    }
print(json.dumps(runs, default=str))
