"""The ``tabops`` command: parse arguments, load the spec, call a stage, print the result.

Exit codes: 0 done, 2 a user mistake (the message says what and how to fix it), 3 refused (a
batch blocked by the data contract, a candidate kept out by the gate), 1 an internal error
(``--debug`` shows the traceback).
"""

import tabops.cli.synth  # noqa: F401 - importing it registers 'tabops synth'
from tabops.cli import data, model  # noqa: F401 - importing them registers their commands
from tabops.cli import rules  # noqa: F401 - registers 'tabops rules'
from tabops.cli import serve as _serve  # noqa: F401
from tabops.cli.app import app, main

__all__ = ["app", "main"]
