"""The contract's types as spyne models: the declared interface of the spyne application.

Invariant: each model has the name, namespace, children order and cardinality of its type in
xsd/repertorium-v1.xsd, so spyne's view of the service (operations, message elements) is the contract's. The hot
path reads and writes the same XML with ``gateway.contract.codec``; the unit tests check that spyne's own
serialisation of these models and the codec's output are the same canonical XML.
"""

from __future__ import annotations

from typing import Any, ClassVar

from spyne import AnyXml, Boolean, ComplexModel, Date, Enum, Integer32, Unicode, XmlAttribute

from gateway.contract.names import TNS

__all__ = [
    "CheckAccessRequest",
    "CheckAccessResponse",
    "ConsultRequest",
    "ConsultResponse",
    "DesintegrateResponse",
    "IntegrateResponse",
    "IntegrationRequest",
    "SendFlowRequest",
    "SendFlowResponse",
]

_ONE = {"min_occurs": 1, "nillable": False}
_OPTIONAL = {"min_occurs": 0, "nillable": False}


def _many(maximum: int | str = "unbounded", minimum: int = 0) -> dict[str, object]:
    return {"min_occurs": minimum, "max_occurs": maximum, "nillable": False}


SSIN = Unicode(pattern="[0-9]{11}", type_name="SSINType")
EnterpriseNumber = Unicode(pattern="[0-9]{10}", type_name="EnterpriseNumberType")
QualityCode = Integer32(type_name="QualityCodeType")
Sector = Integer32(type_name="SectorType")
Reference = Unicode(min_len=1, max_len=64, type_name="ReferenceType")
Ticket = Unicode(min_len=1, max_len=64, type_name="TicketType")
OkValue = Enum("YES", "NO", "WARNING", type_name="OkType")
ReturnCode = Integer32(values=[0, 1, 10000], type_name="ReturnCodeType")
Severity = Enum("INFORMATION", "WARNING", "ERROR", type_name="SeverityType")
ReasonCode = Unicode(min_len=1, max_len=64, pattern="[A-Z0-9_]+", type_name="ReasonCodeType")
IntegrateStatus = Enum("INTEGRATED", "ALREADY_INTEGRATED", "REFUSED", type_name="IntegrateStatusType")
DesintegrateStatus = Enum("DESINTEGRATED", "NOTHING_TO_REMOVE", "REFUSED", type_name="DesintegrateStatusType")
FlowId = Unicode(min_len=1, max_len=64, type_name="FlowIdType")
RuleId = Unicode(min_len=1, max_len=64, type_name="RuleIdType")
Year = Integer32(ge=1, le=9999, type_name="YearType")
Role = Enum("SUBJECT", "MAIN", "PARTNER", "ADDITIONAL", type_name="RoleType")
Aid = Enum("LIVING_WAGE", "EQUIVALENT_LIVING_WAGE", "OTHER_FINANCIAL_AID", "EMPLOYMENT_ART60", type_name="AidType")
Decision = Enum("ALLOWED", "REFUSED", type_name="DecisionType")
# AnyXmlType: any XML in a wrapper element (a flow's payload, the provider's answer); spyne holds one element.
AnyXmlContent = AnyXml(min_occurs=0, nillable=False)


class _Model(ComplexModel):  # type: ignore[misc]
    __namespace__ = TNS


class Period(_Model):
    __type_name__ = "PeriodType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [("StartDate", Date(**_ONE)), ("EndDate", Date(**_OPTIONAL))]


class PeriodList(_Model):
    __type_name__ = "PeriodListType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [("Period", Period.customize(**_many()))]


class Information(_Model):
    __type_name__ = "InformationType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [("FieldName", Unicode(**_ONE)), ("FieldValue", Unicode(**_ONE))]


class Detail(_Model):
    __type_name__ = "DetailType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("Severity", Severity.customize(**_ONE)),
        ("ReasonCode", ReasonCode.customize(**_ONE)),
        ("Diagnostic", Unicode(**_ONE)),
        ("Information", Information.customize(**_many())),
    ]


class ResultSummary(_Model):
    __type_name__ = "ResultSummaryType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("ReturnCode", ReturnCode.customize(**_ONE)),
        ("Detail", Detail.customize(**_many())),
        ("ok", XmlAttribute(OkValue, use="required")),
    ]


class Person(_Model):
    __type_name__ = "PersonType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [("SSIN", SSIN.customize(**_ONE))]


class IntegratePersonResult(_Model):
    __type_name__ = "IntegratePersonResultType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("SSIN", SSIN.customize(**_ONE)),
        ("Status", IntegrateStatus.customize(**_ONE)),
        ("Detail", Detail.customize(**_many())),
        ("Periods", PeriodList.customize(**_OPTIONAL)),
    ]


