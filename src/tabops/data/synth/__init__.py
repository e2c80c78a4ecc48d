"""Synthetic data generators with known ground truth.

:mod:`tabops.data.synth.fraud` generates a card-transaction stream (the handbook's simulator
plus identities, late labels and a drift calendar); see ``docs/synth.md``.
"""

from tabops.data.synth.config import FraudConfig, SynthConfigError, load_fraud_config
from tabops.data.synth.fraud import FraudDataset, generate_fraud
from tabops.data.synth.output import write_fraud_files, write_fraud_tables

__all__ = [
    "FraudConfig",
    "FraudDataset",
    "SynthConfigError",
    "generate_fraud",
    "load_fraud_config",
    "write_fraud_files",
    "write_fraud_tables",
]
