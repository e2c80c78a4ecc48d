from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabops.data.contract import check_contract, parse_strings
from tabops.data.infer import infer_spec, suggest_name
from tabops.data.sources import read_file
from tabops.errors import DataError
from tabops.spec import ColumnRole, ColumnType, ContractSpec, SourceSpec, Task

SOURCE = SourceSpec(path="data.csv")


def _table() -> pa.Table:
    n = 60
    return pa.table(
        {
            "customer_id": [str(1000 + i) for i in range(n)],
            "signup_date": [f"2026-01-{1 + i % 28:02d}" for i in range(n)],
            "age": [str(20 + i % 50) for i in range(n)],
            "balance": [f"{i * 1.5:.2f}" if i % 10 else "" for i in range(n)],
            "plan": ["basic" if i % 3 else "pro" for i in range(n)],
            "is_member": ["yes" if i % 2 else "no" for i in range(n)],
            "country": ["NL"] * n,
            "note": [f"customer {i} wrote a long and winding comment number {i}" for i in range(n)],
            "churned": ["Yes" if i % 4 == 0 else "No" for i in range(n)],
        }
    )


def test_roles_types_and_reasons() -> None:
    inference = infer_spec(_table(), SOURCE, target="churned", task=None, name="demo")
    spec, reasons = inference.spec, inference.reasons
    cols = spec.columns
    assert spec.task is Task.CLASSIFICATION and spec.positive_class == "Yes"
    assert (cols["customer_id"].role, cols["customer_id"].type) == (
        ColumnRole.ID,
        ColumnType.INTEGER,
    )
    assert reasons["customer_id"] == "id, unique integer"
    assert (cols["signup_date"].role, cols["signup_date"].type) == (
        ColumnRole.TIMESTAMP,
        ColumnType.DATETIME,
    )
    assert "no model input: set role: feature to give the model its parts" in reasons["signup_date"]
    assert cols["age"].type is ColumnType.INTEGER and cols["age"].min == 0
    assert cols["balance"].type is ColumnType.NUMERIC and cols["balance"].nullable
    assert "6 missing" in reasons["balance"]
    assert cols["plan"].categories == ["basic", "pro"]
    assert cols["is_member"].type is ColumnType.BOOLEAN
    assert cols["country"].role is ColumnRole.IGNORED and "constant" in reasons["country"]
    assert cols["note"].type is ColumnType.TEXT
    assert cols["churned"].role is ColumnRole.TARGET
    assert cols["age"].observed is not None and cols["age"].observed.max == 69


def test_inferred_contract_accepts_its_own_data() -> None:
    table = _table()
    spec = infer_spec(table, SOURCE, target="churned", task=None, name="demo").spec
    result = check_contract(table, spec)
    assert result.bad_index.tolist() == [] and result.drift == []


def test_regression_is_inferred_for_many_numeric_values() -> None:
    table = pa.table(
        {"x": [str(i) for i in range(50)], "y": [f"{i * 0.37 + i % 7 * 3:.3f}" for i in range(50)]}
    )
    spec = infer_spec(table, SOURCE, target="y", task=None, name="r").spec
    assert spec.task is Task.REGRESSION and spec.positive_class is None
    reason = infer_spec(table, SOURCE, target="y", task=None, name="r").reasons["y"]
    # No note on values rare as classes; a negative value later is a defect, as for features.
    assert reason == "target, numeric, regression; min 0 enforced (no negative values seen)"
    assert spec.columns["y"].min == 0
    signed = table.set_column(1, "y", pa.array([f"{i * 0.37 - 9:.3f}" for i in range(50)]))
    assert infer_spec(signed, SOURCE, target="y", task=None, name="r").spec.columns["y"].min is None


def _counts(rows: dict[str, int]) -> pa.Table:
    y = [value for value, n in rows.items() for _ in range(n)]
    return pa.table({"x": [str(i % 7) for i in range(len(y))], "y": y})


def test_counts_too_rare_to_learn_as_classes_are_a_regression() -> None:
    # Doctor visits 0-9, one patient with 9 (R's DoctorAUS): no split can hold a 9 out.
    table = _counts({"0": 400, "1": 80, "2": 20, "3": 6, "9": 1})
    inference = infer_spec(table, SOURCE, target="y", task=None, name="visits")
    assert inference.spec.task is Task.REGRESSION
    assert inference.spec.columns["y"].type is ColumnType.INTEGER
    assert "'9' has 1 row, too few to learn as a class" in inference.reasons["y"]
    kept = infer_spec(table, SOURCE, target="y", task=Task.CLASSIFICATION, name="visits")
    assert kept.spec.task is Task.CLASSIFICATION  # the user's choice holds, with the reason
    assert kept.spec.columns["y"].categories == ["0", "1", "2", "3"]
    assert "'9' has 1 row, too few to hold out for testing: left out" in kept.reasons["y"]


def test_a_few_values_with_fractions_are_a_quantity_not_classes() -> None:
    # A health survey's share of a state (0.04 ... 0.26): 12 values, measured, not classes.
    table = _counts({f"0.{n:02d}": 3 for n in range(4, 28, 2)})
    inference = infer_spec(table, SOURCE, target="y", task=None, name="share")
    assert inference.spec.task is Task.REGRESSION
    assert "values with fractions, a quantity" in inference.reasons["y"]
    stars = _counts({f"{n / 2:g}": 30 for n in range(2, 11)})  # 1, 1.5, ... 5: nine values
    assert infer_spec(stars, SOURCE, target="y", task=None, name="s").spec.task is Task.REGRESSION
    ratings = _counts({str(n): 30 for n in range(1, 10)})  # whole numbers: classes
    assert infer_spec(ratings, SOURCE, target="y", task=None, name="r").spec.task is (
        Task.CLASSIFICATION
    )


