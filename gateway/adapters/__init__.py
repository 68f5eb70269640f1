"""Adapters: the SOAP front (spyne), storage (SQLite, PostgreSQL, in memory) and the provider client.

An adapter may import the application layer, the domain and the contract; adapters never import each other
(checked by import-linter). Each translates its dependency's exceptions once, at its boundary, from a table.
"""
