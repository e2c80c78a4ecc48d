"""``FraudConfig``: every setting of the synthetic fraud generator, validated once.

A config comes from a YAML file (:func:`load_fraud_config`), a mapping
(:func:`parse_fraud_config`) or the defaults (``FraudConfig()``). Unknown keys are errors, and
every error names the setting's key path and what is allowed, e.g.
``scenarios.compromised_customers.fraud_fraction: Input should be less than or equal to 1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from tabops.errors import TabopsError
from tabops.safe_yaml import load_yaml, yaml_error_location
from tabops.validation import allowed_keys, format_errors

#: Merchant categories (MCC-like names) and how often a terminal belongs to each.
MERCHANT_CATEGORIES: dict[str, float] = {
    "grocery_stores": 0.20,
    "restaurants": 0.15,
    "gas_stations": 0.10,
    "fast_food": 0.10,
    "drug_stores": 0.07,
    "clothing_stores": 0.07,
    "electronics": 0.05,
    "department_stores": 0.05,
    "hotels": 0.04,
    "airlines": 0.03,
    "taxis_rideshare": 0.04,
    "online_marketplaces": 0.06,
    "entertainment": 0.04,
}
CARD_TYPES = ("Visa", "MasterCard")
TRANSACTION_TYPES = ("real-time", "settlement", "dispute")
#: Transaction columns a ``null_column`` drift entry may empty (never ids, time or labels).
NULLABLE_COLUMNS = (
    "amount",
    "customer_name",
    "card_type",
    "account_blacklisted",
    "merchant_name",
    "merchant_category",
    "transaction_type",
    "card_present",
)


class SynthConfigError(TabopsError):
    """A synthetic-data config is missing, malformed or invalid."""

    code = "invalid_synth_config"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Fraction = Annotated[float, Field(ge=0, le=1)]
Weights = Annotated[dict[str, float], Field(min_length=1)]


def _check_weights(weights: Mapping[str, float], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(weights) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}; use {', '.join(allowed)}")
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights must be 0 or more")
    if sum(weights.values()) <= 0:
        raise ValueError("at least one weight must be above 0")


class CustomerSettings(_Strict):
    """Customer profiles, as in the handbook: spending habits drawn per customer."""

    mean_amount: tuple[float, float] = Field(
        default=(5.0, 100.0), description="Range of a customer's mean amount (uniform)."
    )
    std_ratio: float = Field(
        default=0.5, gt=0, description="A customer's amount std as a fraction of its mean."
    )
    tx_per_day: tuple[float, float] = Field(
        default=(0.0, 4.0), description="Range of a customer's mean transactions per day."
    )
    blacklisted_fraction: Fraction = Field(
        default=0.005, description="Fraction of accounts flagged account_blacklisted."
    )
    card_types: Weights = Field(
        default_factory=lambda: {"Visa": 0.6, "MasterCard": 0.4},
        description="Relative frequency of each card type (Visa, MasterCard).",
    )

    @model_validator(mode="after")
    def _check(self) -> CustomerSettings:
        low, high = self.mean_amount
        if not 0 < low <= high:
            raise ValueError(
                f"mean_amount must be [low, high] with 0 < low <= high, not {low}, {high}"
            )
        low, high = self.tx_per_day
        if not 0 <= low <= high:
            raise ValueError(
                f"tx_per_day must be [low, high] with 0 <= low <= high, not {low}, {high}"
            )
        _check_weights(self.card_types, CARD_TYPES, "card type")
        return self


class TransactionSettings(_Strict):
    """Per-transaction attributes the handbook does not have (from the original monitor)."""

    types: Weights = Field(
        default_factory=lambda: {"real-time": 0.9, "settlement": 0.08, "dispute": 0.02},
        description="Relative frequency of each transaction type.",
    )
    card_present_rate: Fraction = Field(
        default=0.7, description="Probability that a legitimate transaction is card-present."
    )

    @model_validator(mode="after")
    def _check(self) -> TransactionSettings:
        _check_weights(self.types, TRANSACTION_TYPES, "transaction type")
        return self


class AmountScenario(_Strict):
    """Scenario 1: every transaction above ``threshold`` is a fraud."""

    enabled: bool = True
    threshold: float = Field(default=220.0, gt=0, description="Amounts above this are fraud.")


class CompromisedTerminals(_Strict):
    """Scenario 2: terminals compromised for ``duration_days``; all their transactions are fraud."""

    enabled: bool = True
    daily_rate: Fraction = Field(
        default=0.0002,
        description="Expected fraction of terminals compromised each day (handbook: 2 of 10,000).",
    )
    duration_days: int = Field(default=28, ge=1, description="Days a terminal stays compromised.")


class CompromisedCustomers(_Strict):
    """Scenario 3: leaked credentials; part of a customer's transactions are fraud, inflated."""

    enabled: bool = True
    daily_rate: Fraction = Field(
        default=0.0006,
        description="Expected fraction of customers compromised each day (handbook: 3 of 5,000).",
    )
    duration_days: int = Field(default=14, ge=1, description="Days a customer stays compromised.")
    fraud_fraction: Fraction = Field(
        default=1 / 3,
        description="Fraction of a compromised customer's transactions that are fraud.",
    )
    amount_multiplier: float = Field(
        default=5.0,
        gt=0,
        description="The fraudulent transactions' amounts are multiplied by this.",
    )
    card_present_rate: Fraction = Field(
        default=0.1, description="Probability that such a fraud is card-present."
    )


