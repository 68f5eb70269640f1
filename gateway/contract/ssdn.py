"""The legacy front's wire form: the SSDN document inside ``xmlString``, read into the ManageAccess values and
written back as the SSDNReply the network would send, with the project's reason codes in their 8-digit form.

Invariant: a document is read only after the hardened parser took it (no DOCTYPE, no entity, nothing fetched)
and it validated against xsd/ssdn-service.xsd, so the reader trusts its shape and only converts values (an
integer beyond xs:int's range, which the schemas admit but no sector or code can be, is a ``SchemaViolation``); the
writer puts children in schema order and writes what clients compare exactly as they compare it (ReturnCode
0, 1 or 10000, times as yyyyMMddThhmmss in Europe/Brussels, dates with that day's Brussels offset, at most 5
Information a Detail, never an empty ReasonCode or Diagnostic). Every reason a reply can carry has one 8-digit
code in ``REASON_CODES`` (docs/legacy-reason-codes.md), whose first digit is its severity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from lxml import etree

from gateway.contract import safexml
from gateway.contract.limits import DEFAULT_LIMITS, XmlLimits
from gateway.contract.names import (
    CONNECTOR_NS,
    SOAP_ENV,
    SSDN_COMMON_NS,
    SSDN_MANAGE_ACCESS_NS,
    SSDN_SERVICE_NS,
    qname,
)
from gateway.contract.parts import first_child as _child
from gateway.contract.parts import read_date
from gateway.contract.skeletons import Skeleton
from gateway.domain.access import AccessReason
from gateway.domain.directory import Detail, Reason
from gateway.domain.manage_access import (
    Action,
    AuthorizedUser,
    DocumentOutcome,
    LegacyReason,
    ManageAccessDocument,
    ManageAccessRequest,
    PersonData,
    Proof,
    Register,
    ServiceOutcome,
    ServiceRequest,
)
from gateway.errors import (
    ForbiddenDoctype,
    ForbiddenProcessingInstruction,
    InternalError,
    MalformedMessage,
    NonUtf8Message,
    SchemaViolation,
    XmlLimitExceeded,
)

__all__ = [
    "CONNECTOR_PATH",
    "CONNECTOR_WSDL_FILE",
    "GATEWAY_AUTHOR",
    "MAX_INFORMATION",
    "NETWORK_CODES",
    "REASON_CODES",
    "SSDN_XSD_FILE",
    "Reply",
    "Salvage",
    "brussels_time",
    "common_tag",
    "manage_access_tag",
    "parse_document",
    "read_document",
    "reply_day",
    "reply_envelope",
    "request_envelope",
    "salvage",
    "service_tag",
    "write_reply",
]

CONNECTOR_PATH = "/connectors/webservice/KSZBCSSWebServiceConnectorPort"
SSDN_XSD_FILE = "ssdn-service.xsd"
CONNECTOR_WSDL_FILE = "ssdn-connector.wsdl"
GATEWAY_AUTHOR = "KSZGW"  # AuthorCodeList of the gateway's own codes
MAX_INFORMATION = 5
BRUSSELS = ZoneInfo("Europe/Brussels")

# The 8-digit form of every reason a reply can carry: first digit the severity (1 information, 2 warning,
# 3 error); 3900xxxx the directory's rules, 3910xxxx the legacy front's own checks, 3920xxxx a document that
# cannot be read, 3930xxxx the access layer's (not reachable from this front, numbered for completeness).
REASON_CODES: Mapping[str, str] = {
    # the network's own codes
    LegacyReason.SERVICE_REQUEST_ERROR: "30000001",
    LegacyReason.SERVICE_REQUEST_WARNING: "20000001",
    LegacyReason.MANDATORY_ARGUMENT_MISSING: "31000007",
    # the directory (v1 reason codes)
    Reason.ALREADY_INTEGRATED: "19000001",
    Reason.NOTHING_TO_REMOVE: "19000002",
    Reason.ATTESTATION_AT_RISK: "29000001",
    Reason.INVALID_SSIN: "39000001",
    Reason.UNKNOWN_QUALITY_CODE: "39000002",
    Reason.MANUAL_INTEGRATION_NOT_ALLOWED: "39000003",
    Reason.END_BEFORE_START: "39000004",
    Reason.PERIOD_EXCEEDS_MAXIMUM: "39000005",
    Reason.DUPLICATE_PERSON: "39000006",
    Reason.REFERENCE_REUSED: "39000007",
    Reason.DATE_OUT_OF_RANGE: "39000008",
    # the legacy front's checks
    LegacyReason.ORGUNIT_MISMATCH: "39100001",
    LegacyReason.MATRIXID_MISMATCH: "39100002",
    LegacyReason.PROOF_MISSING: "39100003",
    LegacyReason.PROOF_IDENTITY_CARD_INVALID: "39100004",
    LegacyReason.PROOF_BIRTH_DATE_MISMATCH: "39100005",
    LegacyReason.UNKNOWN_SERVICE: "39100006",
    LegacyReason.UNKNOWN_VERSION: "39100007",
    LegacyReason.TOO_MANY_SERVICE_REQUESTS: "39100008",
    # a document that cannot be read (the codes of gateway.errors)
    MalformedMessage.code: "39200001",
    ForbiddenDoctype.code: "39200002",
    SchemaViolation.code: "39200003",
    NonUtf8Message.code: "39200004",
    ForbiddenProcessingInstruction.code: "39200005",
    XmlLimitExceeded.code: "39200006",
    # the access layer (v1 CheckAccess and SendFlow)
    AccessReason.ACCESS_DENIED: "39300001",
    AccessReason.UNKNOWN_FLOW: "39300002",
    AccessReason.MISSING_FLOW_DATE: "39300003",
    AccessReason.INVALID_FLOW_DATE: "39300004",
    AccessReason.AID_NOT_APPLICABLE: "39300005",
    AccessReason.INVALID_ROLE: "39300006",
    AccessReason.NOT_INTEGRATED: "39300007",
    AccessReason.NOT_INTEGRATED_ON_DAY: "39300008",
    AccessReason.NO_DAY_IN_COMMON: "39300009",
    AccessReason.PERIOD_NOT_COVERED: "39300010",
    AccessReason.PROVIDER_UNAVAILABLE: "39300011",
}
NETWORK_CODES = frozenset({"30000001", "20000001", "31000007"})  # written without AuthorCodeList KSZGW


def service_tag(local: str) -> str:
    """An element of the SSDN Service namespace, in Clark notation."""
    return qname(SSDN_SERVICE_NS, local)


def common_tag(local: str) -> str:
    """An element of the SSDN Common namespace."""
    return qname(SSDN_COMMON_NS, local)


def manage_access_tag(local: str) -> str:
    """An element of the ManageAccess namespace."""
    return qname(SSDN_MANAGE_ACCESS_NS, local)


# The tags as the readers and writers spell them, each made once (a reply names about fifty).
_s, _c, _m = cache(service_tag), cache(common_tag), cache(manage_access_tag)


_SUB = etree.SubElement
# The XML declaration only: "<?xml" then a space. A processing instruction whose target merely starts with "xml"
# (<?xml-stylesheet ...?>) is not a declaration and must reach the parser, which refuses it.
_DECLARATION = re.compile(r"\A\s*<\?xml\s[^>]*\?>", re.DOTALL)
# xs:int: the range of v1's QualityCode and Sector, and of the directory's integer columns.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_TIME = re.compile(r"[1-2][0-9]{3}[0-1][0-9][0-3][0-9]T[0-2][0-9][0-5][0-9][0-5][0-9]")


# -- reading ---------------------------------------------------------------------------------------------------


def parse_document(text: str, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """The SSDN document that ``xmlString`` carries, read as strictly as an envelope (``safexml.read_message``:
    no DOCTYPE, no processing instruction, nothing opened, within ``limits``).

    The text is what the client escaped or wrapped in CDATA; an XML declaration in it no longer names the
    encoding (the text is already characters), so it is dropped before the document is read as UTF-8.
    """
    body = _DECLARATION.sub("", text, count=1)
    if not body.strip():
        raise MalformedMessage("xmlString is empty: it must hold an SSDNRequest document as text.")
    return safexml.read_message(body.encode("utf-8"), limits, subject="The SSDN document in xmlString")


def _text(element: etree._Element | None) -> str | None:
    return None if element is None else (element.text or "").strip()


def _required(parent: etree._Element, tag: str) -> str:
    value = _text(_child(parent, tag))
    assert value is not None, f"{tag} is required by the schema"
    return value


def _int(element: etree._Element | None) -> int | None:
    """An integer of the document (None when absent). The schemas admit any xs:integer; one beyond xs:int's range
    can name no sector or quality code and would overflow the directory's columns, so it is refused here."""
    text = _text(element)
    if element is None or text is None:
        return None
    # Python refuses to convert more than 4,300 digits, leading zeros included (a ValueError): only the
    # significant digits are converted, and only when there are few enough.
    significant = text.lstrip("+-").lstrip("0") or "0"
    value = None
    if len(significant) <= len(str(_INT_MAX)):
        value = -int(significant) if text.startswith("-") else int(significant)
    if value is None or not _INT_MIN <= value <= _INT_MAX:
        path = element.getroottree().getpath(element)
        raise SchemaViolation(
            f"The integer {text[:24]}{'...' if len(text) > 24 else ''} in {path} is outside the range this gateway "
            f"handles ({_INT_MIN} to {_INT_MAX}).",
            path=path,
            line=element.sourceline,
        )
    return value


