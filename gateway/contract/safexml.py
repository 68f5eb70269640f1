"""Parsing XML the gateway did not write: one hardened lxml parser per thread.

Invariant: no parse resolves entities, loads a DTD, touches the network or builds a huge tree, and no parser is
shared between threads (lxml parsers must not be), whichever module parses: the SOAP edge, the provider's
answers, the client's payloads, the sample tools.
"""

from __future__ import annotations

import threading

from lxml import etree

__all__ = ["fromstring", "parser"]

_local = threading.local()


def parser(*, strip: bool = False) -> etree.XMLParser:
    """This thread's hardened parser; ``strip`` drops comments and processing instructions as it parses."""
    key = "stripping" if strip else "plain"
    found: etree.XMLParser | None = getattr(_local, key, None)
    if found is None:
        found = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=strip,
            remove_pis=strip,
            collect_ids=False,
        )
        setattr(_local, key, found)
    return found


def fromstring(data: bytes, *, strip: bool = False) -> etree._Element:
    """``etree.fromstring`` with this thread's hardened parser (raises ``etree.XMLSyntaxError`` as usual)."""
    root: etree._Element = etree.fromstring(data, parser(strip=strip))
    return root
