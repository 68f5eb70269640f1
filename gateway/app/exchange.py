"""One exchange's bookkeeping, shared by every use case: its Ticket, its WS-Security nonce, its Reference, its audit.

Invariant: everything an exchange writes happens in the caller's transaction, together with the use case's own
changes: the nonce is claimed first (a replay raises and rolls everything back); a Reference already answered for
the same request gives that answer again and applies nothing (unless the exchange is not ``keyed``: a front whose
References are no keys has them audited only); a Reference already used for another request is
refused with ``REFERENCE_REUSED`` (audited, not stored); every answer is audited, and the answer to a Reference is
stored so that it can be given again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from gateway.app.ports import (
    AuditRecord,
    InstitutionRecord,
    NonceClaim,
    Store,
    StoredAnswer,
    Superseded,
    Transaction,
)
from gateway.domain.catalogue import Catalogue
from gateway.domain.directory import Detail, Ok, Reason, Severity, Summary

__all__ = [
    "BRUSSELS",
    "REFUSED",
    "TICKET_LENGTH",
    "Answers",
    "Exchange",
    "UseCase",
    "brussels_today",
    "claim",
    "fingerprint",
    "new_ticket",
    "reference_reused",
    "with_context",
]

BRUSSELS = ZoneInfo("Europe/Brussels")
TICKET_LENGTH = 36  # the network's length for a Ticket, which client software stores in a field of that size
REFUSED = Summary(Ok.NO, 10000)  # the summary of an exchange refused as a whole

R = TypeVar("R")


def brussels_today() -> date:
    """The gateway's calendar day: today in Europe/Brussels (contract, "The gateway's day")."""
    return datetime.now(BRUSSELS).date()


def new_ticket() -> str:
    """A fresh Ticket: ``KSZGW-`` and 120 random bits in hex, 36 characters in all."""
    return f"KSZGW-{uuid.uuid4().hex[: TICKET_LENGTH - 6]}"


def fingerprint(operation: str, request: Mapping[str, Any]) -> str:
    """A stable digest of a request's meaning, to tell a repeated Reference from a reused one."""
    text = json.dumps({"operation": operation, "request": request}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def reference_reused(reference: str) -> Detail:
    return Detail(
        Severity.ERROR,
        Reason.REFERENCE_REUSED,
        f"Reference {reference!r} was already used by this institution for a different request; "
        "nothing was applied. Send a new Reference.",
        (("Reference", reference),),
    )


def with_context(request: Mapping[str, Any], context: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A request as audited: what it asks, and what the front that carried it adds (``context``)."""
    return request if not context else {**request, "context": dict(context)}


def claim(tx: Transaction, nonce: NonceClaim | None) -> None:
    """Remember the request's WS-Security nonce in its own transaction; a replay (``NonceReplayed``, raised at once
    or with the store's next wait on its database) rolls everything back."""
    if nonce is not None:
        tx.claim_nonce_deferred(nonce)


@dataclass(frozen=True, slots=True)
class Answers(Generic[R]):
    """How an operation's result is kept as JSON for the audit trail and for its Reference, and read back."""

    encode: Callable[[R], Mapping[str, Any]]
    decode: Callable[[Mapping[str, Any]], R]


@dataclass(frozen=True, slots=True)
class Exchange(Generic[R]):
    """One request: who sent which operation under which Reference, what it asked (as JSON) and when."""

    institution: InstitutionRecord
    operation: str
    reference: str | None
    request: Mapping[str, Any]
    at: datetime
    answers: Answers[R]
    keyed: bool = True  # False: the Reference is audited only, never looked up or kept (the legacy front's)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.operation, self.request)

    @property
    def looked_up(self) -> bool:
        """Whether the exchange's Reference may have been answered before (and is kept when answered)."""
        return self.reference is not None and self.keyed

    def answer_due(self, tx: Transaction, nonce: NonceClaim | None, refuse: Callable[[Detail], R]) -> R | None:
        """Claim the nonce; then the answer already due to the Reference, if it was used before: the first answer
        again when it was this very request, else ``refuse(REFERENCE_REUSED)``, audited. None: a new exchange."""
        claim(tx, nonce)
        if self.reference is None or not self.keyed:
            return None
        return self.answer_to(tx, tx.find_answer(self.institution.id, self.reference), refuse)

    def answer_to(self, tx: Transaction, earlier: StoredAnswer | None, refuse: Callable[[Detail], R]) -> R | None:
        """The answer due when the Reference was answered ``earlier`` (None: it was not, a new exchange)."""
        if earlier is None or self.reference is None:
            return None
        if earlier.operation == self.operation and earlier.fingerprint == self.fingerprint:
            return self.answers.decode(earlier.answer)
        refused = refuse(reference_reused(self.reference))
        self.record(tx, refused, keep=False)
        return refused

    def record(self, tx: Transaction, result: R, *, keep: bool = True) -> None:
        """The audit record of the exchange; with ``keep``, also the answer to give again for its Reference."""
        outcome = self.answers.encode(result)
        ticket = str(outcome["ticket"])
        if keep and self.keyed and self.reference is not None:
            tx.save_answer(self.institution.id, self.reference, StoredAnswer(self.operation, self.fingerprint, outcome))
        # The audit record last: appending to the audit chain holds the chain until the transaction ends.
        tx.add_audit(
            AuditRecord(ticket, self.institution.id, self.operation, self.at, self.reference, self.request, outcome)
        )


@dataclass
class UseCase:
    """What every use case of the gateway holds: the store, the catalogue, the gateway's day, its Tickets and clock."""

    store: Store
    catalogue: Catalogue
    today: Callable[[], date] = field(default=brussels_today, kw_only=True)
    ticket: Callable[[], str] = field(default=new_ticket, kw_only=True)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), kw_only=True)

    def exchange(
        self,
        institution: InstitutionRecord,
        operation: str,
        reference: str | None,
        request: Mapping[str, Any],
        answers: Answers[R],
        keyed: bool = True,
    ) -> Exchange[R]:
        return Exchange(institution, operation, reference, request, self.now(), answers, keyed)

    def answer(
        self,
        exchange: Exchange[R],
        nonce: NonceClaim | None,
        refuse: Callable[[Transaction, Detail], R],
        decide: Callable[[Transaction], R],
    ) -> R:
        """Run an exchange in one transaction: the answer already due to its Reference, else ``decide``'s, recorded.

        The Reference's lookup goes to the database with the nonce's claim, and ``decide`` runs tentatively
        beside it: where the Reference was answered before (rare), its work is undone and the earlier answer (or
        the refusal of a reused Reference) is given instead; otherwise no wait was spent on the lookup alone."""
        with self.store.transaction() as tx:
            claim(tx, nonce)
            if not exchange.looked_up:
                result = decide(tx)
            else:
                assert exchange.reference is not None
                earlier = tx.find_answer_later(exchange.institution.id, exchange.reference)
                try:
                    with tx.tentatively(lambda: earlier() is not None):
                        result = decide(tx)
                except Superseded:
                    due = exchange.answer_to(tx, earlier(), lambda detail: refuse(tx, detail))
                    assert due is not None, "superseded only by an answer given before"
                    return due
            exchange.record(tx, result)
            return result
