"""What the gateway tells its operator about each request, and the port that hears it.

Invariant: one ``RequestEvent`` per HTTP request, made once, at one observation point (the composition root's
middleware), from the ``RequestNote`` the fronts fill as they learn who called and what came of it. Metrics and
logs are both ``Observer``s of the same events, so they cannot disagree; nothing here knows Prometheus or a log
format. Every label a metric could take from an event is bounded: a front, an operation the service offers (never
a name a caller sent), an outcome, reason codes of the contract or the error tree, an authentication failure's
kind. What a caller sent travels only in ``detail`` and ``institution``, which a log shows through
``gateway.app.redaction.shown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from gateway.app.access_service import Provider
from gateway.domain.access import Flow
from gateway.domain.directory import Detail, Ok, Severity, Summary
from gateway.errors import AuthenticationError, GatewayError, ProviderError, StorageError

__all__ = [
    "NOTE_KEY",
    "ObservedProvider",
    "Observer",
    "Observers",
    "Outcome",
    "RequestEvent",
    "RequestNote",
    "note_of",
]

NOTE_KEY = "ksz_gateway.note"  # where a request's note lives in its WSGI environ


class Outcome(StrEnum):
    OK = "ok"  # answered, nothing refused
    WARNING = "warning"  # answered with warnings, or with some persons refused and others not
    REFUSED = "refused"  # answered ok="NO": the request was read and refused by the rules
    FAULT = "fault"  # a SOAP fault or an HTTP error: the request could not be read, or the gateway failed
    AUTH_FAILED = "auth_failed"  # the caller proved no institution


_OUTCOME_OF_OK = {Ok.YES: Outcome.OK, Ok.WARNING: Outcome.WARNING, Ok.NO: Outcome.REFUSED}


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One request, as it ended."""

    front: str  # repertorium | connector | console
    operation: str  # an operation the front offers, or a fixed word (wsdl, unknown, ...)
    outcome: Outcome
    status: int  # the HTTP status answered
    duration_seconds: float
    method: str = "GET"
    path: str = ""  # as the client sent it: shown through redaction only
    peer: str = ""
    institution: str | None = None  # proved; or, for a failed authentication, None
    ticket: str | None = None
    reasons: tuple[str, ...] = ()  # every reason code the answer carries
    refusals: tuple[str, ...] = ()  # those that refused something (ERROR details, a fault's code)
    auth_failure: str | None = None  # the kind of a failed authentication (failed_authentication, ...)
    database_error: str | None = None  # the kind of a database failure the request met
    incident: str | None = None
    detail: str | None = None  # what was wrong, in the gateway's words (may quote the caller): redact to show


