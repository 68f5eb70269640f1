"""Skeletons: each message starts from a tree of its own, equal to the one its maker builds, in every thread."""

from __future__ import annotations

import threading

from lxml import etree

from gateway.contract.skeletons import Skeleton


def _make() -> etree._Element:
    root = etree.Element("{urn:a}Root", nsmap={None: "urn:a", "b": "urn:b"})
    etree.SubElement(root, "{urn:b}Child")
    return root


def test_each_copy_is_a_tree_of_its_own_written_as_the_makers() -> None:
    skeleton = Skeleton(_make)
    first, second = skeleton.new(), skeleton.new()
    first[0].text = "changed"
    etree.SubElement(first, "{urn:a}More")
    assert first is not second and first.getroottree() is not second.getroottree()
    assert etree.tostring(second) == etree.tostring(_make())
    assert etree.tostring(skeleton.new()) == etree.tostring(_make())


def test_threads_never_share_a_model() -> None:
    makers: list[int] = []

    def make() -> etree._Element:
        makers.append(threading.get_ident())
        return _make()

    skeleton = Skeleton(make)
    skeleton.new()
    thread = threading.Thread(target=skeleton.new)
    thread.start()
    thread.join()
    assert len(makers) == 2 and makers[0] != makers[1]
