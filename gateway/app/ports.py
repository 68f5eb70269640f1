"""The storage port: what the gateway needs from a directory database, whatever the engine.

Invariant: every change to the directory happens inside one ``Store.transaction()``: the periods, the audit
record, recorded attestations, the claimed nonce and the stored answer of a Reference are committed together or
not at all. Adapters map rows to the domain's frozen values explicitly; no domain class is a table. A store
raises only the project's errors: ``StorageError`` when its database is unavailable (a retry or an operator can
mend it), ``InternalError`` when a write breaks one of its constraints (the caller's bug: the domain keeps them
all), ``InstitutionExists`` for an enterprise number added twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from gateway.domain.catalogue import Catalogue
from gateway.domain.directory import Attestation, Institution, Integration
from gateway.domain.periods import Period, PeriodSet

if TYPE_CHECKING:
    from gateway.app.audit_chain import ChainedRecord, Checkpoint, Signer

__all__ = [
    "AuditRecord",
    "AuthFailure",
    "CertificateRecord",
    "ImportRow",
    "InstitutionRecord",
    "NonceClaim",
    "Store",
    "StoredAnswer",
    "Superseded",
    "Transaction",
]


@dataclass(frozen=True, slots=True)
class InstitutionRecord:
    """An institution that may call the gateway: enterprise number, name, sector and its WS-Security secret."""

    id: str
    name: str
    sector: int
    secret: str = field(repr=False)
    enabled: bool = True

    @property
    def institution(self) -> Institution:
        return Institution(self.id, self.name, self.sector)


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """A TLS client certificate registered for an institution: its SHA-256 fingerprint (64 lowercase hex digits
    of its DER bytes), what it says it is, and when it is valid (UTC)."""

    fingerprint: str
    institution_id: str
    subject: str
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who asked what, when, under which ticket, and what came of it (JSON-able ``request`` and ``outcome``)."""

    ticket: str
    institution_id: str
    operation: str
    at: datetime
    reference: str | None
    request: Mapping[str, Any]
    outcome: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer given to a Reference: the request's fingerprint and the JSON-able result, ticket included."""

    operation: str
    fingerprint: str
    answer: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NonceClaim:
    """A WS-Security nonce to remember in the request's own transaction: a replay is refused there."""

    institution_id: str
    nonce: str  # base64, as sent
    created: datetime
    now: datetime


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """A refused authentication: when (UTC), on which front, the institution as claimed (as sent, cut short; it
    may name none), the peer address, the refusal's reason code; ``cleared`` once a success from that address
    or an operator forgave it (kept for the record, no longer counted)."""

    at: datetime
    front: str
    institution: str
    address: str
    kind: str
    cleared: bool = False


@dataclass(frozen=True, slots=True)
class ImportRow:
    institution_id: str
    ssin: str
    code: int
    period: Period


class Superseded(Exception):
    """Raised out of a ``Transaction.tentatively`` block whose work was undone because it was not wanted."""


class Transaction(Protocol):
    """One unit of work. Reads of periods lock the persons read until the transaction ends."""

    def institution(self, institution_id: str) -> InstitutionRecord | None: ...

    def read_periods(self, institution_id: str, code: int, ssins: Sequence[str]) -> dict[str, PeriodSet]:
        """The institution's periods in ``code`` for each SSIN (absent: none), locking those persons."""
        ...

    def periods_and_attestations(
        self, institution_id: str, code: int, ssins: Sequence[str]
    ) -> tuple[dict[str, PeriodSet], dict[str, list[Attestation]]]:
        """``read_periods`` and ``attestations_of`` together: a store may answer both with one wait on its
        database."""
        ...

    def write_periods(self, institution_id: str, code: int, ssin: str, periods: PeriodSet) -> None:
        """Replace the institution's periods in ``code`` for ``ssin`` by ``periods`` (a normalized set)."""
        ...

    def integrations_of(
        self, ssin: str, window: Period, code: int | None = None, sector: int | None = None
    ) -> list[Integration]:
        """Every institution's integrations of ``ssin`` that overlap ``window``, filtered (any order)."""
        ...

    def attestations_of(self, institution_id: str, ssins: Sequence[str]) -> dict[str, list[Attestation]]: ...

    def record_attestation(self, institution_id: str, attestation: Attestation) -> None: ...

    def add_audit(self, record: AuditRecord) -> None:
        """Append ``record`` to the audit chain (``gateway.app.audit_chain``): its number and hash follow the last
        record's, and no other transaction appends until this one ends; a store given a ``Signer`` also makes
        the checkpoint that number is due for."""
        ...

    def find_answer(self, institution_id: str, reference: str) -> StoredAnswer | None:
        """The answer stored for this Reference, locking the Reference until the transaction ends."""
        ...

    def find_answer_later(self, institution_id: str, reference: str) -> Callable[[], StoredAnswer | None]:
        """``find_answer``, its result given when asked for: a store that pipelines its statements sends the lock
        and the lookup now, and answers with its next wait on its database."""
        ...

    def tentatively(self, superseded: Callable[[], bool]) -> AbstractContextManager[None]:
        """Run the block so that its work can be undone: when ``superseded()`` says so, asked before the block's
        work reaches the database (or, in a store that pipelines its statements, with the block's first wait on
        it), whatever the block did in the transaction is undone and ``Superseded`` raised out of the block; the
        transaction goes on. The block's reads come before its writes, as every use case's do."""
        ...

    def save_answer(self, institution_id: str, reference: str, answer: StoredAnswer) -> None: ...

    def claim_nonce(self, claim: NonceClaim) -> bool:
        """Remember the nonce; False when this institution used it before (a replay). Stale nonces are pruned."""
        ...

    def claim_nonce_deferred(self, claim: NonceClaim) -> None:
        """``claim_nonce``, a replay raising ``NonceReplayed``: at once, or (a store that pipelines its statements)
        with the transaction's next wait on its database, before any read made after the claim is answered and
        before anything commits. Either way the transaction rolls back."""
        ...

    def certificate(self, fingerprint: str) -> CertificateRecord | None:
        """The registered certificate of this SHA-256 fingerprint, if any."""
        ...


