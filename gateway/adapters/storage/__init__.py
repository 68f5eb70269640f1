"""Directory storage: the port (``base``) and its SQLite and PostgreSQL adapters, chosen by ``open_store``.

Invariant: callers hold a ``Store`` and never know the engine; a ``postgresql://`` or ``postgres://`` URL opens
PostgreSQL, anything else is the path of a SQLite file. Opening connects nothing: the first use does.
"""

from __future__ import annotations

from gateway.app.ports import AuditRecord, ImportRow, InstitutionRecord, Store, StoredAnswer, Transaction

__all__ = [
    "AuditRecord",
    "ImportRow",
    "InstitutionRecord",
    "Store",
    "StoredAnswer",
    "Transaction",
    "is_postgres_url",
    "open_store",
]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url_or_path: str) -> bool:
    return url_or_path.startswith(_POSTGRES_SCHEMES)


def open_store(url_or_path: str) -> Store:
    """The store at ``url_or_path``: PostgreSQL for a ``postgresql://`` URL, else a SQLite file path."""
    if is_postgres_url(url_or_path):
        from gateway.adapters.storage.postgres import PostgresStore

        return PostgresStore(url_or_path)
    from gateway.adapters.storage.sqlite import SqliteStore

    return SqliteStore(url_or_path)