def _proof(element: etree._Element) -> Proof:
    person = _child(element, _m("PersonData"))
    data = None
    if person is not None:
        data = PersonData(
            _required(person, _m("LastName")),
            _text(_child(person, _m("FirstName"))),
            _required(person, _m("BirthDate")),
        )
    return Proof(_text(_child(element, _m("SISCardNumber"))), _text(_child(element, _m("IdentityCardNumber"))), data)


def _manage_access(element: etree._Element) -> ManageAccessRequest:
    period = _child(element, _m("Period"))
    assert period is not None
    start = _child(period, _c("StartDate"))
    assert start is not None
    end = _child(period, _c("EndDate"))
    register = _text(_child(element, _m("QueryRegister")))
    proof = _child(element, _m("ProofOfAuthentication"))
    assert proof is not None
    return ManageAccessRequest(
        ssin=_required(element, _m("SSIN")),
        purpose=_int(_child(element, _m("Purpose"))),
        start=read_date(start),
        end=None if end is None else read_date(end),
        action=Action(_required(element, _m("Action"))),
        sector=_int(_child(element, _m("Sector"))),
        query_register=None if register is None else Register(register),
        proof=_proof(proof),
    )


def _service(element: etree._Element) -> ServiceRequest:
    children = [child for child in element if isinstance(child.tag, str)]
    body = children[2] if len(children) > 2 else None
    read = _manage_access(body) if body is not None and body.tag == _m("ManageAccessRequest") else None
    return ServiceRequest(_required(element, _s("ServiceId")), _required(element, _s("Version")), read)


