"""The SSDN document inside ``xmlString`` answered: read, checked, carried out, and the SSDNReply written.

Invariant: whatever the text holds, the answer is an SSDNReply that validated against xsd/ssdn-service.xsd: a
document that is not well-formed, has a DOCTYPE or a processing instruction, breaks the XML limits or does not
validate is refused as a whole (ok="NO", the reason
in the ReplyContext and in a ServiceReply, an audit record), one that can be read goes to the ManageAccess use
case; nothing inside the document ever becomes a SOAP fault. A reply that fails the schema is our bug: it raises
``InvalidResponse`` and is never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lxml import etree

from gateway.app.manage_access_service import ManageAccessService
from gateway.app.observation import RequestNote
from gateway.app.ports import InstitutionRecord, NonceClaim
from gateway.contract.limits import DEFAULT_LIMITS, XmlLimits
from gateway.contract.schema import MessageSchema
from gateway.contract.ssdn import Reply, parse_document, read_document, salvage, write_reply
from gateway.domain.directory import Detail, Severity
from gateway.errors import RequestError

__all__ = ["DocumentAnswerer"]


class DocumentAnswerer:
    """Answers the text of ``xmlString`` for an authenticated institution."""

    def __init__(
        self,
        schema: MessageSchema,
        service: ManageAccessService,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: XmlLimits = DEFAULT_LIMITS,
    ) -> None:
        self._schema = schema
        self._service = service
        self._clock = clock
        self._limits = limits

    def answer(
        self,
        institution: InstitutionRecord,
        text: str,
        *,
        nonce: NonceClaim | None = None,
        received: datetime | None = None,
        note: RequestNote | None = None,
    ) -> etree._Element:
        """The validated SSDNReply to the document ``text`` (what it came to noted on the request's ``note``)."""
        arrived = received or self._clock()
        root: etree._Element | None = None
        try:
            root = parse_document(text, self._limits)
            self._schema.check_request(root)
            document = read_document(root)
        except RequestError as error:
            kept = salvage(root)
            reason = Detail(Severity.ERROR, error.code, error.message)
            outcome = self._service.refuse(institution, reason, kept.reference, count=kept.count, nonce=nonce)
            reply = Reply(outcome, arrived, self._clock(), None, kept.reference, kept.time_request)
        else:
            outcome = self._service.handle(institution, document, nonce=nonce)
            reply = Reply(outcome, arrived, self._clock(), document.user, document.reference, document.time_request)
        written = write_reply(reply)
        self._schema.check_response(written)
        if note is not None:
            note.answered_with(outcome)
        return written
