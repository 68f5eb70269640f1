"""Directory storage: the port's SQLite, PostgreSQL and in-memory adapters, chosen by ``open_store``.

Invariant: callers hold a ``Store`` and never know the engine; a ``postgresql://`` or ``postgres://`` URL opens
PostgreSQL, ``memory:`` (or ``memory:NAME``) a store in this process's memory, anything else is the path of a
SQLite file. Opening connects nothing: the first use does. What the SQL engines share is written once
(``sql``), what differs in a dialect of each (``sqlite``, ``postgres``).
"""

from __future__ import annotations

from gateway.app.audit_chain import Signer
from gateway.app.ports import AuditRecord, ImportRow, InstitutionRecord, Store, StoredAnswer, Transaction

__all__ = [
    "MEMORY_SCHEME",
    "AuditRecord",
    "ImportRow",
    "InstitutionRecord",
    "Store",
    "StoredAnswer",
    "Transaction",
    "open_store",
]

MEMORY_SCHEME = "memory:"
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(url_or_path: str, *, audit_signer: Signer | None = None) -> Store:
    """The store at ``url_or_path``: PostgreSQL for a ``postgresql://`` URL, memory for ``memory:``, else SQLite.
    With ``audit_signer``, its transactions sign a checkpoint of the audit chain whenever one is due."""
    if url_or_path.startswith(_POSTGRES_SCHEMES):
        from gateway.adapters.storage.postgres import PostgresStore

        return PostgresStore(url_or_path, audit_signer=audit_signer)
    if url_or_path.startswith(MEMORY_SCHEME):
        from gateway.adapters.storage.memory import MemoryStore

        return MemoryStore(url_or_path, audit_signer=audit_signer)
    from gateway.adapters.storage.sqlite import SqliteStore

    return SqliteStore(url_or_path, audit_signer=audit_signer)