def read_document(root: etree._Element) -> ManageAccessDocument:
    """An SSDNRequest that validated against xsd/ssdn-service.xsd, as ManageAccess values."""
    context = _child(root, _s("RequestContext"))
    assert context is not None
    user = _child(context, _s("AuthorizedUser"))
    assert user is not None
    org_unit = _child(user, _s("OrgUnit"))
    message = _child(context, _s("Message"))
    time_request = None if message is None else _child(message, _s("TimeRequest"))
    reference = None if message is None else _child(message, _s("Reference"))
    matrix_id = _int(_child(user, _s("MatrixID")))
    assert matrix_id is not None
    return ManageAccessDocument(
        user=AuthorizedUser(
            _required(user, _s("UserID")),
            _required(user, _s("Email")),
            None if org_unit is None else (org_unit.text or ""),
            matrix_id,
            _int(_child(user, _s("MatrixSubID"))),
        ),
        reference=None if reference is None else (reference.text or ""),
        time_request=None if time_request is None else (time_request.text or ""),
        services=tuple(_service(e) for e in root.iterchildren(_s("ServiceRequest"))),
    )


@dataclass(frozen=True, slots=True)
class Salvage:
    """What a refused document still tells, for its reply: the Reference and TimeRequest to echo (when they
    can be echoed validly) and how many service requests it holds (at least one)."""

    reference: str | None = None
    time_request: str | None = None
    count: int = 1


