"""Orchestration: the task graph of the daily loop (``graph``, stdlib only, read by the Airflow
DAG factory), the stage functions each task calls, and the in-process runner
(``tabops pipeline``)."""
