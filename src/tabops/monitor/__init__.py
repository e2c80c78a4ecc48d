"""Monitoring: how served models behave, from the prediction log and late labels."""
