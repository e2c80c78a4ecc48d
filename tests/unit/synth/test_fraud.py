"""The synthetic fraud generator: determinism, scenarios, late labels, drift calendar, config."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import yaml
from scipy import stats

from tabops.errors import StoreError, TabopsError
from tabops.store.db import open_store
from tabops.synth import output
from tabops.synth.config import (
    FraudConfig,
    SynthConfigError,
    load_fraud_config,
    parse_fraud_config,
)
from tabops.synth.fraud import FraudDataset, generate_fraud
from tabops.synth.output import write_fraud_files, write_fraud_tables
from tabops.synth.pools import luhn_valid
from tabops.synth.profiles import reachable_terminals

DAY = pd.Timedelta(days=1)

CALENDAR: list[dict[str, Any]] = [
    {"scenario": "card_testing", "start_day": 5, "end_day": 8, "cards_per_day": 4,
     "transactions_per_card": 6, "min_amount": 1.0, "max_amount": 3.0, "terminals": 2},
    {"scenario": "amount_inflation", "start_day": 20, "end_day": 99, "multiplier": 1.5},
    {"scenario": "new_merchant_category", "start_day": 10, "end_day": 15, "category": "bnpl",
     "terminal_fraction": 0.2},
    {"scenario": "null_column", "start_day": 12, "end_day": 18, "column": "card_present",
     "fraction": 0.5},
]  # fmt: skip


def config(**settings: Any) -> FraudConfig:
    """A small config: 400 customers over 30 days (about 24,000 transactions)."""
    return parse_fraud_config({"n_customers": 400, "days": 30, "seed": 11} | settings)


@cache
def _generated(frozen: str) -> FraudDataset:
    return generate_fraud(parse_fraud_config(yaml.safe_load(frozen)))


def generate(cfg: FraudConfig) -> FraudDataset:
    """Generate once per distinct config in this module (the frames are not modified)."""
    return _generated(yaml.safe_dump(cfg.model_dump(mode="json")))


def day_of(frame: pd.DataFrame, start: str = "2026-01-01") -> pd.Series:
    return (frame["tx_datetime"] - pd.Timestamp(start)) // DAY


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_frames() -> None:
    cfg = config(drift=CALENDAR)
    first, second = generate_fraud(cfg), generate_fraud(cfg)
    pd.testing.assert_frame_equal(first.transactions, second.transactions)
    pd.testing.assert_frame_equal(first.labels, second.labels)
    pd.testing.assert_frame_equal(first.calendar, second.calendar)
    pd.testing.assert_frame_equal(first.customers, second.customers)
    other = generate(config(drift=CALENDAR, seed=12)).transactions
    assert len(other) != len(first.transactions) or not other.equals(first.transactions)
    assert first.transactions["customer_name"].tolist() != other["customer_name"].tolist()


def test_transactions_have_the_documented_columns_and_order() -> None:
    tx = generate(config()).transactions
    assert list(tx.columns) == [
        "transaction_id", "tx_datetime", "customer_id", "customer_name", "card_number",
        "card_type", "account_blacklisted", "terminal_id", "merchant_name", "merchant_category",
        "transaction_type", "card_present", "amount", "is_fraud", "fraud_scenario",
    ]  # fmt: skip
    assert (tx["transaction_id"].to_numpy() == np.arange(len(tx))).all()
    assert tx["tx_datetime"].is_monotonic_increasing
    assert day_of(tx).between(0, 29).all()
    assert set(tx["transaction_type"].unique()) == {"real-time", "settlement", "dispute"}
    assert set(tx["card_type"].unique()) == {"Visa", "MasterCard"}
    assert 0 < tx["account_blacklisted"].mean() < 0.05
    assert (tx["amount"] >= 0).all()
    assert tx["is_fraud"].eq(tx["fraud_scenario"].gt(0)).all()


def test_card_numbers_are_unique_luhn_valid_and_match_the_card_type() -> None:
    customers = generate(config()).customers
    numbers = customers["card_number"]
    assert numbers.is_unique and numbers.str.len().eq(16).all()
    assert all(luhn_valid(n) for n in numbers)
    assert not luhn_valid(str(int(numbers.iloc[0]) + 1))
    visa = customers["card_type"] == "Visa"
    assert numbers[visa].str.startswith("4").all()
    assert numbers[~visa].str[0].isin(["2", "5"]).all()


def test_customers_use_terminals_within_the_radius() -> None:
    data = generate(config(radius=8.0, n_terminals=1500))
    tx, customers, terminals = data.transactions, data.customers, data.terminals
    home = customers.set_index("customer_id").loc[tx["customer_id"], ["x", "y"]].to_numpy()
    shop = terminals.set_index("terminal_id").loc[tx["terminal_id"], ["x", "y"]].to_numpy()
    assert (np.hypot(*(home - shop).T) < 8.0).all()


@pytest.mark.parametrize("radius", [0.05, 6.0, 60.0])
def test_reachable_terminals_match_brute_force_and_fall_back_to_the_nearest(
    radius: float,
) -> None:
    rng = np.random.default_rng(0)
    customers, terminals = rng.uniform(0, 100, (300, 2)), rng.uniform(0, 100, (60, 2))
    offsets, reachable = reachable_terminals(customers, terminals, radius)
    distance = np.hypot(*(customers[:, None, :] - terminals[None, :, :]).transpose(2, 0, 1))
    lonely = 0
    for c in range(len(customers)):
        got = set(reachable[offsets[c] : offsets[c + 1]].tolist())
        expected = set(np.flatnonzero(distance[c] < radius).tolist())
        if not expected:
            lonely += 1
            expected = {int(distance[c].argmin())}
        assert got == expected, c
    assert (lonely > 0) == (radius < 10)  # the fallback was exercised where it must be


# ----------------------------------------------------------------------------- fraud


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_fraud_rate_is_within_bounds(seed: int) -> None:
    data = generate(parse_fraud_config({"n_customers": 2000, "days": 60, "seed": seed}))
    assert 0.005 <= data.fraud_rate <= 0.012
    counts = data.summary()["frauds_by_scenario"]
    assert counts["amount"] > 0 and counts["compromised_terminals"] > 0
    assert counts["compromised_customers"] > 0 and counts["card_testing"] == 0


def test_amount_scenario_labels_exactly_the_amounts_above_the_threshold() -> None:
    only_amount = {"compromised_terminals": {"enabled": False},
                   "compromised_customers": {"enabled": False}}  # fmt: skip
    tx = generate(config(scenarios=only_amount | {"amount": {"threshold": 150}})).transactions
    assert tx["is_fraud"].sum() > 0
    assert tx["is_fraud"].eq(tx["amount"].gt(150)).all()
    assert set(tx["fraud_scenario"].unique()) <= {0, 1}


def test_compromised_terminals_are_fraudulent_for_the_whole_window() -> None:
    # Compromised for longer than the period: from its first fraud on, every transaction at
    # a compromised terminal is a fraud (scenario 3 may relabel some, never as legitimate).
    scenarios = {"compromised_terminals": {"duration_days": 40, "daily_rate": 0.002}}
    tx = generate(config(scenarios=scenarios)).transactions
    first = tx[tx["fraud_scenario"] == 2].groupby("terminal_id")["tx_datetime"].min()
    assert len(first) > 5
    at_compromised = tx[tx["terminal_id"].isin(first.index)]
    after = at_compromised["tx_datetime"] >= first.loc[at_compromised["terminal_id"]].to_numpy()
    assert at_compromised.loc[after, "is_fraud"].eq(1).all()
    assert at_compromised.loc[after, "fraud_scenario"].isin([2, 3]).all()


def test_compromised_customers_get_inflated_frauds_and_nothing_else_changes() -> None:
    # Each part draws from its own random stream: switching scenario 3 off changes only its rows.
    base = generate(config(scenarios={"compromised_customers": {"enabled": False}}))
    full = generate(config())
    a, b = base.transactions, full.transactions
    assert len(a) == len(b)
    hit = (b["fraud_scenario"] == 3).to_numpy()
    assert hit.sum() > 20
    np.testing.assert_allclose(b.loc[hit, "amount"], np.round(a.loc[hit, "amount"] * 5, 2))
    same = ["transaction_id", "tx_datetime", "customer_id", "terminal_id", "amount"]
    pd.testing.assert_frame_equal(a.loc[~hit, same], b.loc[~hit, same])
    assert b.loc[hit, "customer_id"].nunique() >= 5
    assert b.loc[hit, "card_present"].mean() < 0.3
    # The same customers are exposed whatever the fraction: a third of their transactions.
    every = generate(config(scenarios={"compromised_customers": {"fraud_fraction": 1.0}}))
    exposed = (every.transactions["fraud_scenario"] == 3).sum()
    assert hit.sum() / exposed == pytest.approx(1 / 3, abs=0.05)


# ----------------------------------------------------------------------------- late labels


def test_every_transaction_gets_one_label_event_in_time_order() -> None:
    data = generate(config(maturity_days=20))
    tx, labels = data.transactions, data.labels
    assert list(labels.columns) == ["transaction_id", "label", "label_time"]
    assert labels["transaction_id"].is_unique and len(labels) == len(tx)
    assert labels["label_time"].is_monotonic_increasing
    joined = labels.merge(tx, on="transaction_id")
    assert joined["label"].eq(joined["is_fraud"]).all()
    legit = joined[joined["label"] == 0]
    assert (legit["label_time"] - legit["tx_datetime"]).eq(pd.Timedelta(days=20)).all()
    fraud = joined[joined["label"] == 1]
    assert (fraud["label_time"] > fraud["tx_datetime"]).all()


LOW_THRESHOLD = {"amount": {"threshold": 90.0}}  # many frauds, for the distribution tests


def _fraud_delays(delay: dict[str, Any]) -> np.ndarray:
    data = generate(config(label_delay=delay, scenarios=LOW_THRESHOLD))
    joined = data.labels.merge(data.transactions, on="transaction_id")
    fraud = joined[joined["label"] == 1]
    delays = (fraud["label_time"] - fraud["tx_datetime"]) / DAY
    assert len(delays) > 500
    return delays.to_numpy()


DELAYS = [
    ({"distribution": "lognormal", "median_days": 9, "sigma": 0.6},
     stats.lognorm(s=0.6, scale=9), stats.lognorm(s=0.6, scale=12)),
    ({"distribution": "gamma", "shape": 2.5, "scale_days": 4},
     stats.gamma(a=2.5, scale=4), stats.gamma(a=2.0, scale=5)),
    ({"distribution": "exponential", "mean_days": 6},
     stats.expon(scale=6), stats.expon(scale=7)),
]  # fmt: skip


@pytest.mark.parametrize(("delay", "expected", "other"), DELAYS)
def test_fraud_label_delays_follow_the_configured_distribution(
    delay: dict[str, Any], expected: Any, other: Any
) -> None:
    delays = _fraud_delays(delay)
    assert stats.kstest(delays, expected.cdf).pvalue > 0.001
    # The same test tells a nearby distribution apart, so it can fail.
    assert stats.kstest(delays, other.cdf).pvalue < 0.001
    for q in (0.25, 0.5, 0.9):
        assert np.quantile(delays, q) == pytest.approx(expected.ppf(q), rel=0.12)


def test_fixed_delay_is_exact() -> None:
    delays = _fraud_delays({"distribution": "fixed", "days": 3.5})
    np.testing.assert_allclose(delays, 3.5)


# ----------------------------------------------------------------------------- drift calendar


def test_card_testing_bursts_are_frauds_inside_their_window_only() -> None:
    data = generate(config(drift=CALENDAR))
    tx = data.transactions
    burst = tx[tx["fraud_scenario"] == 4]
    assert len(burst) == 3 * 4 * 6 == data.calendar.loc[0, "rows"]
    assert day_of(burst).between(5, 7).all()
    assert burst["is_fraud"].eq(1).all() and not burst["card_present"].any()
    assert burst["amount"].between(1.0, 3.0).all()
    assert burst["terminal_id"].nunique() <= 2
    assert (burst["transaction_type"] == "real-time").all()


def test_amount_inflation_multiplies_amounts_in_its_window_only() -> None:
    calendar = [CALENDAR[1]]
    plain = generate(config()).transactions
    inflated = generate(config(drift=calendar)).transactions
    window = day_of(plain) >= 20
    assert window.any() and (~window).any()
    np.testing.assert_allclose(
        inflated.loc[window, "amount"], np.round(plain.loc[window, "amount"] * 1.5, 2)
    )
    pd.testing.assert_series_equal(plain.loc[~window, "amount"], inflated.loc[~window, "amount"])
    pd.testing.assert_series_equal(plain["is_fraud"], inflated["is_fraud"])  # labels unchanged


def test_new_category_and_null_column_appear_where_the_calendar_says() -> None:
    data = generate(config(drift=CALENDAR))
    tx, calendar = data.transactions, data.calendar.set_index("scenario")
    days = day_of(tx)
    new = tx["merchant_category"] == "bnpl"
    assert new.sum() == calendar.loc["new_merchant_category", "rows"] > 0
    assert days[new].between(10, 14).all()
    # About terminal_fraction of the window's terminals switch.
    window = tx[days.between(10, 14)]
    share = window.loc[window["merchant_category"] == "bnpl", "terminal_id"].nunique()
    assert share / window["terminal_id"].nunique() == pytest.approx(0.2, abs=0.06)

    empty = tx["card_present"].isna()
    assert empty.sum() == calendar.loc["null_column", "rows"] > 0
    assert days[empty].between(12, 17).all()
    assert empty[days.between(12, 17)].mean() == pytest.approx(0.5, abs=0.05)


def test_calendar_is_recorded_as_applied() -> None:
    data = generate(config(drift=CALENDAR))
    calendar = data.calendar
    assert list(calendar.columns) == [
        "scenario", "start_day", "end_day", "start", "end", "params", "rows"
    ]  # fmt: skip
    assert calendar["scenario"].tolist() == [e["scenario"] for e in CALENDAR]
    inflation = calendar.iloc[1]
    assert (inflation["start_day"], inflation["end_day"]) == (20, 30)  # clipped to the period
    assert inflation["start"] == pd.Timestamp("2026-01-21")
    assert inflation["end"] == pd.Timestamp("2026-01-31")
    assert data.calendar_records[1]["params"] == {"multiplier": 1.5}
    assert '"column": "card_present"' in calendar.iloc[3]["params"]


def test_only_one_column_is_emptied() -> None:
    tx = generate(config(drift=CALENDAR)).transactions
    others = tx.drop(columns="card_present")
    assert others.notna().all().all()


# ----------------------------------------------------------------------------- config


BAD_CONFIGS = [
    ({"n_customers": -3}, "n_customers: Input should be greater than or equal to 1"),
    ({"scenarios": {"compromised_terminals": {"daily_rate": -0.1}}},
     "scenarios.compromised_terminals.daily_rate: Input should be greater than or equal to 0"),
    ({"scenarios": {"compromised_customers": {"fraud_fraction": 1.5}}},
     "scenarios.compromised_customers.fraud_fraction: Input should be less than or equal to 1"),
    ({"customers": {"blacklisted_fraction": 2}},
     "customers.blacklisted_fraction: Input should be less than or equal to 1"),
    ({"scenarios": {"skimming": {}}},
     "scenarios.skimming: unknown fraud scenario; use one of: amount, compromised_terminals"),
    ({"drift": [{"scenario": "solar_flare", "start_day": 1, "end_day": 2}]},
     "drift.0: unknown scenario 'solar_flare'; use one of: new_merchant_category"),
    ({"drift": [{"start_day": 1, "end_day": 2}]}, "drift.0: 'scenario' is missing"),
    ({"drift": [{"scenario": "amount_inflation", "start_day": 4, "end_day": 2}]},
     "drift.0: end_day (2) must be after start_day (4)"),
    ({"drift": [{"scenario": "amount_inflation", "start_day": 1, "end_day": 2,
                 "multiplier": -1}]}, "drift.0.multiplier: Input should be greater than 0"),
    ({"days": 10, "drift": [{"scenario": "amount_inflation", "start_day": 10, "end_day": 20}]},
     "drift.0.start_day (10) is not inside the simulated period of 10 days"),
    ({"drift": [{"scenario": "null_column", "start_day": 1, "end_day": 2, "column": "is_fraud"}]},
     "drift.0: column 'is_fraud' cannot be nulled; use one of: amount"),
    ({"drift": [{"scenario": "new_merchant_category", "start_day": 1, "end_day": 2,
                 "category": "restaurants"}]}, "category 'restaurants' already exists"),
    ({"drift": [{"scenario": "card_testing", "start_day": 1, "end_day": 2, "min_amount": 5,
                 "max_amount": 1}]}, "drift.0: max_amount (1.0) is below min_amount (5.0)"),
    ({"label_delay": {"distribution": "weibull"}},
     "label_delay: unknown distribution 'weibull'; use one of: lognormal, gamma"),
    ({"label_delay": {"distribution": "gamma", "shape": 0}},
     "label_delay.shape: Input should be greater than 0"),
    ({"maturity_days": -1}, "maturity_days: Input should be greater than or equal to 0"),
    ({"customers": {"card_types": {"Amex": 1}}},
     "customers: unknown card type Amex; use Visa, MasterCard"),
    ({"transactions": {"types": {"refund": 1}}}, "unknown transaction type refund"),
    ({"customers": {"mean_amount": [50, 10]}}, "mean_amount must be [low, high]"),
    ({"colour": "red"}, "colour: unknown setting; use one of: seed, n_customers"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "message"), BAD_CONFIGS)
def test_bad_configs_name_the_setting(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(SynthConfigError) as error:
        parse_fraud_config(raw, source="fraud.yaml")
    text = str(error.value)
    assert text.startswith("fraud.yaml is invalid (1 problem(s)):"), text
    assert message in text
    assert isinstance(error.value, TabopsError) and error.value.exit_code == 2


def test_config_reads_yaml_and_applies_overrides(tmp_path: Path) -> None:
    path = tmp_path / "fraud.yaml"
    path.write_text(
        "seed: 5\nn_customers: 100\ndays: 10\n"
        "label_delay: {distribution: gamma, shape: 2, scale_days: 3}\n"
        "drift:\n  - {scenario: card_testing, start_day: 2, end_day: 4}\n"
    )
    cfg = load_fraud_config(path, {"days": 20, "seed": None})
    assert (cfg.seed, cfg.n_customers, cfg.days, cfg.terminals) == (5, 100, 20, 200)
    assert cfg.label_delay.distribution == "gamma"
    assert cfg.drift[0].scenario == "card_testing"
    assert load_fraud_config() == FraudConfig()
    # The dumped config reads back to the same settings.
    written = tmp_path / "out"
    write_fraud_files(generate_fraud(cfg), written)
    assert load_fraud_config(written / "config.yaml") == cfg.model_copy(update={"n_terminals": 200})


@pytest.mark.parametrize(
    ("text", "message"),
    [("days: [\n", "is not valid YAML"), ("- 1\n", "must hold a mapping of settings")],
)
def test_unreadable_config_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "fraud.yaml"
    path.write_text(text)
    with pytest.raises(SynthConfigError, match=message):
        load_fraud_config(path)
    with pytest.raises(SynthConfigError, match="No fraud config at"):
        load_fraud_config(tmp_path / "missing.yaml")


# ----------------------------------------------------------------------------- output


def test_files_round_trip_in_both_formats(tmp_path: Path) -> None:
    data = generate(config(drift=CALENDAR))
    files = write_fraud_files(data, tmp_path / "pq")
    assert sorted(p.name for p in files) == [
        "config.yaml", "drift_calendar.parquet", "labels.parquet", "transactions.parquet"
    ]  # fmt: skip
    back = pq.read_table(tmp_path / "pq" / "transactions.parquet").to_pandas()
    pd.testing.assert_frame_equal(back, data.transactions)
    write_fraud_files(data, tmp_path / "csv", "csv")
    csv = pd.read_csv(tmp_path / "csv" / "labels.csv", parse_dates=["label_time"])
    assert len(csv) == len(data.labels)
    assert (csv["transaction_id"] == data.labels["transaction_id"]).all()
    assert not list((tmp_path / "pq").glob(".partial-*"))
    with pytest.raises(TabopsError, match="not supported; use parquet or csv"):
        write_fraud_files(data, tmp_path / "x", "xlsx")


def test_a_failed_write_leaves_the_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = generate(config())
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "transactions.parquet").write_text("old")
    calls = {"n": 0}
    real = output.pq.write_table

    def failing(table: Any, where: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real(table, where, **kwargs)

    monkeypatch.setattr(output.pq, "write_table", failing)
    with pytest.raises(TabopsError, match="No space left on device"):
        write_fraud_files(data, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["transactions.parquet"]
    assert (folder / "transactions.parquet").read_text() == "old"


def test_tables_are_written_in_the_store_and_replaced(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    data = generate(config(n_customers=100, days=10, drift=[CALENDAR[0]]))
    names = write_fraud_tables(data, store, "fraud_tx")
    assert names == ["fraud_tx", "fraud_tx_labels", "fraud_tx_drift"]
    write_fraud_tables(data, store, "fraud_tx")  # again: replaced, not appended
    with store.engine.connect() as conn:
        count = {n: conn.execute(sa.text(f"SELECT count(*) FROM {n}")).scalar_one() for n in names}
        fraud = conn.execute(sa.text("SELECT sum(is_fraud) FROM fraud_tx")).scalar_one()
    assert count == {"fraud_tx": len(data.transactions), "fraud_tx_labels": len(data.labels),
                     "fraud_tx_drift": 1}  # fmt: skip
    assert fraud == data.transactions["is_fraud"].sum()
    back = store.read_table("fraud_tx", limit=1).to_pylist()[0]
    assert back["card_number"] == data.transactions["card_number"].iloc[0]


@pytest.mark.parametrize(
    ("name", "message"),
    [("x; DROP TABLE y", "not a valid table name"), ("labels", "tabops store's own tables"),
     ("t" * 60, "not a valid table name")],
)  # fmt: skip
def test_bad_table_names_are_refused_before_writing(
    tmp_path: Path, name: str, message: str
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(StoreError, match=message):
        write_fraud_tables(generate(config(n_customers=50, days=3)), store, name)
    assert not sa.inspect(store.engine).has_table("y")


@pytest.mark.postgres
@pytest.mark.xdist_group("postgres")
def test_tables_go_to_postgres_with_copy(pg_url: str) -> None:
    store = open_store(pg_url)
    data = generate(config(n_customers=100, days=21, drift=CALENDAR))
    names = write_fraud_tables(data, store, "bank")
    write_fraud_tables(data, store, "bank")  # replaced in one transaction, not appended
    with store.engine.connect() as conn:
        count = {n: conn.execute(sa.text(f"SELECT count(*) FROM {n}")).scalar_one() for n in names}
        nulls = conn.execute(
            sa.text("SELECT count(*) FROM bank WHERE card_present IS NULL")
        ).scalar_one()
        last = conn.execute(sa.text("SELECT max(label_time) FROM bank_labels")).scalar_one()
    assert count == {"bank": len(data.transactions), "bank_labels": len(data.labels),
                     "bank_drift": len(CALENDAR)}  # fmt: skip
    assert nulls == data.transactions["card_present"].isna().sum() > 0
    assert pd.Timestamp(last) == data.labels["label_time"].max()


def test_history_features_match_a_brute_force_count_and_look_only_backwards() -> None:
    from tabops.synth.features import add_history_features

    dataset = generate_fraud(parse_fraud_config({"n_customers": 150, "days": 40, "seed": 5}))
    tx = dataset.transactions
    features = add_history_features(tx, delay_days=7)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(tx), 100, replace=False):
        row, now = tx.iloc[i], tx.iloc[i]["tx_datetime"]
        mine = tx[(tx["customer_id"] == row["customer_id"]) & (tx["tx_datetime"] <= now)
                  & (tx["tx_datetime"] > now - pd.Timedelta(days=7))]  # fmt: skip
        mine = mine[(mine["tx_datetime"] < now) | (mine.index <= tx.index[i])]
        assert features.iloc[i]["customer_nb_tx_7d"] == len(mine)
        assert features.iloc[i]["customer_avg_amount_7d"] == pytest.approx(
            round(mine["amount"].mean(), 2), abs=0.011
        )
        end = now - pd.Timedelta(days=7)
        seen = tx[(tx["terminal_id"] == row["terminal_id"]) & (tx["tx_datetime"] <= end)
                  & (tx["tx_datetime"] > end - pd.Timedelta(days=30))]  # fmt: skip
        assert features.iloc[i]["terminal_nb_tx_30d"] == len(seen)
        risk = seen["is_fraud"].sum() / max(len(seen), 1)
        assert features.iloc[i]["terminal_risk_30d"] == pytest.approx(risk, abs=1e-4)
    # Changing a later transaction never changes an earlier one's features.
    later = tx.copy()
    later.loc[later.index[-100:], "amount"] *= 10
    again = add_history_features(later, delay_days=7)
    pd.testing.assert_frame_equal(again.iloc[:-100], features.iloc[:-100], check_exact=False)
