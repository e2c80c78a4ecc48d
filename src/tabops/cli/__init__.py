"""The ``tabops`` command: parse arguments, load the spec, call a stage, print the result.

Exit codes: 0 done, 2 a user mistake (the message says what and how to fix it), 3 refused (a
batch blocked by the data contract, a candidate kept out by the gate), 1 an internal error
(``--debug`` shows the traceback).
"""

# Importing the command modules registers their commands on the app.
from tabops.cli import (  # noqa: F401
    dags,
    data,
    model,
    monitor,
    pipeline,
    predict,
    rules,
    serve,
    simulate,
    synth,
)
from tabops.cli.app import app, main

__all__ = ["app", "main"]
