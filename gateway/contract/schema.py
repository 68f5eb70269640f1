"""The message schema on the hot path: xsd/repertorium-v1.xsd compiled once by lxml, checking Bodies both ways.

Invariant: a request element reaches an operation only when it validates, and a response element leaves only
when it validates; a failure names the element (path and line) and never escapes as anything but a
``SchemaViolation`` (the caller's fault) or an ``InvalidResponse`` (ours).
"""

from __future__ import annotations

import threading

from lxml import etree

from gateway.contract.names import TNS
from gateway.errors import ConfigurationError, InvalidResponse, SchemaViolation

__all__ = ["MessageSchema"]


def _readable(text: str) -> str:
    """lxml's message with the contract's namespace written as the ``rep:`` prefix, as the contract page does."""
    return text.replace("{" + TNS + "}", "rep:")


class MessageSchema:
    """One compiled XML schema; ``check_request`` and ``check_response`` validate one element (a Body child)."""

    def __init__(self, document: bytes, name: str, base_url: str | None = None) -> None:
        self.name = name
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            self._schema = etree.XMLSchema(etree.fromstring(document, parser, base_url=base_url or name))
        except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
            raise ConfigurationError(f"the schema {name} does not compile: {exc}") from exc
        # lxml keeps the last error log on the schema object: validations must not interleave.
        self._lock = threading.Lock()

    def _first_error(self, element: etree._Element) -> tuple[str, str | None, int | None] | None:
        with self._lock:
            try:
                if self._schema.validate(element):
                    return None
            except (etree.LxmlError, ValueError, TypeError) as exc:
                return (f"it cannot be validated ({exc})", None, element.sourceline)
            error = self._schema.error_log[0] if len(self._schema.error_log) else None
        if error is None:
            return ("it does not validate", None, element.sourceline)
        return (_readable(error.message), error.path or None, error.line or None)

    def check_request(self, element: etree._Element) -> None:
        """Raise ``SchemaViolation`` naming the first element at fault when ``element`` does not validate."""
        problem = self._first_error(element)
        if problem is None:
            return
        message, path, line = problem
        where = f"{_readable(path)}" if path else _readable(str(element.tag))
        at = f" (line {line})" if line else ""
        raise SchemaViolation(
            f"The request does not validate against {self.name}: {where}{at}: {message}", path=path, line=line
        )

    def check_response(self, element: etree._Element) -> None:
        """Raise ``InvalidResponse`` when an answer the gateway built does not validate."""
        problem = self._first_error(element)
        if problem is None:
            return
        message, path, _ = problem
        raise InvalidResponse(
            f"the response {_readable(str(element.tag))} does not validate against {self.name}: "
            f"{_readable(path or '')}: {message}",
            path=path,
        )
