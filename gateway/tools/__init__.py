"""Tools for integrators: sample replay, the recording proxy and the message validator.

They speak the contract over HTTP like any client, so they import the contract and the domain values, never an
adapter or the server (checked by import-linter).
"""