def test_a_class_no_split_can_test_is_left_out_and_its_rows_quarantined() -> None:
    # R's gap PD: one '4/4' genotype among hundreds; training stopped at the test split.
    table = _counts({"a": 400, "b": 80, "c": 30, "d": 1})
    inference = infer_spec(table, SOURCE, target="y", task=None, name="genes")
    assert inference.spec.columns["y"].categories == ["a", "b", "c"]
    assert "columns.y.categories once there are 5 or more rows of it" in inference.reasons["y"]
    result = check_contract(table, inference.spec)
    assert result.bad_index.tolist() == [510]  # the 'd' row, quarantined with its reason
    assert result.reasons[510][0].column == "y"
    two = infer_spec(_counts({"a": 400, "b": 80, "d": 1}), SOURCE, target="y", task=None,
                     name="left_binary")  # fmt: skip
    assert two.spec.columns["y"].categories == ["a", "b"] and two.spec.positive_class == "b"
    binary = infer_spec(_counts({"a": 400, "d": 1}), SOURCE, target="y", task=None, name="b")
    assert binary.spec.columns["y"].categories == ["a", "d"]  # one class would be left
    assert "too few to test and train on: ingest more" in binary.reasons["y"]


@pytest.mark.parametrize(
    "rows",
    [
        {"0": 400, "1": 80, "2": 20, "3": 5},  # every count has the rows training needs
        {"0": 400, "1": 80, "2.5": 2},  # not whole numbers: classes of measurements
        {"a": 400, "b": 80, "c": 1},  # names: classes, whatever their rows
        {"0": 400, "1": 1},  # binary: never a regression
    ],
)
def test_other_targets_with_rare_values_stay_classes(rows: dict[str, int]) -> None:
    table = _counts(rows)
    spec = infer_spec(table, SOURCE, target="y", task=None, name="c").spec
    assert spec.task is Task.CLASSIFICATION


def test_minority_class_is_positive_without_a_telling_name() -> None:
    table = pa.table({"x": ["1", "2", "3", "4"], "y": ["cat", "dog", "dog", "dog"]})
    spec = infer_spec(table, SOURCE, target="y", task=None, name="pets").spec
    assert spec.positive_class == "cat"


@pytest.mark.parametrize(
    ("labels", "positive"),
    [(["0", "1", "0", "0"], "1"), (["1", "2", "1", "1"], "2"), (["Y", "N", "N", "N"], "Y"),
     (["Y", "X", "X", "X"], "Y"), (["1", "Y", "1", "1"], "Y")],
)  # fmt: skip
def test_a_digit_or_letter_is_positive_beside_its_opposite_only(
    labels: list[str], positive: str
) -> None:
    """German credit codes its loans 1 (good, the majority) and 2 (bad): a code, not a yes."""
    table = pa.table({"x": ["1", "2", "3", "4"], "y": labels})
    assert infer_spec(table, SOURCE, target="y", task=None, name="t").spec.positive_class == (
        positive
    )


@pytest.mark.parametrize(
    ("table", "target", "task", "message"),
    [
        (pa.table({"x": ["1", "2"], "y": ["a", "a"]}), "y", None, "single value"),
        (pa.table({"x": ["1", "2"], "y": ["a", "b"]}), "z", None, "'z' is not in the data"),
        (pa.table({"x": ["1", "2"], "y": ["NA", ""]}), "y", None, "no value at all"),
        (
            pa.table({"x": ["1", "2", "3"], "y": ["1", "", ""]}),  # a flag: 1 or blank
            "y",
            None,
            r"single value.* It is '1' in 1 rows and missing in 2: if a missing value means",
        ),
        (pa.table({"x": ["1", "2"], "y": ["a", "b"]}), "y", Task.REGRESSION, "numeric target"),
        (
            pa.table({"Yr Mo Dy   RPT   VAL": ["61  1  1 15.04 14.96"] * 2}),
            "RPT",
            None,
            r"aligned with spaces.*sep=r'\\s\+'",
        ),
        (
            pa.table(
                {"x": [str(i) for i in range(404)], "y": [f"topic {i % 101}" for i in range(404)]}
            ),
            "y",
            Task.CLASSIFICATION,
            r"101 distinct values: a classifier takes at most 100\. Group the rarest values",
        ),
        (
            pa.table({"x": pa.array([], pa.string()), "y": pa.array([], pa.string())}),
            "y",
            None,
            "no rows",
        ),
    ],
)
def test_user_mistakes(table: pa.Table, target: str, task: Task | None, message: str) -> None:
    with pytest.raises(DataError, match=message):
        infer_spec(table, SOURCE, target=target, task=task, name="x")


def test_the_target_is_found_by_its_trimmed_name_or_suggested() -> None:
    # The reader trims header names: 'Life expectancy ' as the file writes it is that column.
    years = [f"{60 + (i * 7) % 40 * 0.7:.1f}" for i in range(40)]
    table = pa.table({"x": [str(i) for i in range(40)], "Life expectancy": years})
    spec = infer_spec(table, SOURCE, target="Life expectancy ", task=None, name="x").spec
    assert spec.target == "Life expectancy"
    with pytest.raises(DataError, match="Did you mean 'Life expectancy'"):
        infer_spec(table, SOURCE, target="life expectancy", task=None, name="x")
    with pytest.raises(DataError, match="Did you mean 'x'") as caught:
        infer_spec(table, SOURCE, target="X", task=None, name="x")
    assert "Columns: x, Life expectancy." in str(caught.value)


