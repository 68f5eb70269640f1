"""The legacy front's documents from the other side: an SSDNRequest written as OCMW software writes it, and an
SSDNReply read back into values (for the client library and the sample tools).

Invariant: a request written here validates against xsd/ssdn-service.xsd and has the shape real clients send
(pretty-printed, no XML declaration, ``ssdn:``, ``mar:`` and ``common:`` prefixes, Sector and QueryRegister for
every action, a ProofOfAuthentication that may be empty); a reply is read only after the hardened parser took it,
and every value it holds is read, none invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from lxml import etree

from gateway.contract import safexml
from gateway.contract.names import SSDN_COMMON_NS, SSDN_MANAGE_ACCESS_NS, SSDN_SERVICE_NS
from gateway.contract.parts import read_date
from gateway.contract.ssdn import common_tag, manage_access_tag, service_tag
from gateway.domain.manage_access import (
    SERVICE_ID,
    SERVICE_VERSION,
    AuthorizedUser,
    ManageAccessRequest,
    Register,
    Registration,
)
from gateway.domain.periods import Period

__all__ = ["ReplyDetail", "ServiceAnswer", "SsdnAnswer", "read_reply", "write_request"]

_NSMAP = {"ssdn": SSDN_SERVICE_NS}


_s, _c, _m = service_tag, common_tag, manage_access_tag


def _text(parent: etree._Element, tag: str, value: str, nsmap: dict[str, str] | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag, nsmap=nsmap)
    element.text = value
    return element


_COMMON = {"common": SSDN_COMMON_NS}  # declared on each date, as suds writes it


def _body(parent: etree._Element, request: ManageAccessRequest) -> None:
    body = etree.SubElement(parent, _m("ManageAccessRequest"), nsmap={"mar": SSDN_MANAGE_ACCESS_NS})
    _text(body, _m("SSIN"), request.ssin)
    if request.purpose is not None:
        _text(body, _m("Purpose"), str(request.purpose))
    period = etree.SubElement(body, _m("Period"))
    _text(period, _c("StartDate"), request.start.isoformat(), _COMMON)
    if request.end is not None:
        _text(period, _c("EndDate"), request.end.isoformat(), _COMMON)
    _text(body, _m("Action"), request.action.value)
    if request.sector is not None:
        _text(body, _m("Sector"), str(request.sector))
    if request.query_register is not None:
        _text(body, _m("QueryRegister"), request.query_register.value)
    proof = etree.SubElement(body, _m("ProofOfAuthentication"))
    if request.proof.sis_card is not None:
        _text(proof, _m("SISCardNumber"), request.proof.sis_card)
    if request.proof.id_card is not None:
        _text(proof, _m("IdentityCardNumber"), request.proof.id_card)
    person = request.proof.person
    if person is not None:
        data = etree.SubElement(proof, _m("PersonData"))
        _text(data, _m("LastName"), person.last_name)
        _text(data, _m("FirstName"), person.first_name or "")
        _text(data, _m("BirthDate"), person.birth_date)


def write_request(
    user: AuthorizedUser,
    requests: Sequence[ManageAccessRequest],
    *,
    reference: str | None = None,
    time_request: str | None = None,
) -> str:
    """The text of an SSDNRequest holding one ServiceRequest per ManageAccessRequest."""
    root = etree.Element(_s("SSDNRequest"), nsmap=_NSMAP)
    context = etree.SubElement(root, _s("RequestContext"))
    who = etree.SubElement(context, _s("AuthorizedUser"))
    _text(who, _s("UserID"), user.user_id)
    _text(who, _s("Email"), user.email)
    if user.org_unit is not None:
        _text(who, _s("OrgUnit"), user.org_unit)
    _text(who, _s("MatrixID"), str(user.matrix_id))
    if user.matrix_sub_id is not None:
        _text(who, _s("MatrixSubID"), str(user.matrix_sub_id))
    if reference is not None or time_request is not None:
        message = etree.SubElement(context, _s("Message"))
        if reference is not None:
            _text(message, _s("Reference"), reference)
        if time_request is not None:
            _text(message, _s("TimeRequest"), time_request)
    for request in requests:
        service = etree.SubElement(root, _s("ServiceRequest"))
        _text(service, _s("ServiceId"), SERVICE_ID)
        _text(service, _s("Version"), SERVICE_VERSION)
        _body(service, request)
    written: str = etree.tostring(root, encoding="unicode", pretty_print=True)
    return written


# -- the reply -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyDetail:
    """One Detail of a reply, as written: the 8-digit code, the sentence, who owns the code, named values."""

    severity: str
    code: str
    diagnostic: str
    author: str | None
    information: tuple[tuple[str, str], ...]

    @property
    def reason(self) -> str | None:
        """The project's reason code (the Information ``ReasonCode``), when the gateway gave one."""
        return next((value for name, value in self.information if name == "ReasonCode"), None)


