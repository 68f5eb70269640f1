"""spyne 2.14 on Python 3.12 and 3.13: a meta-path finder that lets spyne's bundled ``six`` resolve ``six.moves``.

The upstream problem: spyne 2.14.0 (its last release, 2022) bundles six 1.14 as ``spyne.util.six``, whose
meta-path importer only has the old ``find_module()``/``load_module()`` protocol. Python 3.12 removed the import
system's fallback to ``find_module()``, deprecated since 3.4 (3.12's "What's New": "Support for find_loader() and
find_module() APIs have been removed"), so ``from spyne.util.six.moves... import ...`` fails there with ``No
module named 'spyne.util.six.moves'`` and spyne cannot be imported at all. (six 1.16 gained ``find_spec()``;
spyne never took it up.) Python 3.13 also removed the ``cgi`` module spyne imports: that is the ``legacy-cgi``
dependency in pyproject.toml, not this module.

Delete this module (and its import in ``gateway/adapters/soap/__init__.py``, ``bench/echo_service.py`` and
pyproject.toml's pytest options) when spyne ships a release whose ``spyne.util.six`` importer has ``find_spec()``,
or when the gateway no longer uses spyne; ``tests/unit/test_compat.py`` fails on the first of these to tell.

Invariant: ``install()`` puts exactly one ``SixMovesFinder`` on ``sys.meta_path``, however often it is called; the
finder answers only for names under ``spyne.util.six.`` and only with what six's own importer says, so every
other import is left to Python unchanged. Modules are still loaded by six's ``load_module()``, which Python 3.12
and 3.13 accept with an ``ImportWarning`` (filtered by name in pyproject.toml).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, cast

__all__ = ["SIX", "SixMovesFinder", "install"]

SIX = "spyne.util.six"


class SixMovesFinder:
    """Adapts the ``find_module()`` of spyne's six importer, wherever it is on ``sys.meta_path``, to ``find_spec()``."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not fullname.startswith(SIX + "."):
            return None
        for finder in sys.meta_path:
            # spyne's six importer, recognised as six recognises it (by class name and module, not by isinstance).
            if type(finder).__name__ == "_SixMetaPathImporter" and getattr(finder, "name", None) == SIX:
                loader = cast(Any, finder).find_module(fullname, path)  # the old protocol, unknown to typeshed
                return None if loader is None else importlib.util.spec_from_loader(fullname, loader)
        return None


def install() -> None:
    """Put the finder on ``sys.meta_path``, once. Where does not matter: six's importer is the one that answers."""
    if not any(isinstance(finder, SixMovesFinder) for finder in sys.meta_path):
        sys.meta_path.append(SixMovesFinder())


install()