class FraudScenarios(_Strict):
    """The handbook's three fraud scenarios; any can be switched off with ``enabled: false``."""

    amount: AmountScenario = Field(default_factory=AmountScenario)
    compromised_terminals: CompromisedTerminals = Field(default_factory=CompromisedTerminals)
    compromised_customers: CompromisedCustomers = Field(default_factory=CompromisedCustomers)


# ----------------------------------------------------------------------------- label delays


class LognormalDelay(_Strict):
    """Delay in days: lognormal with the given median and shape (sigma of the log)."""

    distribution: Literal["lognormal"]
    median_days: float = Field(default=7.0, gt=0)
    sigma: float = Field(default=0.8, gt=0)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(np.log(self.median_days), self.sigma, size)


class GammaDelay(_Strict):
    """Delay in days: gamma with ``shape`` and ``scale_days`` (mean = shape x scale)."""

    distribution: Literal["gamma"]
    shape: float = Field(default=2.0, gt=0)
    scale_days: float = Field(default=5.0, gt=0)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.gamma(self.shape, self.scale_days, size)


class ExponentialDelay(_Strict):
    """Delay in days: exponential with the given mean."""

    distribution: Literal["exponential"]
    mean_days: float = Field(default=10.0, gt=0)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean_days, size)


class FixedDelay(_Strict):
    """The same delay for every fraud."""

    distribution: Literal["fixed"]
    days: float = Field(default=7.0, ge=0)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.days)


LabelDelay = Annotated[
    LognormalDelay | GammaDelay | ExponentialDelay | FixedDelay,
    Field(discriminator="distribution"),
]
DELAY_DISTRIBUTIONS = ("lognormal", "gamma", "exponential", "fixed")


# ----------------------------------------------------------------------------- drift calendar


class _DriftWindow(_Strict):
    start_day: int = Field(ge=0, description="First day (0 = start_date) the scenario applies.")
    end_day: int = Field(
        ge=1, description="Day the scenario stops applying (exclusive); clipped to ``days``."
    )

    @model_validator(mode="after")
    def _ordered(self) -> _DriftWindow:
        if self.end_day <= self.start_day:
            raise ValueError(f"end_day ({self.end_day}) must be after start_day ({self.start_day})")
        return self

    def params(self) -> dict[str, Any]:
        """The scenario's own settings (everything but its name and window)."""
        return self.model_dump(exclude={"scenario", "start_day", "end_day"})


