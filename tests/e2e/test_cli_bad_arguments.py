"""Every command, given bad arguments, exits 2 with a message and no traceback.

The commands are discovered from the Typer app, so a new command fails this file until it has
an entry in ``CORPUS``. Each command also gets the generic cases (an unknown option; with
``--spec``, a missing spec and malformed ``--set``). Most cases run in-process through the real
entry point (:func:`tabops.cli.main`); a few run as subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer.main
import yaml
from typer.testing import CliRunner

from tabops.cli import app, main
from tests.conftest import SMALL_HEADER, small_spec_dict

TABOPS = str(Path(sys.executable).with_name("tabops"))
MYSQL = {"TABOPS_DATABASE_URL": "mysql://user:secret@localhost/db"}
HOME_IS_A_FILE = {"TABOPS_HOME": "/etc/passwd/tabops"}
BAD_TRACKING = {"MLFLOW_TRACKING_URI": "mysql://user:secret@localhost/mlflow"}


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        shown = " ".join(a if a else "''" for a in self.args)
        return " ".join([*(f"{k}={v}" for k, v in self.env.items()), shown])


def case(*args: str, **env: str) -> Case:
    return Case(args, env)


#: Bad arguments per command (the command's words are prepended).
CORPUS: dict[str, list[Case]] = {
    "init": [
        case("--data", "missing.csv", "--target", "label", "-o", "new"),
        case("--data", "", "--target", "label", "-o", "new"),
        case("--data", "data.csv", "--target", "nope", "-o", "new"),
        case("--data", "data.csv", "--target", "", "-o", "new"),
        case("--data", "data.csv", "--target", "label", "--name", "1bad", "-o", "new"),
        case("--data", "data.csv", "--target", "label", "--name", "", "-o", "new"),
        case("--data", "data.csv", "--target", "label", "-o", "/etc/passwd/x"),
        case("--data", "data.csv", "--target", "label", "-o", "spec-is-a-folder", "--force"),
        case("--data", "data.csv", "--target", "label", "--task", "clustering", "-o", "new"),
        case("--data", "data.csv", "--target", "label", "--delimiter", "", "-o", "new"),
        case("--data", "data.csv", "--target", "label", "--encoding", "punycode", "-o", "new"),
        case("--data", "data.csv", "--target", "label", "--encoding", "klingon", "-o", "new"),
        case("--data", "data.csv", "-o", "new"),
        case("--target", "label", "-o", "new"),  # no data file at all
        case("data.csv", "--data", "missing.csv", "--target", "label", "-o", "new"),
    ],
    "ingest": [
        case("--set", "source.csv.encoding=punycode"),
        case("--set", "source.path=missing.csv"),
        case("--set", "columns.amount.min=.nan"),
        case("--set", "contract.max_quarantine_rate=2"),
        case("--set", "ingest.dvc_remote=s3://bucket/x", "--dvc"),
        case(**MYSQL),
        case(**HOME_IS_A_FILE),
    ],
    "spec": [
        case("--set", "name=1bad"),
        case("--set", "columns.amount.max=.inf"),
        case("--set", "columns={a: 1, a: 2}"),
        case("--spec", "duplicate-keys.yaml"),
        case("--spec", "/etc/passwd/x"),
    ],
    "train": [
        case("--snapshot", ""),
        case("--snapshot", "%"),
        case("--trials", "0"),
        case("--trials", "many"),
        case("--timeout", "0"),
        case("--set", "train.cv_folds=1"),
        case("--set", "train.candidates=[{estimator: svm}]"),
        case(**MYSQL),
    ],
    "register": [case("--run", "no-such-run"), case("--run", ""), case(**BAD_TRACKING)],
    "promote": [
        case(),
        case("--version", "99999999999999999999"),
        case("--version", ""),
        case("--version", "-1"),
        case("--version", "abc"),
    ],
    "rollback": [case("surplus"), case(**BAD_TRACKING), case(MLFLOW_TRACKING_URI="./mlruns")],
    "history": [case("--limit", "0"), case("--limit", "x"), case(**MYSQL)],
    "run": [case("--trials", "0"), case("--set", "source.path=missing.csv"), case(**MYSQL)],
    "evaluate": [
        case("--version", ""),
        case("--version", "99999999999999999999"),
        case(TABOPS_TRACKING_URI="ftp://host/x"),
    ],
    "report": [case("--version", "0"), case("--version", "1.5")],
    "ui": [
        case("--port", "abc", "--print"),
        case("--port", "70000", "--print"),
        case("--port", "0", "--print"),
    ],
    "serve": [
        case("--port", "70000"),
        case("--workers", "0"),
        case("--log-level", "loud"),
        case(**BAD_TRACKING),
    ],
    "shadow": [case(**MYSQL), case("--set", "serve.shadow=1")],
    "monitor run": [
        case("--since", "yesterday"),
        case("--since", "2026-11-02", "--until", "2026-11-01"),
        case("--set", "monitor.window=fortnight"),
        case(**MYSQL),
        case("--data", "postgresql://127.0.0.1/db"),
        case("--data", "data.csv", "--table", "t"),
        case("--data", "postgresql://127.0.0.1/db", "--table", "x; DROP TABLE y"),
        case("--name", "n"),
        case("--data", "data.csv", "--name", "predictions"),
        case("--data", "data.csv", "--name", "a b"),
        case("--data", "missing.parquet"),
        case("--data", "data.csv", "--chunk-rows", "0"),
    ],
    "monitor report": [
        case("--out", "/etc/passwd/x"),
        case("--out", "/nonexistent/dir/report.html"),
        case("--since", "last week"),
        case("--since", "2026-11-02", "--until", "2026-11-01"),
        case(),  # nothing measured yet: run 'tabops monitor run' first
    ],
    "predict": [
        case("--input", "missing.csv", "--output", "out.csv"),
        case("--input", "data.csv", "--output", "out.csv", "--run-date", "tomorrow"),
        case("--input", "data.csv", "--output", "out.csv", "--version", "1", "--alias", "a"),
        case("--input", "data.csv", "--output", "table:x; DROP TABLE y"),
        case("--input", "data.csv", "--output", "table:predictions"),
        case("--input", "data.csv", "--output", "spec-is-a-folder/x/y/out.csv"),
        case("--input", "data.csv", "--output", "/etc/passwd/out.csv"),
        case("--input", "data.csv", "--output", "out.csv", "--rejects", "out.csv"),
        case("--input", "data.csv", "--output", "out.csv", "--table", "t"),
        case("--input", "postgresql://127.0.0.1/db", "--output", "out.csv"),
        case("--input", "data.csv", "--output", "out.csv", "--chunk-rows", "0"),
        case("--input", "data.csv", "--output", "out.csv"),  # no model registered
        case("--input", "data.csv"),
    ],
    "monitor provision": [
        case("--out", "/etc/passwd/x"),
        case("--table", "x; DROP TABLE y"),
        case("--set", "monitor.alerts=[{name: a, metric: entropy, above: 1}]"),
    ],
    "simulate": [
        case(),
        case("--to", "http://example.com"),
        case("--to", ""),
        case("--table", "bad name"),
        case("--table", "t", "--start-date", "2026-13-01"),
        case("--table", "t", "--config", "missing.yaml"),
        case("--table", "t", "--config", "duplicate-keys.yaml"),
        case("--table", "t", "--concurrency", "0"),
        case("--table", "t", "--days", "0"),
        case("--table", "t", "--warmup-days", "-1"),
    ],
    "quarantine list": [case("--status", "weird"), case("--limit", "0"), case(**MYSQL)],
    "quarantine show": [case(), case("abc"), case("999999"), case("99999999999999999999")],
    "quarantine export": [
        case("-o", "/nonexistent/dir/x.csv"),
        case("-o", "/etc/passwd/x"),
        case("-o", "."),
        case("-o", ""),
    ],
    "quarantine replay": [case("missing.csv"), case(""), case("not-fixes.csv")],
    "data history": [case(**MYSQL), case(**HOME_IS_A_FILE)],
    "data batches": [case("--limit", "0"), case("--limit", "-3")],
    "dags write": [
        case(),
        case("--out", "/etc/passwd"),
        case("--out", "/etc/passwd/dags"),
        case("--out", "dags", "--project", "missing-folder"),
        case("--out", "dags", "--project", "duplicate-keys.yaml"),
        case("--out", "dags", "--tabops-bin", " "),
    ],
    "examples export": [
        case("nope", "-o", "x"),
        case("churn"),
        case("churn", "-o", "/etc/passwd/x"),
        case("", "-o", "x"),
    ],
    "rules check": [case("missing.yaml"), case("duplicate-keys.yaml"), case("")],
    "rules backtest": [
        case("--data", "missing.csv", "rules.yaml"),
        case("--data", "data.csv", "missing.yaml"),
        case("--data", "data.csv", "rules.yaml", "--label", "nope"),
        case("--data", "data.csv", "rules.yaml", "--threshold", "2"),
        case("--data", "data.csv", "rules.yaml", "--cost-fp", "x"),
    ],
    "pipeline run": [
        case("daily", "--date", "yesterday"),
        case("daily", "--date", "2026-04-02", "--to", "2026-04-01"),
        case("weekly", "--date", "2026-04-01"),
        case("daily", "--date", "2026-04-01"),  # no orchestration.day in the spec
        case("daily", "--date", "2026-04-01", "--project", "/nonexistent/dir"),
        case("daily", "--date", "2026-04-01", "--set", "orchestration.day.input=days.csv"),
        case("daily", "--date", "2026-04-01", "--set", "orchestration.tasks.nope.retries=1"),
    ],
    "pipeline task": [
        case("daily", "nope", "--date", "2026-04-01"),
        case("weekly", "ingest", "--date", "2026-04-01"),
        case("daily", "score", "--date", "2026-4-1x"),
        case("daily", "ingest", "--date", "2026-04-01"),  # no orchestration.day in the spec
        case(
            "daily",
            "ingest",
            "--date",
            "2026-04-01",
            "--set",
            "orchestration.day.input=missing-{date}.csv",
        ),
        case(
            "daily",
            "score",
            "--date",
            "2026-04-01",
            "--set",
            "orchestration.day.input=data.csv?{date}",
        ),
    ],
    "pipeline retrain": [
        case("--reason", "x", "--date", "someday"),
        case("--reason", "x", "--set", "orchestration.retrain.max_retrains=-1"),
        case("--reason", "x", "--set", "orchestration.retrain.triggers.alerts=[nope]"),
    ],
    "synth fraud": [
        case("--days", "0"),
        case("--format", "xlsx"),
        case("-o", "/etc/passwd"),
        case("--config", "missing.yaml"),
        case("--config", "duplicate-keys.yaml"),
        case("--table", "bad name"),
    ],
}

#: Run as real processes too: the console script's own error handling.
SUBPROCESS = [
    ("init", case("--data", "data.csv", "--target", "label", "--name", "1bad", "-o", "new")),
    ("data history", case(**MYSQL)),
    ("quarantine export", case("-o", "/nonexistent/dir/x.csv")),
]


def _commands() -> dict[str, set[str]]:
    """Every leaf command's words, with the long names of its options."""
    found: dict[str, set[str]] = {}

    def walk(command: object, words: list[str]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, [*words, name])
        else:
            params = getattr(command, "params", [])
            found[" ".join(words)] = {o for p in params for o in p.opts if o.startswith("--")}

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()


