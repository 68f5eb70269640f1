"""Where the contract files are: the hand-written ``xsd/`` and ``wsdl/`` that the gateway serves and checks.

Invariant: both folders live inside this package (``gateway/contract/xsd``, ``gateway/contract/wsdl``), so they
are found the same way in a source checkout, an editable install and an installed wheel.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from gateway.errors import ConfigurationError

__all__ = ["contract_dir", "wsdl_path", "xsd_path"]


@cache
def contract_dir(kind: str) -> Path:
    """The folder ``xsd`` or ``wsdl``."""
    folder = Path(__file__).resolve().parent / kind
    if not folder.is_dir():
        raise ConfigurationError(f"the contract folder {kind!r} is missing from {folder.parent}")
    return folder


def xsd_path(name: str) -> Path:
    return contract_dir("xsd") / name


def wsdl_path(name: str) -> Path:
    return contract_dir("wsdl") / name
