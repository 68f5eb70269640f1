"""The legacy front's sample folder (samples/legacy): a consistent manifest, requests posted as OCMW software posts
them, replies valid under the project's and the network's schemas, and every action and every reason this front
can give shown by some sample.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree
from network_schemas import network_schemas

from gateway.contract.ssdn import REASON_CODES
from gateway.domain.directory import Reason
from gateway.domain.manage_access import LegacyReason
from gateway.errors import (
    ForbiddenDoctype,
    ForbiddenProcessingInstruction,
    MalformedMessage,
    SchemaViolation,
    XmlLimitExceeded,
)
from gateway.tools.samples import load_manifest, request_path, response_path
from gateway.tools.validate import check_bytes

FOLDER = Path(__file__).resolve().parents[2] / "samples" / "legacy"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XML_STRING = "{http://ksz-bcss.fgov.be/connectors/WebServiceConnector}xmlString"
COMMON = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Common"
MA = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAccess"
MANIFEST = load_manifest(FOLDER)
NAMES = MANIFEST.names()

# What this front can answer; ATTESTATION_AT_RISK (and with it the generic warning) needs the v1 SendFlow.
NOT_FROM_THIS_FRONT = {
    Reason.DUPLICATE_PERSON,
    Reason.REFERENCE_REUSED,
    Reason.ATTESTATION_AT_RISK,
    LegacyReason.SERVICE_REQUEST_WARNING,
}
REACHABLE = {
    REASON_CODES[str(r)]
    for r in (
        *Reason,
        *LegacyReason,
        MalformedMessage.code,
        ForbiddenDoctype.code,
        SchemaViolation.code,
        ForbiddenProcessingInstruction.code,
        XmlLimitExceeded.code,
    )
    if r not in NOT_FROM_THIS_FRONT
}


def _reply(name: str) -> etree._Element | None:
    """The SSDNReply a sample's response carries, or None for a fault."""
    envelope = etree.fromstring(response_path(FOLDER, name).read_bytes())
    carrier = envelope.find(f"{{{SOAP_ENV}}}Body/{XML_STRING}")
    return None if carrier is None else etree.fromstring(str(carrier.text).strip().encode())


def test_the_manifest_names_every_file_and_nothing_else() -> None:
    listed = {p for n in NAMES for p in (request_path(FOLDER, n).name, response_path(FOLDER, n).name)}
    assert {p.name for p in FOLDER.glob("*.xml")} == listed
    assert MANIFEST.day is not None and MANIFEST.day.isoformat() == "2015-01-10"


@pytest.mark.parametrize("name", NAMES)
def test_every_reply_validates_under_both_schemas_and_every_request_is_posted_unsigned(name: str) -> None:
    assert check_bytes(response_path(FOLDER, name).read_bytes()) == [], name
    reply = _reply(name)
    if reply is not None:
        network_schemas().assert_valid(reply)
    request = request_path(FOLDER, name).read_bytes()
    assert b"Security" not in request
    if name.startswith(("register-", "unregister-", "list-", "several-", "sendxml-")):
        assert check_bytes(request) == [], f"{name}: the request's document does not validate"
        assert (b"<SOAP-ENV:Header></SOAP-ENV:Header>" in request and b"&lt;ssdn:SSDNRequest" in request) or (
            b"<![CDATA[" in request
        )


def test_every_reason_this_front_can_give_is_shown_by_a_sample() -> None:
    shown = {
        str(code.text)
        for name in NAMES
        if (reply := _reply(name)) is not None
        for code in reply.iter(f"{{{COMMON}}}ReasonCode")
    }
    assert REACHABLE - shown == set()


def test_every_action_and_register_is_shown() -> None:
    requests = [etree.fromstring(request_path(FOLDER, n).read_bytes()) for n in NAMES if not n.startswith("fault-")]
    texts = [str(r.find(f".//{XML_STRING}").text) for r in requests if r.find(f".//{XML_STRING}") is not None]
    for action in ("REGISTER", "UNREGISTER", "LIST"):
        assert any(f"<mar:Action>{action}</mar:Action>" in t for t in texts), action
    for register in ("PRIMARY", "SECONDARY", "ALL"):
        assert any(f"<mar:QueryRegister>{register}</mar:QueryRegister>" in t and "LIST" in t for t in texts)
    assert any(re.search(r"<mar:Action>REGISTER</mar:Action>", t) and "EndDate" not in t for t in texts)
