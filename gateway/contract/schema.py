"""The message schema on the hot path: xsd/repertorium-v1.xsd compiled by lxml, checking Bodies both ways.

Invariant: a request element reaches an operation only when it validates, and a response element leaves only
when it validates; a failure names the element (path and line) and never escapes as anything but a
``SchemaViolation`` (the caller's fault) or an ``InvalidResponse`` (ours).

No lock is held while validating. lxml validates with a fresh libxml2 context per call and releases the GIL,
but it collects the errors in a log kept on the schema object, so two validations at once on one object
would mix their messages. Each validation therefore borrows a compiled schema of its own from a pool (one
compilation costs a millisecond or two, and happens only when more validations run at once than ever before),
so validations in different threads run in parallel and each reads its own errors.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager

from lxml import etree

from gateway.contract.names import TNS
from gateway.errors import ConfigurationError, InvalidResponse, SchemaViolation

__all__ = ["MessageSchema"]


def _readable(text: str) -> str:
    """lxml's message with the contract's namespace written as the ``rep:`` prefix, as the contract page does."""
    return text.replace("{" + TNS + "}", "rep:")


class MessageSchema:
    """One XML schema; ``check_request`` and ``check_response`` validate one element (a Body child)."""

    def __init__(self, document: bytes, name: str, base_url: str | None = None) -> None:
        self.name = name
        self._document = document
        self._base_url = base_url or name
        self._idle: queue.SimpleQueue[etree.XMLSchema] = queue.SimpleQueue()
        self._idle.put(self._compile())  # a schema that does not compile fails here, once

    def _compile(self) -> etree.XMLSchema:
        # The package's own schema files (they may import each other from the package): not a message.
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            return etree.XMLSchema(etree.fromstring(self._document, parser, base_url=self._base_url))
        except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
            raise ConfigurationError(f"the schema {self.name} does not compile: {exc}") from exc

    def _take(self) -> etree.XMLSchema:
        """A compiled schema no other validation uses until it is given back (``self._idle.put``)."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self._compile()

    @contextmanager
    def _borrowed(self) -> Iterator[etree.XMLSchema]:
        schema = self._take()
        try:
            yield schema
        finally:
            self._idle.put(schema)

    def _first_error(self, element: etree._Element) -> tuple[str, str | None, int | None] | None:
        schema = self._take()  # given back below: a plain try costs less than a context manager, twice a request
        try:
            try:
                if schema.validate(element):
                    return None
            except (etree.LxmlError, ValueError, TypeError) as exc:
                return (f"it cannot be validated ({exc})", None, element.sourceline)
            error = schema.error_log[0] if len(schema.error_log) else None
        finally:
            self._idle.put(schema)
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