@dataclass(frozen=True, slots=True)
class ServiceAnswer:
    """One ServiceReply: its outcome, its details and (unless it was refused) its registrations."""

    ok: str
    return_code: str
    details: tuple[ReplyDetail, ...]
    service_id: str
    version: str
    registrations: tuple[Registration, ...] | None


@dataclass(frozen=True, slots=True)
class SsdnAnswer:
    """A whole SSDNReply."""

    ok: str
    return_code: str
    details: tuple[ReplyDetail, ...]
    ticket: str
    reference: str | None
    services: tuple[ServiceAnswer, ...]
    text: str


def _details(summary: etree._Element) -> tuple[ReplyDetail, ...]:
    return tuple(
        ReplyDetail(
            (d.findtext(_c("Severity")) or "").strip(),
            (d.findtext(_c("ReasonCode")) or "").strip(),
            (d.findtext(_c("Diagnostic")) or "").strip(),
            d.findtext(_c("AuthorCodeList")),
            tuple(
                ((i.findtext(_c("FieldName")) or "").strip(), (i.findtext(_c("FieldValue")) or "").strip())
                for i in d.findall(_c("Information"))
            ),
        )
        for d in summary.findall(_c("Detail"))
    )


def _period(element: etree._Element) -> Period:
    start = element.find(_c("StartDate"))
    end = element.find(_c("EndDate"))
    if start is None:
        raise ValueError("a Period without StartDate")
    first: date = read_date(start)
    return Period(first, None if end is None else read_date(end))


def _registration(element: etree._Element) -> Registration:
    period = element.find(_m("Period"))
    if period is None:
        raise ValueError("a registration without Period")
    return Registration(
        int((element.findtext(_m("Purpose")) or "0").strip()),
        _period(period),
        (element.findtext(_m("OrgUnit")) or "").strip(),
        Register((element.findtext(_m("Register")) or "").strip()),
    )


def _service(element: etree._Element) -> ServiceAnswer:
    summary = element.find(_c("ResultSummary"))
    assert summary is not None
    body = element.find(_m("ManageAccessReply"))
    registrations = None
    if body is not None:
        registrations = tuple(_registration(r) for r in body.findall(_m("Registrations")))
    return ServiceAnswer(
        str(summary.get("ok")),
        (summary.findtext(_c("ReturnCode")) or "").strip(),
        _details(summary),
        (element.findtext(_s("ServiceId")) or "").strip(),
        (element.findtext(_s("Version")) or "").strip(),
        registrations,
    )


def read_reply(text: str) -> SsdnAnswer:
    """An SSDNReply's text as values (``ValueError`` when it is not an SSDNReply)."""
    try:
        root = safexml.fromstring(text.encode("utf-8"))
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the reply is not well-formed XML: {exc}") from exc
    if root.tag != _s("SSDNReply"):
        raise ValueError(f"the reply is {root.tag}, not an SSDNReply")
    context = root.find(_s("ReplyContext"))
    summary = None if context is None else context.find(_c("ResultSummary"))
    if context is None or summary is None:
        raise ValueError("the SSDNReply has no ReplyContext/ResultSummary")
    message = context.find(_s("Message"))
    return SsdnAnswer(
        str(summary.get("ok")),
        (summary.findtext(_c("ReturnCode")) or "").strip(),
        _details(summary),
        "" if message is None else (message.findtext(_s("Ticket")) or ""),
        None if message is None else message.findtext(_s("Reference")),
        tuple(_service(s) for s in root.findall(_s("ServiceReply"))),
        text,
    )
