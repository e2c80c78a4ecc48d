"""The release stage: register a trained candidate, gate it against the champion, audit
every decision, promote and roll back, and evaluate a version again. What it knows of MLflow
comes through :mod:`tabops.registry`."""
