"""Run with Airflow's python: ``dag.test()`` of DAGs of the DAG folder, one run per argument
``DAG_ID=YYYY-MM-DD`` in order, and print one JSON line: per argument the run's state, and
each task's state and XCom (a branch's summary, pushed under "summary", else its return)."""

import json
import sys
from datetime import datetime

from airflow.dag_processing.dagbag import DagBag

bag = DagBag()
assert not bag.import_errors, bag.import_errors
runs = {}
for argument in sys.argv[1:]:
    dag_id, date = argument.split("=")
    run = bag.dags[dag_id].test(logical_date=datetime.fromisoformat(f"{date}T00:00:00+00:00"))
    tasks = {}
    for ti in run.get_task_instances():
        summary = ti.xcom_pull(task_ids=ti.task_id, key="summary")
        tasks[ti.task_id] = {
            "state": str(getattr(ti.state, "value", ti.state)),
            "try_number": ti.try_number,
            "xcom": summary if summary is not None else ti.xcom_pull(task_ids=ti.task_id),
        }
    runs[argument] = {"state": str(getattr(run.state, "value", run.state)), "tasks": tasks}
print(json.dumps(runs, default=str))
