"""The domain core: periods, identifiers, the catalogue, the directory's rules, access control, result values.

It may import the standard library and ``gateway.errors`` only (checked by import-linter): every function here
is pure and every value a frozen dataclass, so the rules can be read and tested without a database or a network.
"""