#: Valid required arguments, so that the generic cases reach what they test.
REQUIRED: dict[str, tuple[str, ...]] = {
    "promote": ("--version", "1"),
    "dags write": ("--out", "dags"),
    "pipeline run": ("daily", "--date", "2026-04-01"),
    "pipeline task": ("daily", "ingest", "--date", "2026-04-01"),
    "pipeline retrain": ("--reason", "test"),
    "quarantine show": ("1",),
    "quarantine export": ("-o", "fixes.csv"),
    "quarantine replay": ("fixes.csv",),
    "rules backtest": ("--data", "data.csv", "rules.yaml"),
}


def _cases() -> Iterator[tuple[str, Case]]:
    for command, options in sorted(COMMANDS.items()):
        required = REQUIRED.get(command, ())
        yield command, case(*required, "--no-such-option")
        if "--spec" in options:
            yield command, case(*required, "--spec", "missing-folder")
            yield command, case(*required, "--set", "no-equals-sign")
            yield command, case(*required, "--set", "name=")
            yield command, case(*required, "--set", "no_such_key=1")
            yield command, case(*required, "--set", "columns.amount.min=.nan")
        yield from ((command, c) for c in CORPUS.get(command, []))


def test_every_command_has_corpus_entries() -> None:
    assert set(COMMANDS) - set(CORPUS) == set(), "add bad arguments for the new command(s)"
    assert set(CORPUS) - set(COMMANDS) == set(), "the corpus names commands that do not exist"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small project with a spec, data, rules and a few broken files; the current folder."""
    folder = tmp_path_factory.mktemp("bad-arguments")
    rows = "".join(f"{i},{i}.5,{i % 4},red,true,{'yes' if i % 2 else 'no'}\n" for i in range(40))
    (folder / "data.csv").write_text(f"{SMALL_HEADER}\n{rows}")
    (folder / "tabops.yaml").write_text(yaml.safe_dump(small_spec_dict()))
    (folder / "duplicate-keys.yaml").write_text(yaml.safe_dump(small_spec_dict()) + "name: again\n")
    (folder / "rules.yaml").write_text(
        "version: '1'\nrules:\n  - id: big\n    condition: amount > 100\n    action: review\n"
        "    explanation: a big amount\n"
    )
    (folder / "not-fixes.csv").write_text("a,b\n1,2\n")
    (folder / "spec-is-a-folder" / "tabops.yaml").mkdir(parents=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setattr(os, "execv", _refuse_exec)  # 'tabops ui' must not replace pytest
        yield folder


def _refuse_exec(*args: object) -> None:
    raise AssertionError(f"a bad command line was accepted and ran {args}")


def _environment(project: Path, extra: dict[str, str]) -> dict[str, str | None]:
    unset = {name: None for name in os.environ if name.startswith(("TABOPS_", "MLFLOW_"))}
    return {**unset, "TABOPS_HOME": str(project / ".tabops"), "COLUMNS": "200", **extra}


def _assert_user_error(code: int | None, stdout: str, stderr: str) -> None:
    assert code == 2, (stdout, stderr)
    assert "Traceback" not in stdout + stderr, stderr
    assert "Error" in stderr and "Internal error" not in stderr, stderr


@pytest.mark.parametrize(("command", "bad"), list(_cases()), ids=str)
def test_bad_arguments_exit_2_without_traceback(project: Path, command: str, bad: Case) -> None:
    runner = CliRunner()
    with runner.isolation(env=_environment(project, bad.env)) as (stdout, stderr, _):
        try:
            main([*command.split(), *bad.args])
            code: int | None = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        printed = stdout.getvalue().decode(), stderr.getvalue().decode()
    _assert_user_error(code, *printed)


@pytest.mark.parametrize(("command", "bad"), SUBPROCESS, ids=str)
def test_bad_arguments_exit_2_as_a_process(project: Path, command: str, bad: Case) -> None:
    environment = {k: v for k, v in _environment(project, bad.env).items() if v is not None}
    result = subprocess.run(
        [TABOPS, *command.split(), *bad.args],
        cwd=project,
        env={k: v for k, v in os.environ.items() if k not in _environment(project, {})}
        | environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    _assert_user_error(result.returncode, result.stdout, result.stderr)