@dataclass
class RequestNote:
    """What a front has learned about the request it is answering (filled as it goes; read once at the end)."""

    front: str
    method: str = "GET"
    path: str = ""
    peer: str = ""
    observed: bool = True  # False for the operator's own probes (/health, /ready, the metrics)
    operation: str = "unknown"
    outcome: Outcome | None = None  # None: judged by the HTTP status at the end
    institution: str | None = None
    ticket: str | None = None
    reasons: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    auth_failure: str | None = None
    database_error: str | None = None
    incident: str | None = None
    detail: str | None = None
    status: int = 0

    def answered(self, summary: Summary, ticket: str, details: Iterable[Detail]) -> None:
        """An answer was given: its summary, its ticket and every detail it carries (request and persons)."""
        self.outcome = _OUTCOME_OF_OK.get(summary.ok, Outcome.OK)
        self.ticket = ticket
        for detail in details:
            reason = str(detail.reason)
            if reason not in self.reasons:
                self.reasons.append(reason)
            if detail.severity is Severity.ERROR and reason not in self.refusals:
                self.refusals.append(reason)

    def answered_with(self, result: Any) -> None:
        """An answer was given: a result of the domain (``Result``, ``DocumentOutcome``), whose details are those
        of the request, of each person and of each service request it holds."""
        details: list[Detail] = list(getattr(result, "details", ()))
        for part in (*getattr(result, "persons", ()), *getattr(result, "services", ())):
            details.extend(getattr(part, "details", ()))
        self.answered(result.summary, result.ticket, details)

    def failed(self, error: GatewayError, incident: str | None = None) -> None:
        """The request ended in ``error``: a fault, a failed authentication, or an incident."""
        self.reasons = [error.code]
        self.detail = error.message
        self.incident = incident
        if isinstance(error, AuthenticationError):
            self.outcome = Outcome.AUTH_FAILED
            self.auth_failure = error.code.lower()
            self.refusals = []
            return
        self.outcome = Outcome.FAULT
        self.refusals = [error.code]
        if isinstance(error, StorageError):
            cause = error.__cause__
            self.database_error = type(cause).__name__ if cause is not None else "StorageError"

    def refused_login(self, kind: str, detail: str) -> None:
        """A login with a secret (the console's) was refused: ``kind`` as for a token (failed_authentication,
        throttled)."""
        self.outcome = Outcome.AUTH_FAILED
        self.auth_failure = kind
        self.reasons = [kind.upper()]
        self.detail = detail

    def event(self, status: int, duration_seconds: float) -> RequestEvent:
        outcome = self.outcome
        reasons, refusals = tuple(self.reasons), tuple(self.refusals)
        if outcome is None:
            outcome = Outcome.OK if status < 400 else Outcome.FAULT
            if status >= 400 and not reasons:
                reasons = refusals = (f"HTTP_{status}",)
        return RequestEvent(
            front=self.front,
            operation=self.operation,
            outcome=outcome,
            status=status,
            duration_seconds=duration_seconds,
            method=self.method,
            path=self.path,
            peer=self.peer,
            institution=self.institution,
            ticket=self.ticket,
            reasons=reasons,
            refusals=refusals,
            auth_failure=self.auth_failure,
            database_error=self.database_error,
            incident=self.incident,
            detail=self.detail,
        )


def note_of(environ: Mapping[str, Any]) -> RequestNote:
    """The request's note; a throwaway one where nobody observes (an application used without the middleware)."""
    note = environ.get(NOTE_KEY)
    if isinstance(note, RequestNote):
        return note
    return RequestNote(front="unobserved", observed=False)


class Observer(Protocol):
    """Hears what the gateway does: each request once, each call of a flow's provider, each database failure met
    outside a request (a readiness check, a metrics scrape)."""

    def request(self, event: RequestEvent) -> None: ...

    def provider_call(self, flow: str, outcome: str) -> None: ...

    def database_error(self, kind: str) -> None: ...


class Observers:
    """Several observers as one, told in order."""

    def __init__(self, *observers: Observer) -> None:
        self._observers = observers

    def request(self, event: RequestEvent) -> None:
        for observer in self._observers:
            observer.request(event)

    def provider_call(self, flow: str, outcome: str) -> None:
        for observer in self._observers:
            observer.provider_call(flow, outcome)

    def database_error(self, kind: str) -> None:
        for observer in self._observers:
            observer.database_error(kind)


class ObservedProvider:
    """A flow's provider whose every call is told to the observer: ``ok``, or ``failed`` when it raised
    ``ProviderError`` (unreachable, late, a fault, an answer that is no SOAP)."""

    def __init__(self, provider: Provider, observer: Observer) -> None:
        self._provider = provider
        self._observer = observer

    def __call__(self, flow: Flow, payload: bytes | None, ticket: str) -> bytes | None:
        if flow.provider_url is None:
            return self._provider(flow, payload, ticket)
        try:
            answer = self._provider(flow, payload, ticket)
        except ProviderError:
            self._observer.provider_call(flow.id, "failed")
            raise
        self._observer.provider_call(flow.id, "ok")
        return answer