class NewMerchantCategory(_DriftWindow):
    """A merchant category no terminal had before appears on part of the terminals."""

    scenario: Literal["new_merchant_category"]
    category: str = Field(default="crypto_exchange", min_length=1)
    terminal_fraction: float = Field(
        default=0.05, gt=0, le=1, description="Fraction of terminals that switch to it."
    )

    @model_validator(mode="after")
    def _new(self) -> NewMerchantCategory:
        if self.category in MERCHANT_CATEGORIES:
            raise ValueError(
                f"category '{self.category}' already exists; pick a name not in: "
                + ", ".join(MERCHANT_CATEGORIES)
            )
        return self


class AmountInflation(_DriftWindow):
    """Every amount in the window is multiplied (prices move; fraud patterns do not)."""

    scenario: Literal["amount_inflation"]
    multiplier: float = Field(default=1.3, gt=0)


class CardTesting(_DriftWindow):
    """Bursts of small fraudulent card-not-present amounts on a few terminals."""

    scenario: Literal["card_testing"]
    cards_per_day: int = Field(default=20, ge=1, description="Cards tested each day.")
    transactions_per_card: int = Field(default=10, ge=1, description="Attempts per tested card.")
    min_amount: float = Field(default=0.5, gt=0)
    max_amount: float = Field(default=5.0, gt=0)
    terminals: int = Field(default=3, ge=1, description="Terminals the fraudsters use.")

    @model_validator(mode="after")
    def _amounts(self) -> CardTesting:
        if self.max_amount < self.min_amount:
            raise ValueError(
                f"max_amount ({self.max_amount}) is below min_amount ({self.min_amount})"
            )
        return self


class NullColumn(_DriftWindow):
    """A column starts arriving empty (an upstream feed breaks)."""

    scenario: Literal["null_column"]
    column: str
    fraction: float = Field(default=1.0, gt=0, le=1, description="Fraction of rows emptied.")

    @model_validator(mode="after")
    def _known(self) -> NullColumn:
        if self.column not in NULLABLE_COLUMNS:
            raise ValueError(
                f"column '{self.column}' cannot be nulled; use one of: "
                + ", ".join(NULLABLE_COLUMNS)
            )
        return self


DriftEntry = Annotated[
    NewMerchantCategory | AmountInflation | CardTesting | NullColumn,
    Field(discriminator="scenario"),
]
DRIFT_SCENARIOS = ("new_merchant_category", "amount_inflation", "card_testing", "null_column")


# ----------------------------------------------------------------------------- the config


_MAX_POPULATION = 10_000_000


class FraudConfig(_Strict):
    """Everything the fraud generator needs; the same config and seed give the same data."""

    seed: int = Field(default=0, ge=0, description="Seed of every random draw.")
    n_customers: int = Field(
        default=5000, ge=1, le=_MAX_POPULATION, description="Number of customers."
    )
    n_terminals: int | None = Field(
        default=None,
        ge=1,
        le=_MAX_POPULATION,
        description="Number of terminals; default twice n_customers.",
    )
    start_date: date = Field(default=date(2026, 1, 1), description="The first simulated day.")
    days: int = Field(default=90, ge=1, le=3660, description="Number of simulated days.")
    radius: float = Field(
        default=5.0,
        gt=0,
        le=100,
        description="Customers use terminals within this distance (on a 100 x 100 grid).",
    )
    customers: CustomerSettings = Field(default_factory=CustomerSettings)
    transactions: TransactionSettings = Field(default_factory=TransactionSettings)
    scenarios: FraudScenarios = Field(default_factory=FraudScenarios)
    label_delay: LabelDelay = Field(
        default_factory=lambda: LognormalDelay(distribution="lognormal"),
        description="Days from a fraud to its label (a chargeback).",
    )
    maturity_days: float = Field(
        default=30.0, ge=0, description="Days after which a legitimate transaction is confirmed."
    )
    history_features: bool = Field(
        default=False,
        description="Add the handbook's history features (customer spending and terminal risk "
        "over 1, 7 and 30 days; weekend and night flags); see docs/synth.md.",
    )
    history_delay_days: int = Field(
        default=7, ge=0, description="Days before a terminal's frauds count in its risk."
    )
    drift: list[DriftEntry] = Field(
        default_factory=list, description="The drift calendar: scripted scenarios with windows."
    )

    @model_validator(mode="after")
    def _calendar_inside_period(self) -> FraudConfig:
        for index, entry in enumerate(self.drift):
            if entry.start_day >= self.days:
                raise ValueError(
                    f"drift.{index}.start_day ({entry.start_day}) is not inside the simulated "
                    f"period of {self.days} days; lower it or raise days"
                )
        return self

    @property
    def terminals(self) -> int:
        """The number of terminals (``n_terminals`` or its default)."""
        return self.n_terminals if self.n_terminals is not None else 2 * self.n_customers


