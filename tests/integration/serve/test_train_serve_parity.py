"""Train/serve parity on projects made as a user makes them (``tabops init`` on a file): rows cut
from the source file score the same through ``tabops serve`` as through the training pipeline,
whether a client sends them as the CSV has them (``text/csv``), as JSON with the file's own
tokens (``"Yes"``), or as JSON-typed values (``true``).

The generated file has every type ``init`` infers (numbers with missing values, integers, three
spellings of booleans, categories, ISO date-times) and column names with capitals and spaces,
which must be kept as the file has them. The churn and diabetes examples are checked too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabops.data.examples import export_example
from tabops.data.snapshots import read_snapshot
from tabops.model.compile import PARITY_TOLERANCE
from tabops.model.frame import model_frame
from tabops.registry.models import Registry
from tabops.serve.app import create_app
from tabops.settings import Settings
from tabops.spec import ColumnRole, ColumnType, ProjectSpec, load_spec
from tabops.values import BooleanTokens, read_number
from tests.e2e.test_cli import tabops
from tests.integration.serve.conftest import ServedProject, running_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve")]

LIGHTGBM_ONLY = "train.candidates=[{estimator: lightgbm, search: {}}]"


def generated_csv(rows: int = 600, seed: int = 7) -> str:
    """A customer table with every inferred type, quoted fields and a few missing values."""
    rng = np.random.default_rng(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Customer ID", "State", "Student", "Has Card", "Verified", "Balance",
                     "Age", "Signup Date", "Plan, tier", "Default"])  # fmt: skip
    for i in range(rows):
        balance = rng.gamma(2.0, 400.0)
        student = rng.random() < 0.3
        odds = balance / 800 - 1.5 + (0.8 if student else 0) + rng.normal(scale=0.7)
        writer.writerow([
            f"C{i:05d}",
            rng.choice(["CA", "NY", "TX", "New Mexico", "WA"]),
            "Yes" if student else "No",
            int(rng.random() < 0.6),
            rng.choice(["TRUE", "FALSE"]),
            "NA" if rng.random() < 0.05 else f"{balance:.2f}",
            int(rng.integers(18, 90)),
            str(np.datetime64("2024-01-01T00:30") + np.timedelta64(rng.integers(0, 8760), "h"))
            + rng.choice(["", "Z", "+02:00", "-05:00"]),  # mixed offsets: read as UTC
            rng.choice(["basic", "plus, annual", "pro"]),
            "Yes" if odds > 0 else "No",
        ])  # fmt: skip
    return out.getvalue()


@dataclass
class Project:
    """A project made with the CLI, its source lines and the training pipeline's outputs."""

    served: ServedProject
    spec: ProjectSpec
    header: str
    lines: dict[str, str]  # id -> the source file's line for that row
    scores: dict[str, float]  # id -> the pipeline's P(positive), or its prediction (regression)
    predicted: dict[str, Any]  # id -> the pipeline's predict(): what /invocations answers

    @property
    def ids(self) -> list[str]:
        return sorted(self.lines)

    @property
    def regression(self) -> bool:
        return self.spec.task.value == "regression"