class Store(Protocol):
    """A directory database: SQLite (embedded, the default), PostgreSQL (many processes and machines) or memory."""

    url: str

    def upgrade(self) -> int:
        """Create or migrate the schema to the newest version; return that version."""
        ...

    def schema_version(self) -> int:
        """The schema version the database holds, read without changing anything (``StorageError`` when it holds
        no schema at all)."""
        ...

    def count_integrations(self) -> int:
        """How many integration periods the directory holds, all institutions together."""
        ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction: commits when the block ends, rolls back when it raises."""
        ...

    # Operator's administration
    def add_institution(self, record: InstitutionRecord) -> None: ...

    def institutions(self) -> list[InstitutionRecord]: ...

    def set_secret(self, institution_id: str, secret: str) -> bool: ...

    def set_enabled(self, institution_id: str, enabled: bool) -> bool: ...

    def add_certificate(self, record: CertificateRecord) -> bool:
        """Register a certificate for its institution; False when that fingerprint is registered already
        (``UnknownInstitution`` when the institution does not exist)."""
        ...

    def remove_certificate(self, institution_id: str, fingerprint: str) -> bool:
        """Unregister the institution's certificate of that fingerprint; False when it has none such."""
        ...

    def certificates(self) -> list[CertificateRecord]:
        """Every registered certificate, by institution then fingerprint."""
        ...

    # Failed authentications (each call its own short transaction, never a request's)
    def record_auth_failure(self, failure: AuthFailure, prune_before: datetime | None = None) -> None:
        """Keep ``failure``; with ``prune_before``, first delete the records older than that moment."""
        ...

    def auth_failures(
        self,
        *,
        since: datetime | None = None,
        institution: str | None = None,
        address: str | None = None,
        limit: int | None = None,
    ) -> list[AuthFailure]:
        """The records at or after ``since`` that match, newest first, at most ``limit``."""
        ...

    def failing_addresses(self, since: datetime) -> list[tuple[str, datetime]]:
        """Each address with an uncleared record at or after ``since``, with its newest record's time."""
        ...

    def clear_auth_failures(self, address: str, institution: str | None = None) -> int:
        """Mark the address's uncleared records (only ``institution``'s, when given) cleared; how many."""
        ...

    def catalogue(self) -> Catalogue: ...

    def save_catalogue(self, catalogue: Catalogue) -> None:
        """Add or replace the sectors and codes of ``catalogue`` (others stay)."""
        ...

    def import_integrations(self, rows: Iterable[ImportRow]) -> int:
        """Merge rows into the directory (R2.5: overlapping periods coalesce); return how many were applied."""
        ...

    def export_integrations(self) -> Iterator[ImportRow]: ...

    def audit_log(
        self,
        institution_id: str | None = None,
        *,
        ticket: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[AuditRecord]:
        """The audit trail in commit order, filtered: one institution's, one ticket's, ``since <= at < until``."""
        ...

    def audit_chain(self) -> Iterator[ChainedRecord]:
        """Every audit record with its number and stored hashes, by number, read page by page."""
        ...

    def audit_checkpoints(self) -> Iterator[Checkpoint]:
        """The signed checkpoints, by the number of the record each names."""
        ...

    def checkpoint_audit(self, signer: Signer, at: datetime) -> Checkpoint | None:
        """Sign the chain's last record now (``at``), unless it is signed already; None when the trail is empty."""
        ...

    def close(self) -> None: ...
