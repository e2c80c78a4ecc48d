"""Batch scoring: ``tabops predict`` from files and tables to files and tables."""
