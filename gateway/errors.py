"""The gateway's exceptions: one root, each class with a stable machine ``code`` (the SOAP fault's reason).

    GatewayError                          code
    ├── ConfigurationError                CONFIGURATION_ERROR        bad settings or data files
    │   └── CatalogueError                CATALOGUE_INVALID          a catalogue data file is malformed
    ├── StorageError                      STORAGE_UNAVAILABLE        the database failed or cannot be reached
    ├── ConflictError                     CONFLICT                   an operator's change contradicts the directory
    │   ├── InstitutionExists             INSTITUTION_EXISTS         ``institutions add`` of a known enterprise number
    │   └── UnknownInstitution            UNKNOWN_INSTITUTION        an operator command names no known institution
    ├── ProviderError                     PROVIDER_UNAVAILABLE       a flow's provider refused or cannot be reached
    ├── InternalError                     INTERNAL_ERROR             a bug: soap:Server, details only in the log
    │   └── InvalidResponse               RESPONSE_INVALID           an answer failed the schema; never sent
    ├── RequestError                      (soap:Client faults: the message itself is wrong)
    │   ├── MalformedMessage              MALFORMED_MESSAGE          not well-formed XML, not a SOAP envelope
    │   │   ├── NonUtf8Message            ENCODING_NOT_UTF8          a body not in UTF-8 (WS-I R1012, R1018)
    │   │   └── ForbiddenProcessingInstruction  PROCESSING_INSTRUCTION_FORBIDDEN  (SOAP 1.1 section 3)
    │   ├── VersionMismatch               VERSION_MISMATCH           a SOAP 1.2 (or other) envelope namespace
    │   ├── ForbiddenDoctype              DOCTYPE_FORBIDDEN          a DOCTYPE or entity declaration
    │   ├── EmptyBody                     EMPTY_BODY                 no request element in soap:Body
    │   ├── SchemaViolation               SCHEMA_VIOLATION           Body does not validate against xsd/
    │   ├── InvalidPeriod                 END_BEFORE_START           a consultation period that ends before it starts
    │   ├── UnknownOperation              UNKNOWN_OPERATION          no operation of that name
    │   ├── SoapActionMismatch            SOAPACTION_MISMATCH        SOAPAction names another operation
    │   ├── MustUnderstandFault           MUST_UNDERSTAND            a mustUnderstand header we do not know
    │   ├── MessageTooLarge               MESSAGE_TOO_LARGE          body over the size limit (HTTP 413)
    │   ├── UnsupportedMediaType          UNSUPPORTED_MEDIA_TYPE     Content-Type other than text/xml (HTTP 415)
    │   ├── XmlLimitExceeded              XML_LIMIT_EXCEEDED         too deep, too many elements, names, text
    │   └── DateOutOfRange                DATE_OUT_OF_RANGE          a day or instant outside years 1 to 9999
    ├── AuthenticationError               (wsse: faults; ``public`` is the faultstring)
    │   ├── InvalidSecurity               INVALID_SECURITY           malformed or missing Security header
    │   │   ├── IncompleteUsernameToken   USERNAME_TOKEN_INCOMPLETE  a password digest without Nonce or Created
    │   │   └── UnsupportedEncoding       UNSUPPORTED_ENCODING       a Nonce EncodingType other than Base64Binary
    │   └── FailedAuthentication          FAILED_AUTHENTICATION      unknown institution, wrong digest, disabled
    │       ├── PasswordTextRefused       PASSWORD_TEXT_REFUSED      #PasswordText where only digests are accepted
    │       ├── CreatedOutsideWindow      CREATED_OUTSIDE_WINDOW     wsu:Created too old or in the future
    │       ├── NonceReplayed             NONCE_REPLAYED             a nonce the institution used before
    │       └── AuthenticationThrottled   AUTHENTICATION_THROTTLED   too many failures from the address: retry later
    ├── SampleError                       (the integrator tools: replay, record; never raised by the server)
    │   ├── ManifestError                 MANIFEST_INVALID           the sample manifest is missing or inconsistent
    │   └── SampleTransportError          SAMPLE_TRANSPORT           no HTTP answer from the gateway being replayed to
    └── ClientError                       CLIENT_ERROR               (the client library, in the caller's process)
        ├── InvalidRequest                CLIENT_INVALID_REQUEST     the arguments make no valid request; none was sent
        ├── ClientTransportError          CLIENT_TRANSPORT           no SOAP answer: refused, reset, timeout, HTTP error
        └── FaultError                    CLIENT_FAULT               the gateway answered with a SOAP fault (``reason``)
            └── AuthenticationFailed      CLIENT_AUTHENTICATION      a WS-Security fault: unknown institution, secret...

An authentication error shows the caller only its ``public`` sentence. A plain ``FailedAuthentication`` (an
unknown institution, a wrong digest, a disabled institution) always shows the one fixed sentence of its class, so
nobody learns which institutions exist; every other refusal says what is wrong, since it reveals no secret.

Errors carry their context as attributes (``path``, ``line``, ``operation``...). A dependency's exceptions
are translated once, at the boundary, with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "AuthenticationFailed",
    "AuthenticationThrottled",
    "CatalogueError",
    "ClientError",
    "ClientTransportError",
    "ConfigurationError",
    "ConflictError",
    "CreatedOutsideWindow",
    "DateOutOfRange",
    "EmptyBody",
    "FailedAuthentication",
    "FaultError",
    "ForbiddenDoctype",
    "ForbiddenProcessingInstruction",
    "GatewayError",
    "IncompleteUsernameToken",
    "InstitutionExists",
    "InternalError",
    "InvalidPeriod",
    "InvalidRequest",
    "InvalidResponse",
    "InvalidSecurity",
    "MalformedMessage",
    "ManifestError",
    "MessageTooLarge",
    "MustUnderstandFault",
    "NonUtf8Message",
    "NonceReplayed",
    "PasswordTextRefused",
    "ProviderError",
    "RequestError",
    "SampleError",
    "SampleTransportError",
    "SchemaViolation",
    "SoapActionMismatch",
    "StorageError",
    "UnknownInstitution",
    "UnknownOperation",
    "UnsupportedEncoding",
    "UnsupportedMediaType",
    "VersionMismatch",
    "XmlLimitExceeded",
]


MAX_MESSAGE_CHARS = 1000  # a message is a sentence or two; one longer is quoting a request at length


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose. Its message is at most ``MAX_MESSAGE_CHARS`` long, cut
    short with the length it had: a message quoting a megabyte element name or value from a request would
    otherwise be copied into the fault, the SSDNReply and the log of every such request."""

    code = "GATEWAY_ERROR"
    http_status = 500

    def __init__(self, message: str) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = f"{message[: MAX_MESSAGE_CHARS - 40]}... ({len(message)} characters)"
        super().__init__(message)
        self.message = message


