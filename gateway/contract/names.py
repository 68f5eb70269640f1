"""The XML names of the wire contract: namespaces, SOAP actions and the gateway's fault detail.

Invariant: the server, the client library and the tools spell a namespace or an action from here,
so the wire names exist once.
"""

from __future__ import annotations

__all__ = [
    "ACTION_PREFIX",
    "CONNECTOR_NS",
    "FAULT_NS",
    "SEND_XML_ACTION",
    "SOAP12_ENV",
    "SOAP_ENV",
    "SSDN_COMMON_NS",
    "SSDN_MANAGE_ACCESS_NS",
    "SSDN_SERVICE_NS",
    "TNS",
    "WSSE",
    "WSSE_BASE64",
    "WSSE_PASSWORD_DIGEST",
    "WSSE_PASSWORD_TEXT",
    "WSU",
    "action_of",
    "qname",
]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
TNS = "urn:ksz-gateway:repertorium:v1"
FAULT_NS = "urn:ksz-gateway:fault:v1"  # the gateway's own fault detail (not a message of the contract)
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_TOKEN_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
WSSE_PASSWORD_DIGEST = _TOKEN_PROFILE + "#PasswordDigest"
WSSE_PASSWORD_TEXT = _TOKEN_PROFILE + "#PasswordText"
WSSE_BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

SSDN_SERVICE_NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Service"  # the legacy front's SSDN documents
SSDN_COMMON_NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Common"
SSDN_MANAGE_ACCESS_NS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAccess"
CONNECTOR_NS = "http://ksz-bcss.fgov.be/connectors/WebServiceConnector"  # the legacy front's xmlString
SEND_XML_ACTION = CONNECTOR_NS + "/sendXML"

ACTION_PREFIX = TNS + "/"


def qname(namespace: str, local: str) -> str:
    """Clark notation, as lxml spells a tag: ``{namespace}local``."""
    return f"{{{namespace}}}{local}"


def action_of(operation: str) -> str:
    """The SOAPAction of an operation: ``urn:ksz-gateway:repertorium:v1/<Operation>``."""
    return ACTION_PREFIX + operation