def test_none_read_as_missing_among_words_is_noted() -> None:
    # Cars93's AirBags: 'None' is a car without airbags, not an unknown; in a number column it
    # is a missing number, and no note.
    n = 60
    table = pa.table({
        "airbags": [["None", "Driver only", "Driver & Passenger"][i % 3] for i in range(n)],
        "weight": ["None" if i % 10 == 0 else str(2000 + i) for i in range(n)],
        "price": [f"{10 + (i * 7) % 30:.1f}" for i in range(n)],
    })  # fmt: skip
    notes = infer_spec(table, SOURCE, target="price", task=None, name="cars").notes
    [note] = [n for n in notes if "'None' is read as missing" in n]
    assert "'airbags' (20 rows)" in note and "weight" not in note
    assert "remove 'None' from source.csv.null_values" in note


def test_none_that_the_target_holds_as_a_class_is_a_class_there_and_missing_elsewhere() -> None:
    # Bird strikes: damage 'None' in most rows is an answer; read as a missing label it left
    # training the damaged rows alone. In 'height' it still means no number.
    n = 60
    table = pa.table({
        "damage": ["None" if i % 3 else ["Minor", "Substantial"][i % 2] for i in range(n)],
        "height": ["None" if i % 10 == 0 else str(100 + i) for i in range(n)],
        "speed": [str(80 + (i * 7) % 40) for i in range(n)],
    })  # fmt: skip
    result = infer_spec(table, SOURCE, target="damage", task=None, name="birds")
    spec = result.spec
    assert spec.columns["damage"].categories == ["Minor", "None", "Substantial"]
    assert not spec.columns["damage"].nullable  # every row has a label
    assert "None" not in spec.source.csv.null_values
    assert spec.columns["height"].null_values == ["None"]  # still no number there
    assert any("'None' (40 rows) is a class of the target 'damage'" in n for n in result.notes)
    checked = check_contract(table, spec)
    assert checked.bad_index.tolist() == [] and checked.good.column("height").null_count == 6