def salvage(root: etree._Element | None) -> Salvage:
    """Read what can be echoed from a document that could not be read as a whole (e.g. schema-invalid)."""
    if root is None or root.tag != _s("SSDNRequest"):
        return Salvage()
    message = root.find(f"{_s('RequestContext')}/{_s('Message')}")
    reference = None if message is None else message.find(_s("Reference"))
    time_request = None if message is None else message.find(_s("TimeRequest"))
    moment = None if time_request is None else time_request.text
    return Salvage(
        None if reference is None or len(reference) else (reference.text or ""),
        moment if moment is not None and _TIME.fullmatch(moment) else None,
        max(1, len(root.findall(_s("ServiceRequest")))),
    )


# -- writing ---------------------------------------------------------------------------------------------------


def brussels_time(moment: datetime) -> str:
    """A moment as the network writes it: yyyyMMddThhmmss in Europe/Brussels."""
    local = moment.astimezone(BRUSSELS)  # strftime("%Y%m%dT%H%M%S"), written out: a third of its cost
    return f"{local.year}{local.month:02d}{local.day:02d}T{local.hour:02d}{local.minute:02d}{local.second:02d}"


@lru_cache(maxsize=4096)
def reply_day(day: date) -> str:
    """A calendar day with the Europe/Brussels offset of its first moment: ``2015-01-01+01:00``."""
    offset = datetime(day.year, day.month, day.day, tzinfo=BRUSSELS).utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{day.isoformat()}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@dataclass(frozen=True, slots=True)
class Reply:
    """Everything an SSDNReply says: the outcome, what it echoes, and when the gateway received and answered."""

    outcome: DocumentOutcome
    received: datetime
    responded: datetime
    user: AuthorizedUser | None = None
    reference: str | None = None
    time_request: str | None = None


def _period(parent: etree._Element, start: date, end: date | None) -> None:
    period = _SUB(parent, _m("Period"))
    _SUB(period, _c("StartDate")).text = reply_day(start)
    if end is not None:
        _SUB(period, _c("EndDate")).text = reply_day(end)


def _detail(summary: etree._Element, detail: Detail) -> None:
    code = REASON_CODES.get(str(detail.reason))
    if code is None:
        raise InternalError(f"the reason {detail.reason} has no 8-digit form in gateway.contract.ssdn.REASON_CODES")
    element = _SUB(summary, _c("Detail"))
    _SUB(element, _c("Severity")).text = detail.severity.value
    _SUB(element, _c("ReasonCode")).text = code
    _SUB(element, _c("Diagnostic")).text = detail.diagnostic.strip() or str(detail.reason)
    if code not in NETWORK_CODES:
        _SUB(element, _c("AuthorCodeList")).text = GATEWAY_AUTHOR
    information: list[tuple[str, str]] = []
    if detail.reason not in (LegacyReason.SERVICE_REQUEST_ERROR, LegacyReason.SERVICE_REQUEST_WARNING):
        information.append(("ReasonCode", str(detail.reason)))
    information.extend((name, value) for name, value in detail.information if name.strip())
    for name, value in information[:MAX_INFORMATION]:
        item = _SUB(element, _c("Information"))
        _SUB(item, _c("FieldName")).text = name
        _SUB(item, _c("FieldValue")).text = value


def _summary(parent: etree._Element, ok: str, return_code: int, details: tuple[Detail, ...]) -> None:
    summary = _SUB(parent, _c("ResultSummary"), ok=ok)
    _SUB(summary, _c("ReturnCode")).text = str(return_code)
    for detail in details:
        _detail(summary, detail)


def _user(parent: etree._Element, user: AuthorizedUser) -> None:
    element = _SUB(parent, _s("AuthorizedUser"))
    _SUB(element, _s("UserID")).text = user.user_id
    _SUB(element, _s("Email")).text = user.email
    if user.org_unit is not None:
        _SUB(element, _s("OrgUnit")).text = user.org_unit
    _SUB(element, _s("MatrixID")).text = str(user.matrix_id)
    if user.matrix_sub_id is not None:
        _SUB(element, _s("MatrixSubID")).text = str(user.matrix_sub_id)


