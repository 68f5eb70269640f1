"""Fixed XML skeletons (an envelope, a document's root with its namespace declarations), copied for each message.

Invariant: every call gives a new tree of its own, equal to the one ``make`` builds, and no tree is ever shared
between threads (each thread keeps its own model). lxml makes an element with namespace declarations in several
microseconds and copies a small tree in about one, so a message that starts from the same skeleton every time
starts from a copy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from lxml import etree

__all__ = ["Skeleton"]


class Skeleton:
    """A tree ``make`` builds once per thread; ``new()`` is a fresh copy of it."""

    def __init__(self, make: Callable[[], etree._Element]) -> None:
        self._make = make
        self._local = threading.local()

    def new(self) -> etree._Element:
        model: etree._Element | None = getattr(self._local, "model", None)
        if model is None:
            model = self._local.model = self._make()
        return model.__copy__()
