"""The access-control use cases: CheckAccess (decide only) and SendFlow (decide, forward, make the effects).

Invariant: a SendFlow that is refused, or whose provider refuses or cannot be reached, changes nothing in the
directory; an allowed one makes its effects (automatic integrations, the recorded attestation) and its audit
record in one transaction, after the provider accepted the payload. Every decision an institution asks for is
audited with its reasons; the operator's ``decide`` is no exchange: it makes CheckAccess's decision and writes
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.app.exchange import REFUSED, Answers, UseCase
from gateway.app.ports import InstitutionRecord, NonceClaim, Transaction
from gateway.domain.access import (
    AccessDecision,
    AccessReason,
    Flow,
    FlowCatalogue,
    FlowRequest,
    PlannedIntegration,
    decide,
    qualifying_codes,
)
from gateway.domain.directory import Attestation, Detail, DirectoryRequest, Ok, Severity, Summary, integrate
from gateway.domain.identifiers import check_ssin
from gateway.domain.periods import PeriodSet
from gateway.domain.results import FlowResult, decode_flow, encode_flow
from gateway.errors import ProviderError

__all__ = ["FLOWS", "AccessService", "Provider", "ProviderError"]

FLOWS: Answers[FlowResult] = Answers(encode_flow, decode_flow)


class Provider(Protocol):
    """Forwards a flow's payload to the provider the catalogue names; returns its answer (XML bytes)."""

    def __call__(self, flow: Flow, payload: bytes | None, ticket: str) -> bytes | None: ...


def no_provider(flow: Flow, payload: bytes | None, ticket: str) -> bytes | None:
    raise ProviderError(f"flow {flow.id} names provider {flow.provider_url}, but this gateway forwards to none")


@dataclass
class AccessService(UseCase):
    flows: FlowCatalogue
    provider: Provider = no_provider

    def check_access(
        self,
        institution: InstitutionRecord,
        request: FlowRequest,
        reference: str | None = None,
        *,
        nonce: NonceClaim | None = None,
    ) -> FlowResult:
        """Decide without side effects (the decision is audited)."""
        exchange = self.exchange(institution, "CheckAccess", reference, request.describe(), FLOWS)
        return self.answer(
            exchange,
            nonce,
            lambda tx, detail: self._refused(detail),
            lambda tx: self._result(self._decide(tx, institution, request), ()),
        )

    def decide(self, institution: InstitutionRecord, request: FlowRequest) -> AccessDecision:
        """The decision CheckAccess would make for ``institution``, for the operator: no nonce, no Reference, no
        audit record, no effect."""
        with self.store.transaction() as tx:
            return self._decide(tx, institution, request)

    def send_flow(
        self,
        institution: InstitutionRecord,
        request: FlowRequest,
        reference: str | None = None,
        *,
        nonce: NonceClaim | None = None,
    ) -> FlowResult:
        """Decide; when allowed, forward the payload, then make the effects. Nothing applied on any failure."""
        exchange = self.exchange(institution, "SendFlow", reference, request.describe(), FLOWS)
        flow = self.flows.get(request.flow)
        with self.store.transaction() as tx:
            earlier = exchange.answer_due(tx, nonce, self._refused)
            if earlier is not None:
                return earlier
            decision = self._decide(tx, institution, request)
            if flow is None or flow.provider_url is None or not decision.allowed:
                result = self._apply(tx, institution, decision, None)
                exchange.record(tx, result)
                return result
        # A provider is called outside any transaction, so a slow provider holds no locks; the effects are
        # made afterwards in their own transaction, together with the audit record, only when it accepted.
        ticket = self.ticket()
        try:
            answer = self.provider(flow, request.payload, ticket)
        except ProviderError as exc:
            detail = Detail(
                Severity.ERROR,
                AccessReason.PROVIDER_UNAVAILABLE,
                f"The provider of flow {flow.id} did not accept the message: {exc.message}. Nothing was applied.",
                (("Flow", flow.id),),
            )
            failed = FlowResult(ticket, REFUSED, False, decision.persons, (detail,))
            with self.store.transaction() as tx:
                exchange.record(tx, failed, keep=False)
            return failed
        with self.store.transaction() as tx:
            earlier = exchange.answer_due(tx, None, self._refused)  # the same Reference may have been answered since
            if earlier is not None:
                return earlier
            result = self._apply(tx, institution, decision, answer, ticket)
            exchange.record(tx, result)
            return result

    # -- steps ---------------------------------------------------------------------------------------------

    def _decide(self, tx: Transaction, institution: InstitutionRecord, request: FlowRequest) -> AccessDecision:
        flow = self.flows.get(request.flow)
        integrations: dict[str, dict[int, PeriodSet]] = {}
        if flow is not None:
            ssins = tuple(dict.fromkeys(p.ssin for p in request.persons if check_ssin(p.ssin).valid))
            for code in qualifying_codes(flow, request.aid):
                for ssin, periods in tx.read_periods(institution.id, code, ssins).items():
                    integrations.setdefault(ssin, {})[code] = periods
        return decide(
            self.flows,
            self.catalogue,
            institution.sector,
            request.flow,
            request.persons,
            request.dates(self.today()),
            integrations,
        )

    def _apply(
        self,
        tx: Transaction,
        institution: InstitutionRecord,
        decision: AccessDecision,
        answer: bytes | None,
        ticket: str | None = None,
    ) -> FlowResult:
        ticket = ticket or self.ticket()
        if not decision.allowed:
            return self._result(decision, (), ticket=ticket)
        made = self._integrate(tx, institution, decision.effects)
        if decision.attestation_code is not None and decision.attestation_validity is not None:
            for person in decision.persons:
                tx.record_attestation(
                    institution.id,
                    Attestation(ticket, person.ssin, decision.attestation_code, decision.attestation_validity),
                )
        return self._result(decision, made, answer, ticket)

    def _integrate(
        self, tx: Transaction, institution: InstitutionRecord, planned: Sequence[PlannedIntegration]
    ) -> tuple[PlannedIntegration, ...]:
        """Merge each planned integration into the directory (R2.5), one code and period at a time."""
        groups: dict[tuple[int, Any], list[str]] = {}
        for p in planned:
            groups.setdefault((p.code, p.period), []).append(p.ssin)
        for (code, period), ssins in groups.items():
            current = tx.read_periods(institution.id, code, ssins)
            request = DirectoryRequest(code, period.start, period.end, tuple(ssins))
            # decide() already resolved the period against the code's maximum, so none is refused here.
            for outcome in integrate(self.catalogue, institution.sector, request, current):
                if outcome.changed and outcome.periods is not None:
                    tx.write_periods(institution.id, code, outcome.ssin, outcome.periods)
        return tuple(planned)

    def _result(
        self,
        decision: AccessDecision,
        made: tuple[PlannedIntegration, ...],
        answer: bytes | None = None,
        ticket: str | None = None,
    ) -> FlowResult:
        summary = Summary(Ok.YES, 0) if decision.allowed else REFUSED
        return FlowResult(
            ticket or self.ticket(), summary, decision.allowed, decision.persons, decision.details, made, answer
        )

    def _refused(self, detail: Detail) -> FlowResult:
        """The whole request refused for ``detail``: no person decided, nothing applied."""
        return FlowResult(self.ticket(), REFUSED, False, (), (detail,))