def _version(text: str) -> str:
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) == 8 else "20050930"


def _service_reply(root: etree._Element, service: ServiceOutcome) -> None:
    element = _SUB(root, _s("ServiceReply"))
    _summary(element, service.summary.ok.value, service.summary.return_code, service.details)
    _SUB(element, _s("ServiceId")).text = " ".join(service.service_id.split()) or "OCMWCPASManageAccess"
    _SUB(element, _s("Version")).text = _version(service.version)
    request = service.request
    if request is None or service.registrations is None:
        return
    body = _SUB(element, _m("ManageAccessReply"))
    original = _SUB(body, _m("OriginalRequest"))
    _SUB(original, _m("SSIN")).text = request.ssin
    _SUB(original, _m("Purpose")).text = str(request.purpose or 0)
    _period(original, request.start, request.end)
    _SUB(original, _m("Action")).text = request.action.value
    if request.action is Action.LIST:
        _SUB(original, _m("Register")).text = request.asked_register.value
    for registration in service.registrations:
        entry = _SUB(body, _m("Registrations"))
        _SUB(entry, _m("Purpose")).text = str(registration.purpose)
        _period(entry, registration.period.start, registration.period.end)
        _SUB(entry, _m("OrgUnit")).text = registration.org_unit
        _SUB(entry, _m("Register")).text = registration.register.value


_REPLY = Skeleton(
    lambda: etree.Element(
        _s("SSDNReply"), nsmap={None: SSDN_SERVICE_NS, "common": SSDN_COMMON_NS, "mar": SSDN_MANAGE_ACCESS_NS}
    )
)


def write_reply(reply: Reply) -> etree._Element:
    """The SSDNReply document (not yet validated: the caller checks it against xsd/ssdn-service.xsd)."""
    outcome = reply.outcome
    root = _REPLY.new()
    context = _SUB(root, _s("ReplyContext"))
    _summary(context, outcome.summary.ok.value, outcome.summary.return_code, outcome.details)
    if reply.user is not None:
        _user(context, reply.user)
    message = _SUB(context, _s("Message"))
    if reply.reference is not None:
        _SUB(message, _s("Reference")).text = reply.reference
    _SUB(message, _s("Ticket")).text = outcome.ticket
    if reply.time_request is not None:
        _SUB(message, _s("TimeRequest")).text = reply.time_request
    _SUB(message, _s("TimeReceive")).text = brussels_time(reply.received)
    _SUB(message, _s("TimeResponse")).text = brussels_time(reply.responded)
    for service in outcome.services:
        _service_reply(root, service)
    return root


# -- the SOAP envelopes of sendXML -----------------------------------------------------------------------------


def _make_envelope() -> etree._Element:
    envelope = etree.Element(qname(SOAP_ENV, "Envelope"), nsmap={"SOAP-ENV": SOAP_ENV, "ns0": CONNECTOR_NS})
    etree.SubElement(envelope, qname(SOAP_ENV, "Header"))
    body = etree.SubElement(envelope, qname(SOAP_ENV, "Body"))
    etree.SubElement(body, qname(CONNECTOR_NS, "xmlString"))
    return envelope


_ENVELOPE = Skeleton(_make_envelope)


def _envelope(text: str, *, cdata: bool) -> bytes:
    envelope = _ENVELOPE.new()
    carrier = envelope[1][0]
    carrier.text = etree.CDATA(text) if cdata else text
    data: bytes = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    return data


def reply_envelope(document: etree._Element) -> bytes:
    """The sendXML answer: ``xmlString`` holding the SSDNReply as escaped text (no XML declaration)."""
    return _envelope(etree.tostring(document, encoding="unicode"), cdata=False)


def request_envelope(document: str, *, cdata: bool = False) -> bytes:
    """A sendXML request as OCMW software posts it: an empty Header, the document escaped (or in CDATA)."""
    return _envelope(document, cdata=cdata)
