"""The HTTP side of a SOAP 1.1 endpoint, shared by the v1 front and the legacy front: the body within its limit,
the Content-Type, the SOAPAction header, and the one place where errors become faults.

Invariant: a body is always read or discarded completely before an answer is sent (so the client reads the
answer rather than a reset connection); only ``text/xml`` in UTF-8 gets past ``check_content_type``; and
``answer_or_fault`` lets nothing leave but the endpoint's own answer or a fault (no stack trace, no bare 500),
noting each refusal on the request (the request log writes it once, redacted), logging each incident, and
handing each refused authentication to the endpoint's ``refused`` hook (which records it); a throttled caller's
fault comes with ``Retry-After``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from gateway.adapters.soap.faults import fault_for
from gateway.app.observation import note_of
from gateway.app.redaction import shown
from gateway.errors import (
    AuthenticationError,
    AuthenticationThrottled,
    GatewayError,
    InternalError,
    MessageTooLarge,
    RequestError,
    UnsupportedMediaType,
)

__all__ = [
    "XML_CONTENT_TYPE",
    "Answered",
    "StartResponse",
    "answer_or_fault",
    "check_content_type",
    "discard",
    "peer",
    "plain",
    "read_body",
    "soap_action",
]

XML_CONTENT_TYPE = "text/xml; charset=utf-8"
_CHUNK = 64 * 1024
StartResponse = Callable[..., Any]
Answered = tuple[str, bytes, list[tuple[str, str]]]  # status line, body, headers beyond the content's own


def _discard_cap(max_body: int) -> int:
    return max(64 * 1024 * 1024, 16 * max_body)


def _content_length(environ: dict[str, Any]) -> int | None:
    text = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not text:
        return None
    try:
        return max(int(text), 0)
    except ValueError:
        return None


def _drain(stream: Any, length: int | None, max_body: int) -> None:
    cap = _discard_cap(max_body)
    left = cap if length is None else min(length, cap)
    while left > 0:
        chunk = stream.read(min(_CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)


def read_body(environ: dict[str, Any], max_body: int) -> bytes:
    """The whole body; over the limit, the rest is discarded and ``MessageTooLarge`` raised."""
    stream = environ["wsgi.input"]
    length = _content_length(environ)
    if length is not None and length <= max_body:
        return bytes(stream.read(length)) if length else b""
    if length is not None:
        _drain(stream, length, max_body)
        raise MessageTooLarge(f"The request body has {length} bytes; the limit is {max_body} bytes.")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_body:
            _drain(stream, None, max_body)
            raise MessageTooLarge(f"The request body is over the limit of {max_body} bytes.")
        chunks.append(chunk)


def discard(environ: dict[str, Any], max_body: int) -> None:
    """Read and drop a body nobody will look at (a GET's, a wrong path's)."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    length = _content_length(environ)
    if length == 0:
        return
    if length is None and not environ.get("wsgi.input_terminated"):
        return  # no length and no end marker: reading would block
    _drain(stream, length, max_body)


def check_content_type(environ: dict[str, Any]) -> None:
    raw = str(environ.get("CONTENT_TYPE") or "")
    media, _, params = raw.partition(";")
    if media.strip().lower() != "text/xml":
        raise UnsupportedMediaType(
            f"The Content-Type {raw or '(none)'!r} is not accepted: send text/xml; charset=utf-8 (SOAP 1.1)."
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"The charset {value.strip()!r} is not accepted: send UTF-8.")


def soap_action(environ: dict[str, Any]) -> str:
    """The SOAPAction header without its quotes ("" when absent)."""
    raw = environ.get("HTTP_SOAPACTION")
    action = "" if raw is None else str(raw).strip()
    if len(action) >= 2 and action[0] == action[-1] == '"':
        action = action[1:-1]
    return action


def peer(environ: dict[str, Any]) -> str:
    return str(environ.get("REMOTE_ADDR", "?"))


def plain(
    start_response: StartResponse, status: str, text: str, extra: list[tuple[str, str]] | None = None
) -> list[bytes]:
    body = text.encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *(extra or [])]
    start_response(status, headers)
    return [body]


def answer_or_fault(
    environ: dict[str, Any],
    log: logging.Logger,
    work: Callable[[], bytes],
    refused: Callable[[dict[str, Any], AuthenticationError], None] | None = None,
) -> Answered:
    """``work``'s answer with ``200 OK``, or the fault of whatever it raised. A refusal is noted on the request
    (its code and words, which the request log shows redacted), and a refused authentication is handed to
    ``refused`` too; an incident is also logged here, with its traceback and its words redacted, since only the
    log holds what went wrong."""
    note = note_of(environ)
    extra: list[tuple[str, str]] = []
    try:
        return "200 OK", work(), extra
    except AuthenticationError as error:
        note.failed(error)
        if refused is not None:
            refused(environ, error)
        if isinstance(error, AuthenticationThrottled):
            extra.append(("Retry-After", str(error.retry_after)))
        fault = fault_for(error)
    except RequestError as error:
        note.failed(error)
        fault = fault_for(error)
    except GatewayError as error:
        incident = uuid.uuid4().hex
        note.failed(error, incident)
        log.error("incident %s: %s: %s", incident, error.code, shown(error.message, 1000), exc_info=error)
        fault = fault_for(error, incident)
    except Exception as exc:
        incident = uuid.uuid4().hex
        internal = InternalError(f"{type(exc).__name__}: {exc}")
        note.failed(internal, incident)
        log.exception("incident %s: unexpected error", incident)
        fault = fault_for(internal, incident)
    return fault.status, fault.body, extra