class ConfigurationError(GatewayError):
    code = "CONFIGURATION_ERROR"


class CatalogueError(ConfigurationError, ValueError):
    """A catalogue data file is malformed; the message names the entry."""

    code = "CATALOGUE_INVALID"


class StorageError(GatewayError):
    code = "STORAGE_UNAVAILABLE"


class ConflictError(GatewayError):
    """An operator's change that contradicts what the directory holds; nothing was changed."""

    code = "CONFLICT"


class InstitutionExists(ConflictError):
    code = "INSTITUTION_EXISTS"


class UnknownInstitution(ConflictError):
    code = "UNKNOWN_INSTITUTION"


class ProviderError(GatewayError):
    """The flow's provider refused the payload or could not be reached; ``message`` says which."""

    code = "PROVIDER_UNAVAILABLE"


class InternalError(GatewayError):
    """Something the gateway got wrong: a ``soap:Server`` fault whose text says nothing of the cause."""

    code = "INTERNAL_ERROR"


class InvalidResponse(InternalError):
    """An answer did not validate against xsd/: it is logged and replaced by a server fault, never sent."""

    code = "RESPONSE_INVALID"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class RequestError(GatewayError):
    """The request message is wrong: a ``soap:Client`` fault; nothing is stored."""

    code = "BAD_REQUEST"


class MalformedMessage(RequestError):
    code = "MALFORMED_MESSAGE"


class VersionMismatch(RequestError):
    """The envelope is not in the SOAP 1.1 namespace (a ``soap:VersionMismatch`` fault)."""

    code = "VERSION_MISMATCH"


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


class InvalidPeriod(RequestError):
    """A period the schema accepts but no request can mean: its end lies before its start."""

    code = "END_BEFORE_START"


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


class NonUtf8Message(MalformedMessage):
    """The body is not UTF-8, or its XML declaration names another encoding (WS-I Basic Profile R1012, R1018)."""

    code = "ENCODING_NOT_UTF8"


class ForbiddenProcessingInstruction(MalformedMessage):
    """A processing instruction, which SOAP 1.1 (section 3) and WS-I Basic Profile R1009 forbid."""

    code = "PROCESSING_INSTRUCTION_FORBIDDEN"


