"""Serving: the HTTP app, request schema, protocols, prediction log and hot reload."""
