"""The gateway's log: readable text by default, one JSON object per line when asked (``serve --log-format json``),
and one line per request, written by ``RequestLog`` from the request's event.

Invariant: whatever a caller sends, a log line stays one line of bounded length without an SSIN in clear. Each
request-derived value in a request line goes through ``gateway.app.redaction.shown`` (or ``mask_ssin``), and the
formatters, over every record of every logger (gunicorn's and spyne's included), escape control characters,
bound the message and a traceback, and mask any standing-alone run of eleven digits that is still there. A JSON
line has the fixed keys ``time``, ``level``, ``logger``, ``message`` (and ``exception`` when there is one), then the
request fields of a request line; nothing else. Secrets, password digests and payloads are never handed to a log.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

from gateway.app.observation import Outcome, RequestEvent
from gateway.app.redaction import MAX_TEXT, escape, masked_text, shown, shown_ticket

__all__ = ["LOG_FORMATS", "REQUEST_LOGGER", "JsonFormatter", "RequestLog", "TextFormatter", "configure_logging"]

LOG_FORMATS = ("text", "json")
REQUEST_LOGGER = "gateway.requests"
MAX_TRACEBACK = 16_000  # characters of a traceback kept (its end, where the error is)
_FIELDS = "request_fields"  # the LogRecord attribute a request line carries its fields in
_IN_MESSAGE = frozenset({"method", "path", "status"})  # a request line's message says these: text omits them


def _message(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except (TypeError, ValueError) as exc:  # a call whose arguments do not fit its format
        text = f"{record.msg!r} (unformattable: {exc})"
    text = escape(masked_text(text[: MAX_TEXT * 4]))
    return text if len(text) <= MAX_TEXT else f"{text[:MAX_TEXT]}…({len(text)} chars)"


def _exception(record: logging.LogRecord) -> str | None:
    if record.exc_info and record.exc_info[0] is not None:
        text = "".join(traceback.format_exception(*record.exc_info))
    elif record.exc_text:
        text = record.exc_text
    else:
        return None
    text = masked_text(text.rstrip("\n"))
    if len(text) > MAX_TRACEBACK:
        text = f"…({len(text)} chars)\n{text[-MAX_TRACEBACK:]}"
    return text


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _message(record),
        }
        fields = getattr(record, _FIELDS, None)
        if isinstance(fields, dict):
            line.update({k: v for k, v in fields.items() if k not in line})
        exception = _exception(record)
        if exception is not None:
            line["exception"] = exception
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``TIME LEVEL [PID] LOGGER MESSAGE key=value ...`` (a request line's fields but those its message says); a
    traceback follows on lines that begin with ``  | ``, so that no line of it can pass for a record of its own."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_time(record)} {record.levelname} [{record.process}] {record.name} {_message(record)}"
        fields = getattr(record, _FIELDS, None)
        if isinstance(fields, dict):
            shown_fields = (
                f"{k}={','.join(v) if isinstance(v, list) else v}"
                for k, v in fields.items()
                if v not in (None, []) and k not in _IN_MESSAGE
            )
            text += " " + " ".join(shown_fields)
        exception = _exception(record)
        if exception is not None:
            text += "".join(f"\n  | {escape(line)}" for line in exception.split("\n"))
        return text


def configure_logging(log_format: str = "text", *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """The root logger writes every record to ``stream`` (standard error) in ``log_format``; spyne's chatter is
    kept to its warnings."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("spyne").setLevel(logging.WARNING)


def request_fields(event: RequestEvent) -> dict[str, Any]:
    """A request line's fields: each bounded, each request-derived one redacted."""
    return {
        "front": event.front,
        "operation": event.operation,
        "outcome": str(event.outcome),
        "status": event.status,
        "duration_ms": round(event.duration_seconds * 1000, 3),
        "institution": None if event.institution is None else shown(event.institution, 40),
        "ticket": None if event.ticket is None else shown_ticket(event.ticket),
        "reasons": [shown(reason, 64) for reason in event.reasons[:20]],
        "auth_failure": event.auth_failure,
        "database_error": event.database_error,
        "incident": event.incident,
        "method": shown(event.method, 16),
        "path": shown(event.path, 120),
        "peer": shown(event.peer, 64),
    }


class RequestLog:
    """The ``Observer`` that writes one line per request to the ``gateway.requests`` logger: info, a warning for a
    failed authentication, an error for an incident."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(REQUEST_LOGGER)

    def request(self, event: RequestEvent) -> None:
        level = logging.INFO
        if event.outcome is Outcome.AUTH_FAILED:
            level = logging.WARNING
        elif event.incident is not None:
            level = logging.ERROR
        if not self._log.isEnabledFor(level):
            return
        fields = request_fields(event)
        said = f"{fields['method']} {fields['path']} {event.status}"
        if event.detail:
            said += f": {shown(event.detail, 400)}"
        self._log.log(level, "%s", said, extra={_FIELDS: fields})

    def provider_call(self, flow: str, outcome: str) -> None:
        """Told in the request line of the SendFlow that made it (its reasons, its outcome)."""

    def database_error(self, kind: str) -> None:
        """Told where it is met (a request line, a readiness answer)."""
