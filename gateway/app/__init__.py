"""The application layer: the ports (``Store``, ``Transaction``, ``Provider``) beside the use cases that need them.

It may import the domain and ``gateway.errors`` only, never an adapter, the contract or an entry point (checked
by import-linter): a use case is one transaction over a port, tested against the in-memory store.
"""
