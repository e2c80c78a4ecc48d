"""Synthetic data with known ground truth, and simulation against a running server.

:mod:`tabops.synth.fraud` generates a card-transaction stream (the handbook's simulator plus
identities, late labels and a drift calendar; configured by :mod:`tabops.synth.config`,
written by :mod:`tabops.synth.output`); :mod:`tabops.synth.simulate` streams it at a server or a
table with an accelerated clock and releases the labels late. See ``docs/synth.md``.
"""
