"""The legacy front in process, for tests: a document's text through the contract's reader, the ManageAccess use
case on a real store, and the contract's writer, each reply checked against both the project's and the
network's schemas before a test sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from lxml import etree
from network_schemas import network_schemas

from gateway.adapters.ssdn.documents import DocumentAnswerer
from gateway.app.demo import ensure_demo
from gateway.app.directory_service import DirectoryService
from gateway.app.manage_access_service import ManageAccessService
from gateway.app.ports import InstitutionRecord, NonceClaim, Store
from gateway.contract.names import SSDN_COMMON_NS, SSDN_MANAGE_ACCESS_NS, SSDN_SERVICE_NS
from gateway.contract.resources import xsd_path
from gateway.contract.schema import MessageSchema
from gateway.contract.ssdn import SSDN_XSD_FILE

__all__ = ["NS", "Answer", "LegacyFront"]

NS = {"s": SSDN_SERVICE_NS, "c": SSDN_COMMON_NS, "m": SSDN_MANAGE_ACCESS_NS}


@dataclass(frozen=True)
class Answer:
    """An SSDNReply, with the questions tests ask of it."""

    root: etree._Element

    def text(self, path: str) -> str | None:
        found = self.root.find(path, NS)
        return None if found is None else found.text

    @property
    def ok(self) -> str:
        return str(self.root.find("s:ReplyContext/c:ResultSummary", NS).get("ok"))

    @property
    def ticket(self) -> str:
        return str(self.text("s:ReplyContext/s:Message/s:Ticket"))

    def context_codes(self) -> list[str]:
        return [str(e.text) for e in self.root.findall("s:ReplyContext/c:ResultSummary/c:Detail/c:ReasonCode", NS)]

    def services(self) -> list[etree._Element]:
        return self.root.findall("s:ServiceReply", NS)

    def service_ok(self, index: int = 0) -> str:
        return str(self.services()[index].find("c:ResultSummary", NS).get("ok"))

    def codes(self, index: int = 0) -> list[str]:
        return [str(e.text) for e in self.services()[index].findall("c:ResultSummary/c:Detail/c:ReasonCode", NS)]

    def information(self, index: int = 0) -> list[tuple[str, str]]:
        return [
            (str(i.findtext("c:FieldName", namespaces=NS)), str(i.findtext("c:FieldValue", namespaces=NS) or ""))
            for i in self.services()[index].findall("c:ResultSummary/c:Detail/c:Information", NS)
        ]

    def registrations(self, index: int = 0) -> list[tuple[str, str, str | None, str, str]]:
        """(Purpose, StartDate, EndDate, OrgUnit, Register) of each registration, as written."""
        return [
            (
                str(r.findtext("m:Purpose", namespaces=NS)),
                str(r.findtext("m:Period/c:StartDate", namespaces=NS)),
                r.findtext("m:Period/c:EndDate", namespaces=NS),
                str(r.findtext("m:OrgUnit", namespaces=NS)),
                str(r.findtext("m:Register", namespaces=NS)),
            )
            for r in self.services()[index].findall("m:ManageAccessReply/m:Registrations", NS)
        ]

    def has_body(self, index: int = 0) -> bool:
        return self.services()[index].find("m:ManageAccessReply", NS) is not None


@dataclass
class LegacyFront:
    """The legacy front's document answerer around a store with the demo institutions; every reply is also
    checked against the network's schemas."""

    store: Store
    today: date = date(2015, 1, 10)
    answerer: DocumentAnswerer = field(init=False)

    def __post_init__(self) -> None:
        ensure_demo(self.store)
        schema = MessageSchema(xsd_path(SSDN_XSD_FILE).read_bytes(), SSDN_XSD_FILE, str(xsd_path(SSDN_XSD_FILE)))
        directory = DirectoryService(self.store, self.store.catalogue(), today=lambda: self.today)
        self.answerer = DocumentAnswerer(schema, ManageAccessService(directory))

    def send(self, institution: InstitutionRecord, text: str, *, nonce: NonceClaim | None = None) -> Answer:
        written = self.answerer.answer(institution, text, nonce=nonce)
        network_schemas().assert_valid(written)
        return Answer(written)