class XmlLimitExceeded(RequestError):
    """A message beyond a bound of ``XmlLimits`` (depth, elements, attributes, namespaces, text); ``limit``
    names the bound."""

    code = "XML_LIMIT_EXCEEDED"

    def __init__(self, message: str, *, limit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class DateOutOfRange(RequestError, ValueError):
    """A day or instant the calendar of the gateway cannot hold: before 0001-01-01 or after 9999-12-31, the
    directory's last day (also a ``ValueError``, as date arithmetic past those days is)."""

    code = "DATE_OUT_OF_RANGE"


class AuthenticationError(GatewayError):
    """WS-Security refused the caller. ``message`` is for the log; ``public`` is what the caller reads: the class's
    fixed sentence unless the refusal was given one that says what to change (never which secret or institution)."""

    code = "AUTHENTICATION_FAILED"
    public_message = "The security token could not be authenticated or authorized."

    def __init__(self, message: str, *, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public if public is not None else type(self).public_message


class InvalidSecurity(AuthenticationError):
    """The ``wsse:Security`` header is missing or malformed (``wsse:InvalidSecurity``)."""

    code = "INVALID_SECURITY"
    public_message = "An error was discovered processing the <wsse:Security> header."


class IncompleteUsernameToken(InvalidSecurity):
    """A password digest without the ``wsse:Nonce`` or ``wsu:Created`` it is made of."""

    code = "USERNAME_TOKEN_INCOMPLETE"


class UnsupportedEncoding(InvalidSecurity):
    """A ``wsse:Nonce`` whose ``EncodingType`` is not Base64Binary."""

    code = "UNSUPPORTED_ENCODING"


class FailedAuthentication(AuthenticationError):
    """The token does not prove an enabled institution: unknown, wrong digest or disabled, one answer for all."""

    code = "FAILED_AUTHENTICATION"


class PasswordTextRefused(FailedAuthentication):
    """The secret was sent as ``#PasswordText`` to a gateway that accepts only digests."""

    code = "PASSWORD_TEXT_REFUSED"
    public_message = (
        "This gateway does not accept the secret as #PasswordText: send wsse:Password with Type "
        '"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest", '
        "the digest Base64(SHA-1(nonce + Created + secret)), together with wsse:Nonce and wsu:Created."
    )


class CreatedOutsideWindow(FailedAuthentication):
    """``wsu:Created`` lies outside the window around the gateway's clock; ``public`` names both times."""

    code = "CREATED_OUTSIDE_WINDOW"


class NonceReplayed(FailedAuthentication):
    """The institution used this ``wsse:Nonce`` before, within the window: the request may be a replay."""

    code = "NONCE_REPLAYED"
    public_message = (
        "This wsse:Nonce was used before: send a new random wsse:Nonce, and the digest made with it, in every request."
    )


class AuthenticationThrottled(FailedAuthentication):
    """Too many failed authentications from the caller's address (for the institution it names, or for any): the
    attempt is refused before its proof is looked at, the same whether the institution exists or not.
    ``retry_after`` is the whole seconds until an attempt is looked at again."""

    code = "AUTHENTICATION_THROTTLED"

    public_message = "Too many failed authentications from this address: try again later."

    def __init__(self, message: str, *, retry_after: int = 60, until: str | None = None) -> None:
        super().__init__(
            message,
            public=None
            if until is None
            else (
                "Too many failed authentications from this address: every attempt is refused unchecked until "
                f"{until} (UTC), in {retry_after} seconds; try again then, with the right credentials."
            ),
        )
        self.retry_after = retry_after


class SampleError(GatewayError):
    """The integrator tools (replay, record) could not do their work; never raised by the server."""

    code = "SAMPLE_ERROR"


class ManifestError(SampleError):
    """The sample manifest is missing, not JSON, or inconsistent (names, depends_on, sign)."""

    code = "MANIFEST_INVALID"


class SampleTransportError(SampleError):
    """No HTTP answer from the gateway a sample was sent to (refused, reset, timeout, bad URL)."""

    code = "SAMPLE_TRANSPORT"


class ClientError(GatewayError):
    """Raised by the client library (``gateway.client``) in the caller's process; the server never raises it."""

    code = "CLIENT_ERROR"


class InvalidRequest(ClientError, ValueError):
    """The arguments cannot make a request the contract admits; nothing was sent."""

    code = "CLIENT_INVALID_REQUEST"


class ClientTransportError(ClientError):
    """No SOAP answer came back: connection refused or reset, timeout, an HTTP error page, an unreadable answer.
    The client library also calls it ``TransportError``."""

    code = "CLIENT_TRANSPORT"


class FaultError(ClientError):
    """The gateway answered with a SOAP fault: ``faultcode`` as sent (``soap:Client``...), ``faultstring``, and
    ``reason``, the gateway's reason code (``SCHEMA_VIOLATION``...), when the fault carries one."""

    code = "CLIENT_FAULT"

    def __init__(self, faultcode: str, faultstring: str = "", reason: str | None = None) -> None:
        super().__init__(f"{faultcode}: {faultstring}" + (f" [{reason}]" if reason else ""))
        self.faultcode = faultcode
        self.faultstring = faultstring
        self.reason = reason


class AuthenticationFailed(FaultError):
    """A WS-Security fault: unknown or disabled institution, wrong secret, replayed or stale token."""

    code = "CLIENT_AUTHENTICATION"
