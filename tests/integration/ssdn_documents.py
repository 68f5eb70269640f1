"""SSDN request documents written the way OCMW software writes them, for the legacy front's tests.

Lino Welfare builds its ManageAccess documents with suds' ``sax`` elements and sends ``str(element)``: a
pretty-printed document without an XML declaration, ``&apos;`` for quotes, the ``ssdn:`` and ``mar:`` prefixes,
``common:`` declared again on each date, and (as real clients do) a Sector and a QueryRegister for every action
and a ProofOfAuthentication that may be empty. ``manage_access`` writes one such document with the same library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from suds.sax.element import Element

__all__ = ["COMMON", "MANAGE_ACCESS", "SERVICE", "Proof", "Request", "Sender", "manage_access", "service_request"]

SERVICE = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Service"
COMMON = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Common"
MANAGE_ACCESS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAccess"


@dataclass(frozen=True)
class Sender:
    """The AuthorizedUser and Message a client writes: by default the demo OCMW Demostad."""

    org_unit: str | None = "0212345668"
    matrix_id: str = "17"
    matrix_sub_id: str | None = "1"
    user_id: str = "00901234567"
    email: str = "ocmw@demostad.example"
    reference: str | None = "ManageAccessRequest # 1"
    time_request: str | None = "20150110T101500"


@dataclass(frozen=True)
class Proof:
    sis_card: str | None = None
    id_card: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    birth_date: str | None = None


@dataclass(frozen=True)
class Request:
    """One ManageAccessRequest as a client fills it in."""

    action: str
    ssin: str = "68060105329"
    purpose: str | None = "1"
    start: date | str = date(2015, 1, 10)
    end: date | str | None = None
    sector: str | None = "17"
    query_register: str | None = "ALL"
    proof: Proof = field(default_factory=lambda: Proof(last_name="DEMO", first_name="JAN", birth_date="1968-06-01"))
    service_id: str = "OCMWCPASManageAccess"
    version: str = "20050930"


def _text(tag: str, value: str, ns: tuple[str, str] | None = None) -> Element:
    element = Element(tag, ns=ns) if ns else Element(tag)
    element.setText(value)
    return element


def service_request(request: Request) -> Element:
    """``ssdn:ServiceRequest`` holding one ``mar:ManageAccessRequest``."""
    body = Element("mar:ManageAccessRequest", ns=("mar", MANAGE_ACCESS))
    body.append(_text("mar:SSIN", request.ssin))
    if request.purpose is not None:
        body.append(_text("mar:Purpose", request.purpose))
    period = Element("mar:Period")
    body.append(period)
    period.append(_text("common:StartDate", str(request.start), ("common", COMMON)))
    if request.end is not None:
        period.append(_text("common:EndDate", str(request.end), ("common", COMMON)))
    body.append(_text("mar:Action", request.action))
    if request.sector is not None:
        body.append(_text("mar:Sector", request.sector))
    if request.query_register is not None:
        body.append(_text("mar:QueryRegister", request.query_register))
    proof = Element("mar:ProofOfAuthentication")
    body.append(proof)
    p = request.proof
    if p.sis_card:
        proof.append(_text("mar:SISCardNumber", p.sis_card))
    if p.id_card:
        proof.append(_text("mar:IdentityCardNumber", p.id_card))
    if p.last_name or p.first_name or p.birth_date:
        person = Element("mar:PersonData")
        proof.append(person)
        person.append(_text("mar:LastName", p.last_name or ""))
        person.append(_text("mar:FirstName", p.first_name or ""))
        person.append(_text("mar:BirthDate", p.birth_date or ""))
    wrapper = Element("ssdn:ServiceRequest")
    wrapper.append(_text("ssdn:ServiceId", request.service_id))
    wrapper.append(_text("ssdn:Version", request.version))
    wrapper.append(body)
    return wrapper


def manage_access(*requests: Request, sender: Sender | None = None) -> str:
    """The text a client puts in ``xmlString``: ``str()`` of the document, as suds writes it."""
    who = sender or Sender()
    user = Element("ssdn:AuthorizedUser")
    user.append(_text("ssdn:UserID", who.user_id))
    user.append(_text("ssdn:Email", who.email))
    if who.org_unit is not None:
        user.append(_text("ssdn:OrgUnit", who.org_unit))
    user.append(_text("ssdn:MatrixID", who.matrix_id))
    if who.matrix_sub_id is not None:
        user.append(_text("ssdn:MatrixSubID", who.matrix_sub_id))
    context = Element("ssdn:RequestContext")
    context.append(user)
    if who.reference is not None or who.time_request is not None:
        message = Element("ssdn:Message")
        if who.reference is not None:
            message.append(_text("ssdn:Reference", who.reference))
        if who.time_request is not None:
            message.append(_text("ssdn:TimeRequest", who.time_request))
        context.append(message)
    root = Element("ssdn:SSDNRequest", ns=("ssdn", SERVICE))
    root.append(context)
    for request in requests:
        root.append(service_request(request))
    return str(root)