def test_a_unique_id_missing_in_a_row_is_not_said_to_repeat() -> None:
    # A survey's second header row left its RespondentID blank: no id repeats.
    n = 120
    table = pa.table({
        "RespondentID": [""] + [str(3_000_000 + 7 * i) for i in range(n - 1)],
        "x": [str(i % 5) for i in range(n)],
        "y": ["a", "b"] * (n // 2),
    })  # fmt: skip
    reason = infer_spec(table, SOURCE, target="y", task=None, name="s").reasons["RespondentID"]
    assert reason.startswith("ignored: named like an id, but missing in 1 rows")
    assert "repeats" not in reason


def test_rows_without_a_label_load_and_widen_no_quarantine_limit() -> None:
    # R writes an unknown label as NA: the file is ordinary, those rows just cannot teach.
    n = 400
    table = pa.table(
        {
            "x": [str(i % 7) for i in range(n)],
            "vote": ["NA" if i % 10 == 0 else ("Y" if i % 3 else "N") for i in range(n)],
        }
    )
    inference = infer_spec(table, SOURCE, target="vote", task=None, name="x")
    reason = "40 rows have no label: they load, and training leaves them out"
    assert reason in inference.reasons["vote"]
    assert inference.spec.columns["vote"].nullable
    assert check_contract(table, inference.spec).bad_index.size == 0
    assert inference.quarantined == 0
    assert inference.spec.contract.max_quarantine_rate == ContractSpec().max_quarantine_rate


def test_row_numbers_are_ids_whatever_the_file_order_tells() -> None:
    # Rows numbered as R and pandas write them: as features, the numbers would only tell
    # where a row sits in the file (the label, when the file is sorted by it).
    n = 300
    rng = random.Random(0)
    table = pa.table(
        {
            "rownames": [str(61617 + 3 * i) for i in range(n)],  # R keeps the names of a subset
            "n": [str(i + 1) for i in range(n)],
            "step": [str(i) for i in range(0, 2 * n, 2)],  # counts by two: a feature
            "x": [str(i % 5) for i in range(n)],
            "y": [rng.choice(["no", "yes"]) for _ in range(n)],
        }
    )
    inference = infer_spec(table, SOURCE, target="y", task=None, name="x")
    cols, reasons = inference.spec.columns, inference.reasons
    assert (cols["rownames"].role, cols["n"].role) == (ColumnRole.ID, ColumnRole.ID)
    assert reasons["rownames"] == "id, unique integer named like row numbers"
    assert reasons["n"] == "id, row number (1 to 300 down the file)"
    assert cols["step"].role is ColumnRole.FEATURE and cols["x"].role is ColumnRole.FEATURE
    # A serial number with gaps (a patient list's 'No', 1 to 4,326 but for a few).
    serial = pa.table(
        {"No": [str(i + i // 50) for i in range(n)], "x": table["x"], "y": table["y"]}
    )
    numbered = infer_spec(serial, SOURCE, target="y", task=None, name="x")
    assert numbered.spec.columns["No"].role is ColumnRole.ID
    few = pa.table({"n": [str(i) for i in range(50)], "y": [str(i % 2) for i in range(50)]})
    spec = infer_spec(few, SOURCE, target="y", task=None, name="x").spec
    assert spec.columns["n"].role is ColumnRole.FEATURE  # 50 rows: maybe a real step number


def test_an_id_column_with_repeats_is_ignored_not_a_feature() -> None:
    n = 200
    rng = random.Random(0)
    ids = [str(1_000_000 + i * 37) for i in range(n)]
    ids[10] = ids[11] = ids[12]  # a sample measured three times
    table = pa.table(
        {
            "ID": ids,
            "store_id": [str(i % 12) for i in range(n)],  # few distinct: a feature
            "y": [rng.choice("ab") for _ in range(n)],
        }
    )
    inference = infer_spec(table, SOURCE, target="y", task=None, name="x")
    cols = inference.spec.columns
    assert cols["ID"].role is ColumnRole.IGNORED
    assert (
        inference.reasons["ID"]
        == "ignored: named like an id, with repeats (198 distinct in 200 values)"
    )
    assert cols["store_id"].role is ColumnRole.FEATURE


@pytest.mark.parametrize("name", ["Unique Key", "customer_key", "Customer id"])
def test_a_unique_integer_named_like_a_key_is_the_id(name: str) -> None:
    # NYC 311's 'Unique Key': unique integers that do not count from 0 or 1
    rng = random.Random(4)
    keys = rng.sample(range(31_000_000, 32_000_000), 200)
    table = pa.table(
        {name: [str(k) for k in keys], "x": [str(rng.random()) for _ in keys],
         "y": [rng.choice("ab") for _ in keys]}
    )  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="keys")
    assert inference.spec.columns[name].role is ColumnRole.ID


@pytest.mark.parametrize("name", ["id", "nr", "Tuna.hid", "household_id"])
def test_the_key_of_many_groups_of_rows_is_ignored(name: str) -> None:
    # R's VerbAgg, Males, Tuna: 300 subjects or households, each on many rows.
    n = 3000
    rng = random.Random(0)
    table = pa.table(
        {name: [str(i // 10) for i in range(n)], "x": [str(rng.random()) for _ in range(n)],
         "y": [rng.choice("ab") for _ in range(n)]}
    )  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="panel")
    assert inference.spec.columns[name].role is ColumnRole.IGNORED
    assert inference.reasons[name] == (
        "ignored: named like an id, with repeats (300 distinct in 3,000 values)"
    )


def test_a_unique_sequence_number_is_the_id() -> None:
    n = 200  # R's nwtco: seqno 1..4088 with gaps
    seqno = [str(3 * i + 1) for i in range(n)]
    table = pa.table({"seqno": seqno, "x": [str(i % 7) for i in range(n)], "y": ["a", "b"] * 100})
    inference = infer_spec(table, SOURCE, target="y", task=None, name="s")
    assert inference.spec.columns["seqno"].role is ColumnRole.ID


def test_zero_padded_codes_stay_strings() -> None:
    n = 200
    rng = random.Random(0)
    table = pa.table(
        {
            "provnum": [rng.choice(["030001", "030002", "031010", "112001"]) for _ in range(n)],
            "count": [str(rng.randint(0, 120)) for _ in range(n)],  # a '0' alone is a number
            "y": [rng.choice("ab") for _ in range(n)],
        }
    )
    inference = infer_spec(table, SOURCE, target="y", task=None, name="x")
    cols = inference.spec.columns
    assert cols["provnum"].type is ColumnType.CATEGORICAL
    assert cols["provnum"].categories == ["030001", "030002", "031010", "112001"]
    assert "zero-padded codes such as '030001'" in inference.reasons["provnum"]
    assert cols["count"].type is ColumnType.INTEGER
    assert check_contract(table, inference.spec).bad_index.tolist() == []


def test_churn_example(churn_data: Path) -> None:
    batch = read_file(churn_data / "churn.csv")
    inference = infer_spec(batch.table, SOURCE, target="churn", task=None, name="churn")
    cols = inference.spec.columns
    assert inference.spec.positive_class == "Yes"
    assert cols["customer_id"].role is ColumnRole.ID
    assert cols["total_charges"].nullable and cols["total_charges"].type is ColumnType.NUMERIC
    assert cols["contract"].categories == ["Month-to-month", "One year", "Two year"]
    assert len(cols) == 21


def test_suggest_name() -> None:
    assert suggest_name("WA_Fn-UseC_-Telco-Customer-Churn") == "WA_Fn-UseC_-Telco-Customer-Churn"
    assert suggest_name("2024 data!") == "p-2024-data"


NOT_A_NUMBER = ["inf", "1e999", "-Infinity", "five", "12a", "1,5,0", "--1", "1-2"]


@given(
    rows=st.integers(100, 400),
    seed=st.integers(0, 2**32 - 1),
    integers=st.booleans(),
    bad=st.lists(st.sampled_from(NOT_A_NUMBER), min_size=1, max_size=8),
)
@settings(max_examples=60, deadline=None)
def test_a_few_cells_that_are_no_number_keep_a_column_numeric(
    rows: int, seed: int, integers: bool, bad: list[str]
) -> None:
    rng = random.Random(seed)  # the values; Hypothesis draws the shape and the spoiled cells
    cells = [
        str(rng.randint(0, 10**6)) if integers else repr(rng.uniform(0, 1e6)) for _ in range(rows)
    ]
    for token, row in zip(bad, rng.sample(range(rows), len(bad)), strict=True):
        cells[row] = token
    table = pa.table(
        {"amount": cells, "plan": ["basic", "pro"] * (rows // 2) + ["basic"] * (rows % 2),
         "y": [rng.choice("ab") for _ in range(rows - 2)] + ["a", "b"]}
    )  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    column, reason = inference.spec.columns["amount"], inference.reasons["amount"]
    if len(bad) <= rows // 100:
        assert column.type is (ColumnType.INTEGER if integers else ColumnType.NUMERIC)
        assert column.role is ColumnRole.FEATURE
        verb = "is" if len(bad) == 1 else "are"
        assert f"; {len(bad):,} of {rows:,} values {verb} not a number: " in reason
        assert inference.quarantined == len(bad)  # the contract quarantines those rows
        assert inference.spec.contract.max_quarantine_rate == 0.05  # the default lets them in
    else:
        assert column.type not in (ColumnType.NUMERIC, ColumnType.INTEGER)


def test_a_file_with_many_bad_rows_gets_a_quarantine_rate_that_lets_it_in() -> None:
    n = 400  # four number columns, each with 1% bad cells in different rows: 4% + 3 rejects
    columns = {f"x{c}": [str(i) if i % 100 != c else "inf" for i in range(n)] for c in range(4)}
    table = pa.table(columns | {"y": ["a", "b"] * (n // 2)})
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n", rejected=20)
    assert inference.quarantined == 16
    assert inference.spec.contract.max_quarantine_rate == 0.10  # 36 of 420 rows: 8.6% + 1
    assert "36 of 420 rows of this file are bad" in inference.notes[0]


PLACEHOLDERS = ["-", "--", ".", "*", "—", "…"]


@given(
    rows=st.integers(100, 300),
    seed=st.integers(0, 2**32 - 1),
    share=st.floats(0.001, 0.9),
    marks=st.lists(st.sampled_from(PLACEHOLDERS), min_size=1, max_size=3, unique=True),
)
@settings(max_examples=40, deadline=None)
def test_placeholders_among_numbers_are_missing_values_however_many(
    rows: int, seed: int, share: float, marks: list[str]
) -> None:
    rng = random.Random(seed)
    cells = [f"{rng.uniform(0, 1e4):.2f}" for _ in range(rows)]
    spoiled = rng.sample(range(rows), max(1, min(rows - 1, round(share * rows))))
    for row in spoiled:
        cells[row] = rng.choice(marks)
    used = sorted({cells[row] for row in spoiled})
    table = pa.table({"amount": cells, "y": ["a", "b"] * (rows // 2) + ["a"] * (rows % 2)})
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    column = inference.spec.columns["amount"]
    assert (column.type, column.role, column.nullable) == (
        ColumnType.NUMERIC, ColumnRole.FEATURE, True,
    )  # fmt: skip
    null_values = inference.spec.source.csv.null_values
    assert null_values[-len(used) :] == used and SOURCE.csv.null_values != null_values
    assert f"{len(spoiled)} missing" in inference.reasons["amount"]
    assert inference.quarantined == 0  # every row is kept
    assert any("amount holds" in note for note in inference.notes)
    assert check_contract(table, inference.spec).bad_index.size == 0


def test_a_placeholder_some_column_holds_as_a_value_is_missing_among_numbers_alone() -> None:
    n = 400  # a strand column of '+' and '-': its '-' is a value, the amounts' '-' no number
    rng = random.Random(3)
    table = pa.table(
        {
            "amount": [str(i) if i % 100 else "-" for i in range(n)],
            "strand": [rng.choice("+-") for _ in range(n)],
            "y": ["a", "b"] * (n // 2),
        }
    )
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    assert inference.spec.source.csv.null_values == SOURCE.csv.null_values
    assert inference.spec.columns["strand"].categories == ["+", "-"]
    amount = inference.spec.columns["amount"]
    assert (amount.type, amount.null_values) == (ColumnType.INTEGER, ["-"])
    assert "'-' read as missing here (4 rows" in inference.reasons["amount"]
    assert inference.quarantined == 0


@given(
    rows=st.integers(100, 300),
    seed=st.integers(0, 2**32 - 1),
    share=st.floats(0.001, 0.9),
    words=st.lists(
        st.sampled_from(["Unknown", "unknown", "not available", "N.A.", "#VALUE!", "missing"]),
        min_size=1, max_size=3, unique=True,
    ),
)  # fmt: skip
@settings(max_examples=30, deadline=None)
def test_words_for_no_value_among_numbers_are_missing_in_that_column_alone(
    rows: int, seed: int, share: float, words: list[str]
) -> None:
    rng = random.Random(seed)
    ages = [str(rng.randint(18, 90)) for _ in range(rows)]
    spoiled = rng.sample(range(rows), max(1, min(rows - 1, round(share * rows))))
    for row in spoiled:
        ages[row] = rng.choice(words)
    used = sorted({ages[row] for row in spoiled})
    race = [rng.choice(["Unknown", "White", "Black"]) for _ in range(rows)]
    labels = ["a", "b"] * (rows // 2) + ["a"] * (rows % 2)
    table = pa.table({"age": ages, "race": race, "y": labels})
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    assert inference.spec.name == "n"  # the project's name, not a column's
    age = inference.spec.columns["age"]
    assert (age.type, age.role, age.nullable, age.null_values) == (
        ColumnType.INTEGER, ColumnRole.FEATURE, True, used,
    )  # fmt: skip
    assert f"read as missing here ({len(spoiled):,} row" in inference.reasons["age"]
    assert inference.spec.source.csv.null_values == SOURCE.csv.null_values
    assert "Unknown" in (inference.spec.columns["race"].categories or [])  # a category there
    assert inference.quarantined == 0
    assert check_contract(table, inference.spec).good.column("age").null_count == len(spoiled)


def test_words_for_no_value_among_dates_and_labels_are_missing_there() -> None:
    n = 200
    table = pa.table({
        "seen": ["Unknown" if i % 10 == 0 else f"03/{1 + i % 28:02d}/2024" for i in range(n)],
        "colour": ["Unknown", "red"] * (n // 2),
        "price": ["unknown" if i % 7 == 0 else str(i * 3 % 101) for i in range(n)],
    })  # fmt: skip
    inference = infer_spec(table, SOURCE, target="price", task=None, name="n")
    seen, price = inference.spec.columns["seen"], inference.spec.columns["price"]
    assert (seen.type, seen.format, seen.null_values) == (
        ColumnType.DATETIME, "%m/%d/%Y", ["Unknown"],
    )  # fmt: skip
    assert inference.spec.columns["colour"].null_values is None  # words alone: a category
    assert (inference.spec.task, price.nullable, price.null_values) == (
        Task.REGRESSION, True, ["unknown"],
    )  # fmt: skip
    assert "29 rows have no label" in inference.reasons["price"]
    assert inference.quarantined == 0


def test_placeholders_and_words_for_no_value_in_one_column_leave_every_column_numeric() -> None:
    n = 300
    table = pa.table({
        "pct": ["-" if i % 10 == 0 else f"{i % 97}.5%" for i in range(n)],
        "both": ["-" if i % 10 == 1 else "Unknown" if i % 10 == 2 else str(i) for i in range(n)],
        "y": ["a", "b"] * (n // 2),
    })  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    pct, both = inference.spec.columns["pct"], inference.spec.columns["both"]
    assert (pct.type, pct.units, pct.role) == (ColumnType.NUMERIC, ["%"], ColumnRole.FEATURE)
    assert (both.type, both.null_values) == (ColumnType.INTEGER, ["Unknown"])
    assert inference.spec.source.csv.null_values[-1] == "-" and inference.quarantined == 0


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["238,5", "17,25"] + [str(i) for i in range(398)], (",", ".", None)),  # 0.5% decimals
        (["0"] * 92 + ["$4.99", "$12.50"] * 4, (".", None, ["$"])),  # free items, then prices
    ],
)
def test_a_number_syntax_reading_every_value_wins_over_one_within_the_tolerance(
    values: list[str], expected: tuple[str, str | None, list[str] | None]
) -> None:
    table = pa.table({"v": values, "y": ["a", "b"] * (len(values) // 2)})
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    column = inference.spec.columns["v"]
    assert column.type == ColumnType.NUMERIC, inference.reasons["v"]
    assert (column.decimal, column.thousands, column.units) == expected
    assert inference.quarantined == 0


def test_day_month_abbreviation_and_two_digit_year_dates_and_float_written_ids() -> None:
    n = 120
    table = pa.table({
        "id": [f"{42932 + 7 * i}.0" for i in range(n - 1)] + ["1.1898e+18"],
        "updated": [f"{1 + i % 28:02d}-{['Jan', 'Feb', 'Mar'][i % 3]}-18" for i in range(n)],
        "x": [str(i % 7) for i in range(n)],
        "y": ["a", "b"] * (n // 2),
    })  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    key, updated = inference.spec.columns["id"], inference.spec.columns["updated"]
    assert (key.role, key.type, key.unique) == (ColumnRole.ID, ColumnType.CATEGORICAL, True)
    assert (updated.type, updated.format) == (ColumnType.DATETIME, "%d-%b-%y")
    assert inference.quarantined == 0


@pytest.mark.parametrize(("rows", "bad"), [(400, 1), (400, 4), (400, 5), (99, 1)])
def test_dates_with_at_most_one_percent_of_other_values_are_dates_those_rows_quarantined(
    rows: int, bad: int
) -> None:
    days = [f"{1 + i % 28:02d}-{['Jan', 'Feb', 'Mar'][i % 3]}-18" for i in range(rows)]
    days[3 : 3 + bad] = ["1.0.19", "Everyone"] * (bad // 2) + ["1.0.19"] * (bad % 2)
    table = pa.table({"day": days, "x": [str(i % 7) for i in range(rows)],
                      "y": (["a", "b"] * rows)[:rows]})  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    column = inference.spec.columns["day"]
    if bad <= rows // 100 and rows >= 100:  # 1% of 100 rows or more
        assert (column.type, column.format) == (ColumnType.DATETIME, "%d-%b-%y")
        assert (
            f"{bad} of {rows} values {'is' if bad == 1 else 'are'} not a date"
            in (inference.reasons["day"])
        )
        assert inference.quarantined == bad
    else:
        assert column.type != ColumnType.DATETIME


def test_dates_written_two_ways_are_read_both_ways() -> None:
    # netflix titles' date_added: 98.9% '14-Aug-20', the rest ' July 1, 2017'
    rows = 300
    days = [f"{1 + i % 28:02d}-{['Jan', 'Feb', 'Mar'][i % 3]}-18" for i in range(rows - 6)]
    days += [" July 1, 2017", " December 15, 2017", " March 2, 2019"] * 2
    days[10] = "soon"
    table = pa.table({"day": days, "x": [str(i % 7) for i in range(rows)],
                      "y": (["a", "b"] * rows)[:rows]})  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    column = inference.spec.columns["day"]
    assert (column.type, column.format) == (ColumnType.DATETIME, ["%d-%b-%y", "%B %d, %Y"])
    assert (
        "%d-%b-%y values, and 6 written %B %d, %Y); 1 of 300 values is not a date"
        in (inference.reasons["day"])
    )
    assert inference.quarantined == 1


def test_month_first_and_day_first_dates_in_one_column_are_not_read_two_ways() -> None:
    # 12/03/2020 would be read as December by one format and as March by the other
    rows = 200
    days = [f"03/{13 + i % 15}/2020" for i in range(rows - 40)]
    days += [f"{13 + i % 15}/03/2020" for i in range(40)]
    table = pa.table({"day": days, "x": [str(i % 7) for i in range(rows)],
                      "y": (["a", "b"] * rows)[:rows]})  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    assert inference.spec.columns["day"].type != ColumnType.DATETIME


def test_months_without_a_day_are_dates_in_a_column_named_like_one() -> None:
    # SNCF's monthly regularity: Date is 2018-01 ... 2022-12
    months = [f"{2018 + i // 12}-{1 + i % 12:02d}" for i in range(60)] * 2
    rows = len(months)
    table = pa.table({"Date": months, "code": months, "x": [str(i % 7) for i in range(rows)],
                      "y": (["a", "b"] * rows)[:rows]})  # fmt: skip
    spec = infer_spec(table, SOURCE, target="y", task=None, name="n").spec
    date = spec.columns["Date"]
    assert (date.type, date.format, date.role) == (
        ColumnType.DATETIME,
        "%Y-%m",
        ColumnRole.TIMESTAMP,
    )
    assert spec.columns["code"].type != ColumnType.DATETIME  # '2018-01' may as well be a code


@pytest.mark.parametrize(
    ("days", "expected", "other"),
    [
        # a monthly series dated on the 1st, written day first: 01/02/2018 is 1 February
        ([f"01/{m:02d}/{y}" for y in (2018, 2019) for m in range(1, 13)], "%d/%m/%Y", "%m/%d/%Y"),
        # the same day of each month, written month first
        ([f"{m:02d}/05/{y}" for y in (2018, 2019) for m in range(1, 13)], "%m/%d/%Y", "%d/%m/%Y"),
        # no telling: month first, as before, with the note
        ([f"{m:02d}/{d:02d}/2018" for m in range(1, 13) for d in (1, 7)], "%m/%d/%Y", "%d/%m/%Y"),
    ],
)
def test_dates_of_one_day_each_month_read_the_changing_field_as_the_month(
    days: list[str], expected: str, other: str
) -> None:
    rows = len(days)
    table = pa.table({"when": days, "x": [str(i % 7) for i in range(rows)],
                      "y": (["a", "b"] * rows)[:rows]})  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    assert inference.spec.columns["when"].format == expected
    assert f"set format '{other}' if so" in inference.reasons["when"]


def test_values_of_an_open_set_are_not_closed_to_those_seen() -> None:
    # Melbourne's suburbs: many seen once, so the next months bring new ones (the model
    # scores them); a diamond's cut: five values seen hundreds of times each
    suburbs = [f"s{i % 90}" for i in range(970)] + [f"rare{i}" for i in range(30)]
    cuts = ["Fair", "Good", "Very Good", "Premium", "Ideal"] * 200
    y = np.random.default_rng(5).choice(["a", "b"], size=1000).tolist()  # no column's echo
    table = pa.table({"suburb": suburbs, "cut": cuts, "x": [str(i % 7) for i in range(1000)],
                      "y": y})  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    suburb, cut = inference.spec.columns["suburb"], inference.spec.columns["cut"]
    assert (suburb.role, suburb.categories) == (ColumnRole.FEATURE, None)
    assert "open: 30 values seen once" in inference.reasons["suburb"]
    assert cut.categories == sorted(set(cuts)) and "open" not in inference.reasons["cut"]


def test_many_categories_are_kept_when_most_rows_hold_frequent_ones() -> None:
    # AI salaries: 59 countries in 637 rows, most of them in a few; a name column is no such
    rows = 637
    countries = ["US"] * 400 + ["GB"] * 60 + ["DE"] * 40 + [f"c{i}" for i in range(rows - 500)]
    y = np.random.default_rng(6).choice(["a", "b"], size=rows).tolist()
    table = pa.table({"country": countries, "name": [f"n{i % 400}" for i in range(rows)],
                      "x": [str(i % 7) for i in range(rows)], "y": y})  # fmt: skip
    spec = infer_spec(table, SOURCE, target="y", task=None, name="n").spec
    assert spec.columns["country"].role == ColumnRole.FEATURE
    assert spec.columns["name"].role == ColumnRole.IGNORED


def test_postal_codes_are_categories_and_other_numbers_stay_numbers() -> None:
    rows = 400
    rng = np.random.default_rng(8)
    codes = rng.choice([3000 + 7 * i for i in range(20)], size=rows).astype(str).tolist()
    table = pa.table({"Postcode": codes, "zip_code": codes, "market_cap": codes,
                      "x": [str(i % 7) for i in range(rows)],
                      "y": rng.choice(["a", "b"], size=rows).tolist()})  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    for name in ("Postcode", "zip_code"):
        assert inference.spec.columns[name].type == ColumnType.CATEGORICAL
        assert "postal codes: they name places" in inference.reasons[name]
    assert inference.spec.columns["market_cap"].type == ColumnType.INTEGER


def test_numbers_written_with_a_unit_word_are_numbers() -> None:
    rows = 300
    rng = np.random.default_rng(9)
    table = pa.table({
        "Quantity": [f"{n} pcs" for n in rng.integers(1, 11, size=rows)],
        "weight": [f"{w:.1f}kg" for w in rng.uniform(1, 9, size=rows)],
        "mixed": [f"{n} {'kg' if n % 2 else 'g'}" for n in rng.integers(1, 11, size=rows)],
        "y": rng.choice(["a", "b"], size=rows).tolist(),
    })  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="n")
    quantity, weight = inference.spec.columns["Quantity"], inference.spec.columns["weight"]
    assert (quantity.type, quantity.units) == (ColumnType.INTEGER, ["pcs"])
    assert "written like 1234 pcs" in inference.reasons["Quantity"]
    assert (weight.type, weight.units) == (ColumnType.NUMERIC, ["kg"])
    assert inference.spec.columns["mixed"].type == ColumnType.CATEGORICAL  # two units: no number
    read, _ = parse_strings(pa.array(["11 pcs", "3", "2 boxes"]), quantity)
    assert read.to_pylist() == [11, 3, None]


def test_a_file_without_a_header_line_is_warned_of_and_numbered_columns_are_not() -> None:
    rows = 40
    data = {"0.2300": [str(i % 3) for i in range(rows)], "5.07": ["1.5"] * (rows // 2) + ["2"] * 20}
    data["'-1'"] = ["a", "b"] * (rows // 2)
    source = SourceSpec(path="mammography.csv")
    inference = infer_spec(pa.table(data), source, target="'-1'", task=None, name="n")
    assert any("first line looks like data" in w for w in inference.warnings)
    with pytest.raises(DataError, match=r"Did you mean.*first line looks like data"):
        infer_spec(pa.table(data), source, target="'-l'", task=None, name="n")
    rng = random.Random(5)
    numbered = {str(i): [str(rng.randint(0, 9)) for _ in range(rows)] for i in range(3)}
    numbered["3"] = ["a", "b"] * (rows // 2)
    pixels = infer_spec(pa.table(numbered), source, target="3", task=None, name="n")
    assert not any("first line" in w for w in pixels.warnings)


def test_a_value_or_blank_is_a_feature_and_a_value_never_missing_is_constant() -> None:
    """A survey's "which films have you seen": the film's name where ticked, else blank."""
    rng = random.Random(8)
    seen = [rng.random() < 0.5 for _ in range(200)]
    film = "Star Wars: Episode I  The Phantom Menace"  # long, with spaces: reads as text
    table = pa.table(
        {
            "seen_1": [film if s else "" for s in seen],
            "ticked": ["1" if s else "" for s in seen],
            "same": ["x"] * 200,
            "fan": ["Yes" if s == (rng.random() < 0.8) else "No" for s in seen],
        }
    )
    inference = infer_spec(table, SOURCE, target="fan", task=None, name="survey")
    columns, reasons = inference.spec.columns, inference.reasons
    assert (columns["seen_1"].role, columns["seen_1"].type) == (
        ColumnRole.FEATURE, ColumnType.CATEGORICAL
    )  # fmt: skip
    assert columns["seen_1"].categories == [film] and columns["seen_1"].nullable
    assert reasons["seen_1"].endswith("the value or blank, the model learns which")
    assert columns["ticked"].role is ColumnRole.FEATURE and columns["ticked"].nullable
    assert columns["same"].role is ColumnRole.IGNORED and not columns["same"].nullable
    assert check_contract(table, inference.spec).bad_index.size == 0


def test_integer_ranges_are_written_out() -> None:
    caps = [str(4_616_250 + 1_000_003 * i) for i in range(200)] + ["5200730000000"]
    table = pa.table({"cap": caps, "y": ["a", "b"] * 100 + ["a"]})
    reason = infer_spec(table, SOURCE, target="y", task=None, name="x").reasons["cap"]
    assert "integer in [4616250, 5200730000000]" in reason


@pytest.mark.parametrize("name", ["isbn13", "ISBN", "product_ean", "SKU", "upc-10"])
def test_a_number_column_named_like_an_identifier_code_is_no_feature(name: str) -> None:
    # goodbooks' isbn13: 9.78043902348e+12, some missing, was a numeric feature
    rng = random.Random(3)
    n = 300
    codes = [f"{9.78e12 + rng.randrange(10**9):.11e}" for _ in range(n)]
    codes[5] = ""
    table = pa.table(
        {name: codes, "x": [str(rng.random()) for _ in range(n)],
         "y": [rng.choice("ab") for _ in range(n)]}
    )  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="books")
    assert inference.spec.columns[name].role is ColumnRole.IGNORED
    assert inference.reasons[name].startswith("ignored: an identifier code by its name (")
    unique = table.set_column(0, name, pa.array([str(9_780_000_000_000 + i) for i in range(n)]))
    assert (
        infer_spec(unique, SOURCE, target="y", task=None, name="b").spec.columns[name].role
        is ColumnRole.ID
    )


@pytest.mark.parametrize("name", ["mean", "seans", "upcoming", "skus_sold"])
def test_names_that_only_contain_a_code_stay_features(name: str) -> None:
    rng = random.Random(3)
    table = pa.table(
        {name: [str(rng.randrange(1000)) for _ in range(300)],
         "y": [rng.choice("ab") for _ in range(300)]}
    )  # fmt: skip
    inference = infer_spec(table, SOURCE, target="y", task=None, name="books")
    assert inference.spec.columns[name].role is ColumnRole.FEATURE


@pytest.mark.parametrize(
    ("name", "role"),
    [("data", ColumnRole.TIMESTAMP), ("Datum", ColumnRole.TIMESTAMP),
     ("Período", ColumnRole.TIMESTAMP), ("fecha_alta", ColumnRole.TIMESTAMP),
     ("week", ColumnRole.TIMESTAMP), ("公表_年月日", ColumnRole.TIMESTAMP),
     ("日付", ColumnRole.TIMESTAMP), ("opened", ColumnRole.FEATURE),
     ("metadata", ColumnRole.FEATURE)],
)  # fmt: skip
def test_a_row_time_is_found_by_names_in_other_languages_too(name: str, role: ColumnRole) -> None:
    # Portuguese COVID series ('data'), German wastewater ('Datum'), Portuguese health ('Período')
    days = [f"2020-03-{1 + i % 28:02d}" for i in range(120)]
    table = pa.table({name: days, "x": [str(i % 7) for i in range(120)], "y": ["a", "b"] * 60})
    spec = infer_spec(table, SOURCE, target="y", task=None, name="series").spec
    assert spec.columns[name].role is role
