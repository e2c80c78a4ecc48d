"""tabops: the MLOps system for tabular models, driven by one ``tabops.yaml``."""

__version__ = "0.1.0"