def _make(folder: Path, data: str, target: str, *train: str) -> Project:
    for args in (("init", "--data", data, "--target", target),
                 ("ingest",), ("train", "--trials", "1", *train), ("register",)):  # fmt: skip
        result = tabops(*args, cwd=folder)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    served = ServedProject(folder, folder / ".tabops")
    spec = load_spec(folder)
    header, *rows = (folder / data).read_text(encoding="utf-8").splitlines()
    id_columns = spec.columns_with_role(ColumnRole.ID)
    if id_columns:
        position = next(csv.reader([header])).index(id_columns[0])
        lines = {next(csv.reader([line]))[position]: line for line in rows}
    else:  # no id column: rows are matched by position (every row loads, in file order)
        lines = {str(n): line for n, line in enumerate(rows)}

    settings = Settings(home=served.home)
    registry = Registry(settings.mlflow_uri, spec.name)
    version = registry.by_alias("champion")
    assert version is not None
    snapshot = read_snapshot(
        settings.snapshots_dir / spec.name / f"{version.snapshot_hash}.parquet"
    )
    pipeline = registry.load_pipeline(version)
    frame = model_frame(snapshot, spec)
    predicted = pipeline.predict(frame)
    if spec.task.value == "regression":
        scores = predicted
    else:
        classes = [str(c) for c in pipeline.classes_]
        scores = pipeline.predict_proba(frame)[:, classes.index(str(spec.positive_class))]
    if id_columns:
        ids = [str(v) for v in snapshot.column(id_columns[0]).to_pylist()]
    else:
        assert snapshot.num_rows == len(rows)
        ids = [str(n) for n in range(snapshot.num_rows)]
    return Project(
        served,
        spec,
        header,
        lines,
        dict(zip(ids, map(float, scores), strict=True)),
        dict(zip(ids, predicted.tolist(), strict=True)),
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("parity-generated")
    (folder / "customers.csv").write_text(generated_csv(), encoding="utf-8")
    return _make(folder, "customers.csv", "Default", "--set", LIGHTGBM_ONLY)


@pytest.fixture(scope="module", params=["churn", "diabetes"])
def example(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp(f"parity-{request.param}")
    export_example(request.param, folder / "data")
    data = f"data/{request.param}.csv"
    target = {"churn": "churn", "diabetes": "progression"}[request.param]
    return _make(folder, data, target, "--set", LIGHTGBM_ONLY)


@pytest.fixture(scope="module")
def generated_client(generated: Project) -> Iterator[TestClient]:
    app = create_app(generated.spec, Settings(home=generated.served.home))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# -- the three ways a client sends a source row -------------------------------------------------


def _fields(project: Project, ids: list[str]) -> list[dict[str, str]]:
    text = "\n".join([project.header, *(project.lines[i] for i in ids)])
    return list(csv.DictReader(io.StringIO(text)))


def csv_body(project: Project, ids: list[str]) -> str:
    return "\n".join([project.header, *(project.lines[i] for i in ids)]) + "\n"


def json_records(project: Project, ids: list[str], tokens: bool) -> list[dict[str, Any]]:
    """Rows as JSON: numbers as numbers, nulls as null, and booleans as the file's strings
    (``tokens``) or as true/false."""
    spec, nulls = project.spec, set(project.spec.source.csv.null_values)
    records = []
    for fields in _fields(project, ids):
        record: dict[str, Any] = {}
        for name, text in fields.items():
            column = spec.columns[name]
            if column.role not in (ColumnRole.FEATURE, ColumnRole.ID):
                continue
            if text.strip() in nulls:
                record[name] = None
            elif column.type in (ColumnType.NUMERIC, ColumnType.INTEGER):
                record[name] = read_number(text.strip(), column.type == ColumnType.INTEGER)
            elif column.type == ColumnType.BOOLEAN and not tokens:
                record[name] = BooleanTokens.of(column).read(text.strip())
            else:
                record[name] = text
        records.append(record)
    return records


def _predict(post: Any, project: Project, ids: list[str], how: str) -> np.ndarray:
    """Scores for ``ids`` sent as ``how``: ``csv`` (a text/csv body at /invocations, which
    answers predict()), ``tokens`` or ``typed`` (JSON at /predict, which answers scores)."""
    if how == "csv":
        response = post("/invocations", content=csv_body(project, ids),
                        headers={"content-type": "text/csv"})  # fmt: skip
        assert response.status_code == 200, response.text
        answered = response.json()["predictions"]
        expected = [project.predicted[i] for i in ids]
        if project.regression:
            np.testing.assert_allclose(
                answered, expected, rtol=PARITY_TOLERANCE, atol=PARITY_TOLERANCE
            )
        else:  # labels: a score within the compiled model's 1e-5 of 0.5 may round either way
            sure = [abs(project.scores[i] - 0.5) > 1e-4 for i in ids]
            assert [a for a, s in zip(answered, sure, strict=True) if s] == [
                e for e, s in zip(expected, sure, strict=True) if s
            ]
        return np.array([project.scores[i] for i in ids])  # labels only: compared above
    response = post("/predict", json=json_records(project, ids, tokens=how == "tokens"))
    assert response.status_code == 200, response.text
    key = "prediction" if project.regression else "score"
    return np.array([p[key] for p in response.json()["predictions"]])


def expected_scores(project: Project, ids: list[str]) -> np.ndarray:
    return np.array([project.scores[i] for i in ids])


# -- the properties --------------------------------------------------------------------------


def test_init_keeps_the_files_column_names_and_records_boolean_tokens(generated: Project) -> None:
    columns = generated.spec.columns
    assert {"Customer ID", "Has Card", "Signup Date", "Plan, tier"} <= set(columns)
    assert (columns["Student"].true_values, columns["Student"].false_values) == (["Yes"], ["No"])
    assert (columns["Has Card"].true_values, columns["Has Card"].false_values) == (["1"], ["0"])
    assert columns["Verified"].true_values == ["TRUE"]
    assert columns["Balance"].type == ColumnType.NUMERIC and columns["Balance"].nullable
    assert len(generated.scores) == 600, "every generated row must load"


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_source_rows_score_as_in_training_every_way_a_client_sends_them(
    generated: Project, generated_client: TestClient, data: st.DataObject
) -> None:
    ids = data.draw(st.lists(st.sampled_from(generated.ids), min_size=1, max_size=8, unique=True))
    how = data.draw(st.sampled_from(["csv", "tokens", "typed"]))
    scores = _predict(generated_client.post, generated, ids, how)
    np.testing.assert_allclose(
        scores, expected_scores(generated, ids), rtol=PARITY_TOLERANCE, atol=PARITY_TOLERANCE
    )


def test_a_byte_order_mark_and_padding_in_a_csv_body_are_read_as_a_file_is(
    generated: Project, generated_client: TestClient
) -> None:
    ids = generated.ids[:3]
    padded = io.StringIO()
    writer = csv.writer(padded, lineterminator="\n")
    writer.writerow(next(csv.reader([generated.header])))
    for fields in _fields(generated, ids):  # every value with spaces around it, as files have
        writer.writerow([f" {value} " if value else value for value in fields.values()])
    for body in ("\ufeff" + csv_body(generated, ids), padded.getvalue()):
        response = generated_client.post("/invocations", content=body.encode(),
                                         headers={"content-type": "text/csv"})  # fmt: skip
        assert response.status_code == 200, response.text


def test_tokens_the_file_did_not_use_are_refused_naming_the_column_its_own_read_in_any_case(
    generated: Project, generated_client: TestClient
) -> None:
    [record] = json_records(generated, generated.ids[:1], tokens=True)
    for value in ("Y", "true", "maybe", 2, 1.0):
        response = generated_client.post("/predict", json={**record, "Student": value})
        assert response.status_code == 422, (value, response.text)
        message = response.json()["error"]["message"]
        assert "Student" in message and "'Yes' (true) or 'No' (false)" in message
    scores = {}
    for value in ("Yes", "yes", "YES", True, "No", "no", False):  # the file's own, any case
        response = generated_client.post("/predict", json={**record, "Student": value})
        assert response.status_code == 200, (value, response.text)
        scores[value] = response.json()["score"]
    assert scores["yes"] == scores["YES"] == scores["Yes"] == scores[True]
    assert scores["no"] == scores["No"] == scores[False]
    accepted = generated_client.post("/predict", json={**record, "Has Card": 1})
    assert accepted.status_code == 200, accepted.text  # the file's own 0/1


def _through_tabops_serve(project: Project, ids: list[str]) -> None:
    """``ids`` sent every way to a real ``tabops serve`` score as the training pipeline does."""
    with running_server(project.served) as server, httpx.Client(base_url=server.url) as client:
        for how in ("csv", "tokens", "typed"):
            scores = _predict(client.post, project, ids, how)
            np.testing.assert_allclose(
                scores, expected_scores(project, ids), rtol=PARITY_TOLERANCE, atol=PARITY_TOLERANCE
            )


def test_examples_score_identically_through_tabops_serve(example: Project) -> None:
    _through_tabops_serve(example, example.ids[:40])


def test_generated_project_scores_identically_through_tabops_serve(generated: Project) -> None:
    _through_tabops_serve(generated, generated.ids[::20])


def test_oip_tensors_carry_the_files_tokens_and_score_as_json_does(
    generated: Project, generated_client: TestClient
) -> None:
    ids = generated.ids[:5]
    records = json_records(generated, ids, tokens=True)
    datatypes = {ColumnType.NUMERIC: "FP64", ColumnType.INTEGER: "INT64"}
    inputs = [
        {"name": name, "shape": [len(ids)], "data": [r[name] for r in records],
         "datatype": datatypes.get(generated.spec.columns[name].type, "BYTES")}
        for name in generated.spec.columns_with_role(ColumnRole.FEATURE)
    ]  # fmt: skip
    [student] = [i["data"] for i in inputs if i["name"] == "Student"]
    assert set(student) <= {"Yes", "No"}  # the file's tokens, sent as BYTES
    response = generated_client.post(
        f"/v2/models/{generated.spec.name}/infer", json={"inputs": inputs}
    )
    assert response.status_code == 200, response.text
    [score] = [o for o in response.json()["outputs"] if o["name"] == "score"]
    np.testing.assert_allclose(
        score["data"], expected_scores(generated, ids), rtol=PARITY_TOLERANCE, atol=PARITY_TOLERANCE
    )