_TAG_MODELS: dict[str, type[BaseModel]] = {
    "new_merchant_category": NewMerchantCategory,
    "amount_inflation": AmountInflation,
    "card_testing": CardTesting,
    "null_column": NullColumn,
    "lognormal": LognormalDelay,
    "gamma": GammaDelay,
    "exponential": ExponentialDelay,
    "fixed": FixedDelay,
}


def format_config_error(exc: ValidationError, source: str) -> str:
    """One line per problem: the setting's key path, what is wrong, what is allowed."""
    return format_errors(
        exc,
        source,
        root=FraudConfig,
        footer="Fix the config (see docs/synth.md for every setting) and run again.",
        noun="setting",
        tags=_TAG_MODELS,
        describe=_describe,
    )


def _describe(error: ErrorDetails, loc: list[str]) -> str | None:
    """The config's own wording: unknown fraud scenarios, and union tags with their choices."""
    kind = error["type"]
    if kind == "extra_forbidden" and loc[:1] == ["scenarios"] and len(loc) == 2:
        scenarios = allowed_keys(FraudConfig, error["loc"], _TAG_MODELS)
        return f"unknown fraud scenario; use one of: {', '.join(scenarios)}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        field, allowed = (
            ("scenario", DRIFT_SCENARIOS)
            if loc[:1] == ["drift"]
            else ("distribution", DELAY_DISTRIBUTIONS)
        )
        given = (error.get("ctx") or {}).get("tag")
        what = f"unknown {field} '{given}'" if given else f"'{field}' is missing"
        return f"{what}; use one of: {', '.join(allowed)}"
    return None


def parse_fraud_config(raw: Mapping[str, Any], source: str = "fraud config") -> FraudConfig:
    """Validate a config mapping; errors name ``source`` and every failing setting."""
    try:
        return FraudConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise SynthConfigError(format_config_error(exc, source)) from exc


def load_fraud_config(
    path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> FraudConfig:
    """Read a YAML config (or start from the defaults) and apply top-level ``overrides``.

    Args:
        path: A YAML file holding a mapping of settings; None for the defaults.
        overrides: Settings that win over the file, e.g. ``{"days": 30}`` from the CLI.

    Raises:
        SynthConfigError: the file is missing or not YAML, or a setting is invalid.
    """
    raw: dict[str, Any] = {}
    source = "fraud config"
    if path is not None:
        source = str(path)
        try:
            loaded = load_yaml(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SynthConfigError(
                f"No fraud config at {path}. Pass --config with an existing YAML file, or leave "
                "it out for the defaults."
            ) from exc
        except yaml.YAMLError as exc:
            where = yaml_error_location(exc)
            raise SynthConfigError(f"{path}{where} is not valid YAML: {exc}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise SynthConfigError(f"Cannot read {path}: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise SynthConfigError(
                f"{path} must hold a mapping of settings (seed, n_customers, days, ...)."
            )
        raw = loaded
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return parse_fraud_config(raw, source)


def dump_fraud_config(config: FraudConfig) -> str:
    """The config as YAML, every setting written out (so a dataset can be regenerated)."""
    data = config.model_dump(mode="json")
    data["n_terminals"] = config.terminals
    return yaml.safe_dump(data, sort_keys=False, width=100)
