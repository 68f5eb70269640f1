"""Directory storage: the port's SQLite, PostgreSQL and in-memory adapters, chosen by ``open_store``.

Invariant: callers hold a ``Store`` and never know the engine; a ``postgresql://`` or ``postgres://`` URL opens
PostgreSQL, ``memory:`` (or ``memory:NAME``) a store in this process's memory, anything else is the path of a
SQLite file. Opening connects nothing: the first use does. What the SQL engines share is written once
(``sql``), what differs in a dialect of each (``sqlite``, ``postgres``). A store given a cipher keeps
institution secrets sealed at rest (``at_rest``); the operator's administration of that, and the probe that
says whether the database answers, are the ``DirectoryStore``'s beyond the port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from gateway.app.audit_chain import Signer
from gateway.app.ports import AuditRecord, ImportRow, InstitutionRecord, Store, StoredAnswer, Transaction

if TYPE_CHECKING:
    from gateway.adapters.storage.at_rest import SecretCipher

__all__ = [
    "MEMORY_SCHEME",
    "AuditRecord",
    "DirectoryStore",
    "ImportRow",
    "InstitutionRecord",
    "Store",
    "StoredAnswer",
    "Transaction",
    "exposed_files",
    "open_store",
]

MEMORY_SCHEME = "memory:"
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class DirectoryStore(Store, Protocol):
    """A store as ``open_store`` gives it: the port, and what the operator's commands do beyond it."""

    def probe(self) -> None:
        """Reach the database once; ``StorageError`` saying why it cannot be reached."""
        ...

    def seal_secrets(self) -> int:
        """Check that every institution secret can be read (``StorageError`` naming the first that cannot),
        then seal those stored in clear with the store's key; how many were sealed."""
        ...

    def reseal_secrets(self, cipher: SecretCipher) -> int:
        """Seal every institution secret again with ``cipher``'s key, in one transaction; how many."""
        ...


def open_store(
    url_or_path: str,
    *,
    cipher: SecretCipher | None = None,
    timeout: float | None = None,
    connections: int | None = None,
    audit_signer: Signer | None = None,
) -> DirectoryStore:
    """The store at ``url_or_path``: PostgreSQL for a ``postgresql://`` URL, memory for ``memory:``, else SQLite.

    ``cipher`` seals institution secrets at rest; with ``audit_signer``, its transactions sign a checkpoint
    of the audit chain whenever one is due. For PostgreSQL, ``timeout`` bounds how long a request waits for
    a connection and ``connections`` is how many the pool may open at least (each the pool's default otherwise).
    """
    if url_or_path.startswith(_POSTGRES_SCHEMES):
        from gateway.adapters.storage.postgres import POOL_SIZE, POOL_TIMEOUT, PostgresStore

        return PostgresStore(
            url_or_path,
            cipher=cipher,
            audit_signer=audit_signer,
            timeout=POOL_TIMEOUT if timeout is None else timeout,
            max_size=max(POOL_SIZE, connections or 0),
        )
    if url_or_path.startswith(MEMORY_SCHEME):
        from gateway.adapters.storage.memory import MemoryStore

        return MemoryStore(url_or_path, cipher=cipher, audit_signer=audit_signer)
    from gateway.adapters.storage.sqlite import SqliteStore

    return SqliteStore(url_or_path, cipher=cipher, audit_signer=audit_signer)


def exposed_files(store: Store) -> list[tuple[str, int]]:
    """The files of ``store`` that others than their owner may read or write, with their modes (a SQLite
    directory's database, -wal, -shm and lock; none for the engines that keep no file here)."""
    from gateway.adapters.storage.sqlite import SqliteStore

    return store.exposed_files() if isinstance(store, SqliteStore) else []