class DesintegratePersonResult(_Model):
    __type_name__ = "DesintegratePersonResultType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("SSIN", SSIN.customize(**_ONE)),
        ("Status", DesintegrateStatus.customize(**_ONE)),
        ("Detail", Detail.customize(**_many())),
        ("Periods", PeriodList.customize(**_OPTIONAL)),
    ]


class Institution(_Model):
    __type_name__ = "InstitutionType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("Id", EnterpriseNumber.customize(**_ONE)),
        ("Name", Unicode(**_ONE)),
        ("Sector", Sector.customize(**_ONE)),
    ]


class Integration(_Model):
    __type_name__ = "IntegrationType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("Institution", Institution.customize(**_ONE)),
        ("QualityCode", QualityCode.customize(**_ONE)),
        ("Period", Period.customize(**_ONE)),
    ]


class IntegrationRequest(_Model):
    """IntegrateRequest and DesintegrateRequest share this type."""

    __type_name__ = "IntegrationRequestType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("Reference", Reference.customize(**_OPTIONAL)),
        ("QualityCode", QualityCode.customize(**_ONE)),
        ("Period", Period.customize(**_ONE)),
        ("Person", Person.customize(**_many(50, 1))),
    ]


class IntegrateResponse(_Model):
    __type_name__ = "IntegrateResponseType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("ResultSummary", ResultSummary.customize(**_ONE)),
        ("Ticket", Ticket.customize(**_ONE)),
        ("PersonResult", IntegratePersonResult.customize(**_many(50))),
    ]


class DesintegrateResponse(_Model):
    __type_name__ = "DesintegrateResponseType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("ResultSummary", ResultSummary.customize(**_ONE)),
        ("Ticket", Ticket.customize(**_ONE)),
        ("PersonResult", DesintegratePersonResult.customize(**_many(50))),
    ]


class ConsultRequest(_Model):
    __type_name__ = "ConsultRequestType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("Reference", Reference.customize(**_OPTIONAL)),
        ("SSIN", SSIN.customize(**_ONE)),
        ("Period", Period.customize(**_ONE)),
        ("QualityCode", QualityCode.customize(**_OPTIONAL)),
        ("Sector", Sector.customize(**_OPTIONAL)),
    ]


class ConsultResponse(_Model):
    __type_name__ = "ConsultResponseType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("ResultSummary", ResultSummary.customize(**_ONE)),
        ("Ticket", Ticket.customize(**_ONE)),
        ("Integration", Integration.customize(**_many())),
    ]


class FlowPerson(_Model):
    __type_name__ = "FlowPersonType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [("SSIN", SSIN.customize(**_ONE)), ("Role", Role.customize(**_ONE))]


class PersonDecision(_Model):
    __type_name__ = "PersonDecisionType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("SSIN", SSIN.customize(**_ONE)),
        ("Role", Role.customize(**_ONE)),
        ("Allowed", Boolean(**_ONE)),
        ("Rule", RuleId.customize(**_ONE)),
        ("Detail", Detail.customize(**_many())),
        ("SatisfiedBy", Period.customize(**_many())),
        ("MissingDays", Period.customize(**_many())),
    ]


class IntegrationMade(_Model):
    __type_name__ = "IntegrationMadeType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("SSIN", SSIN.customize(**_ONE)),
        ("QualityCode", QualityCode.customize(**_ONE)),
        ("Period", Period.customize(**_ONE)),
    ]


class CheckAccessRequest(_Model):
    __type_name__ = "CheckAccessRequestType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("Reference", Reference.customize(**_OPTIONAL)),
        ("Flow", FlowId.customize(**_ONE)),
        ("Person", FlowPerson.customize(**_many(50, 1))),
        ("ConsultationPeriod", Period.customize(**_OPTIONAL)),
        ("EffectiveDate", Date(**_OPTIONAL)),
        ("ValidityPeriod", Period.customize(**_OPTIONAL)),
        ("DecisionPeriod", Period.customize(**_OPTIONAL)),
        ("DeliveryYear", Year.customize(**_OPTIONAL)),
        ("Aid", Aid.customize(**_OPTIONAL)),
    ]


class CheckAccessResponse(_Model):
    __type_name__ = "CheckAccessResponseType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("ResultSummary", ResultSummary.customize(**_ONE)),
        ("Ticket", Ticket.customize(**_ONE)),
        ("Decision", Decision.customize(**_ONE)),
        ("PersonDecision", PersonDecision.customize(**_many(50))),
    ]


class SendFlowRequest(CheckAccessRequest):
    """CheckAccessRequestType extended with the payload (the schema's xs:extension, as spyne subclasses)."""

    __type_name__ = "SendFlowRequestType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [("Payload", AnyXmlContent)]


class SendFlowResponse(CheckAccessResponse):
    __type_name__ = "SendFlowResponseType"
    _type_info: ClassVar[list[tuple[str, Any]]] = [
        ("IntegrationMade", IntegrationMade.customize(**_many())),
        ("ProviderResponse", AnyXmlContent),
    ]
