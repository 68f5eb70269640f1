"""Reading the audit trail for an operator: which records concern a person, an institution, a ticket, a time.

Invariant: the trail is read once, in commit order, and never held whole: the store filters what it indexes
(institution, ticket, time), and a person is found here, as any value of the record's request or outcome that is
exactly their SSIN (every use case audits the SSINs it was asked about, whatever the shape of its request).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.app.ports import AuditRecord, Store

__all__ = ["AuditQuery", "mentions", "select"]


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """What to show; every field None shows everything. ``since`` is included, ``until`` excluded."""

    ssin: str | None = None
    institution_id: str | None = None
    ticket: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def mentions(value: Any, ssin: str) -> bool:
    """Whether ``ssin`` is one of the (JSON) ``value``'s strings, at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item == ssin:
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def select(store: Store, query: AuditQuery) -> Iterator[AuditRecord]:
    """The records ``query`` asks for, oldest first."""
    records = store.audit_log(query.institution_id, ticket=query.ticket, since=query.since, until=query.until)
    for record in records:
        if query.ssin is None or mentions(record.request, query.ssin) or mentions(record.outcome, query.ssin):
            yield record
