"""Where the contract files are: the hand-written ``xsd/`` and ``wsdl/`` that the gateway serves and checks.

Invariant: both folders are found the same way in a source checkout or editable install (beside the ``gateway``
package) and in an installed wheel (inside it, as ``gateway/xsd`` and ``gateway/wsdl``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from gateway.errors import ConfigurationError

__all__ = ["contract_dir", "wsdl_path", "xsd_path"]


@cache
def contract_dir(kind: str) -> Path:
    """The folder ``xsd`` or ``wsdl``."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / kind, here / kind):
        if candidate.is_dir():
            return candidate
    raise ConfigurationError(f"the contract folder {kind!r} is missing beside and inside {here}")


def xsd_path(name: str) -> Path:
    return contract_dir("xsd") / name


def wsdl_path(name: str) -> Path:
    return contract_dir("wsdl") / name
