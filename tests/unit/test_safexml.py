"""The hardened parser every module uses for XML the gateway did not write."""

from __future__ import annotations

import threading

from gateway.contract import safexml


def test_an_internal_entity_is_not_expanded() -> None:
    data = b'<!DOCTYPE a [<!ENTITY boom "expanded">]><a>&boom;</a>'
    assert "expanded" not in (safexml.fromstring(data).text or "")


def test_an_external_entity_is_never_fetched_or_read() -> None:
    data = b'<!DOCTYPE a [<!ENTITY secret SYSTEM "file:///etc/hostname">]><a>&secret;</a>'
    assert (safexml.fromstring(data).text or "") == ""


def test_comments_and_processing_instructions_go_only_when_stripping() -> None:
    data = b"<a><!-- note --><?pi x?><b/></a>"
    assert len(safexml.fromstring(data)) == 3
    assert [child.tag for child in safexml.fromstring(data, strip=True)] == ["b"]


def test_each_thread_gets_its_own_parser() -> None:
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(safexml.parser()))
    thread.start()
    thread.join()
    assert seen[0] is not safexml.parser()
    assert safexml.parser() is safexml.parser()
