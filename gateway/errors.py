"""The gateway's exceptions: one root, each class with a stable machine ``code`` (the SOAP fault's reason).

    GatewayError                          code
    ├── ConfigurationError                CONFIGURATION_ERROR        bad settings or data files
    ├── StorageError                      STORAGE_UNAVAILABLE        the database failed or cannot be reached
    ├── RequestError                      (soap:Client faults: the message itself is wrong)
    │   ├── MalformedMessage              MALFORMED_MESSAGE          not well-formed XML, not a SOAP envelope
    │   ├── ForbiddenDoctype              DOCTYPE_FORBIDDEN          a DOCTYPE or entity declaration
    │   ├── EmptyBody                     EMPTY_BODY                 no request element in soap:Body
    │   ├── SchemaViolation               SCHEMA_VIOLATION           Body does not validate against xsd/
    │   ├── UnknownOperation              UNKNOWN_OPERATION          no operation of that name
    │   ├── SoapActionMismatch            SOAPACTION_MISMATCH        SOAPAction names another operation
    │   ├── MustUnderstandFault           MUST_UNDERSTAND            a mustUnderstand header we do not know
    │   ├── MessageTooLarge               MESSAGE_TOO_LARGE          body over the size limit (HTTP 413)
    │   └── UnsupportedMediaType          UNSUPPORTED_MEDIA_TYPE     Content-Type other than text/xml (HTTP 415)
    └── AuthenticationError               (wsse: faults; one faultstring whatever failed)
        ├── InvalidSecurity               INVALID_SECURITY           malformed or missing Security header
        └── FailedAuthentication          FAILED_AUTHENTICATION      unknown user, wrong digest, stale, replay

Errors carry their context as attributes (``path``, ``line``, ``operation``...). A dependency's exceptions
are translated once, at the boundary, with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "EmptyBody",
    "FailedAuthentication",
    "ForbiddenDoctype",
    "GatewayError",
    "InvalidSecurity",
    "MalformedMessage",
    "MessageTooLarge",
    "MustUnderstandFault",
    "RequestError",
    "SchemaViolation",
    "SoapActionMismatch",
    "StorageError",
    "UnknownOperation",
    "UnsupportedMediaType",
]


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    code = "GATEWAY_ERROR"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(GatewayError):
    code = "CONFIGURATION_ERROR"


class StorageError(GatewayError):
    code = "STORAGE_UNAVAILABLE"


class RequestError(GatewayError):
    """The request message is wrong: a ``soap:Client`` fault; nothing is stored."""

    code = "BAD_REQUEST"


class MalformedMessage(RequestError):
    code = "MALFORMED_MESSAGE"


class ForbiddenDoctype(RequestError):
    code = "DOCTYPE_FORBIDDEN"


class EmptyBody(RequestError):
    code = "EMPTY_BODY"


class SchemaViolation(RequestError):
    code = "SCHEMA_VIOLATION"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class UnknownOperation(RequestError):
    code = "UNKNOWN_OPERATION"

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        super().__init__(message)
        self.operation = operation


class SoapActionMismatch(RequestError):
    code = "SOAPACTION_MISMATCH"


class MustUnderstandFault(RequestError):
    code = "MUST_UNDERSTAND"


class MessageTooLarge(RequestError):
    code = "MESSAGE_TOO_LARGE"
    http_status = 413


class UnsupportedMediaType(RequestError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415


class AuthenticationError(GatewayError):
    """WS-Security refused the caller. The fault string is the same whatever part failed."""

    code = "AUTHENTICATION_FAILED"
    public_message = "The security token could not be authenticated or authorized."


class InvalidSecurity(AuthenticationError):
    code = "INVALID_SECURITY"
    public_message = "An error was discovered processing the <wsse:Security> header."


class FailedAuthentication(AuthenticationError):
    code = "FAILED_AUTHENTICATION"
