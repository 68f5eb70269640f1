"""The network's own SSDN schemas, to check that what the gateway writes validates under them too.

They are the KSZ/BCSS schemas as published in the ``lino-welfare`` package on PyPI
(``lino_welfare/modlib/cbss/XSD/SSDN/``): test data, never part of the gateway, never copied into the repository.
``KSZ_TEST_NETWORK_XSD`` may name an unpacked ``SSDN`` folder (``Service/``, ``Common/``, ``OCMW_CPAS/``);
otherwise the pinned wheel is fetched once per test session with pip (PyPI is reachable wherever the suite runs,
and pip's cache makes the second run free) and only that folder is unpacked into a temporary directory. A missing
schema is a failure, not a skip: a test that could not check the reply must not pass.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from functools import cache
from pathlib import Path

from lxml import etree

__all__ = ["NETWORK_XSD_ENV", "NetworkSchemas", "network_schemas", "network_ssdn_folder"]

NETWORK_XSD_ENV = "KSZ_TEST_NETWORK_XSD"
LINO_WELFARE = "lino-welfare==26.7.0"
_INSIDE = "lino_welfare/modlib/cbss/XSD/SSDN/"
_SERVICE = "http://www.ksz-bcss.fgov.be/XSD/SSDN/Service"
_MANAGE_ACCESS = "http://www.ksz-bcss.fgov.be/XSD/SSDN/OCMW_CPAS/ManageAccess"


def _usable(folder: Path) -> bool:
    return (folder / "Service" / "NamespaceRoot.xsd").is_file() and (
        folder / "OCMW_CPAS" / "ManageAccess" / "NamespaceRoot.xsd"
    ).is_file()


@cache
def network_ssdn_folder() -> Path:
    """The ``SSDN`` folder of the network's schemas (from ``KSZ_TEST_NETWORK_XSD`` or the pinned wheel)."""
    named = os.environ.get(NETWORK_XSD_ENV)
    if named:
        folder = Path(named)
        if not _usable(folder):
            raise RuntimeError(f"{NETWORK_XSD_ENV}={named} is not an SSDN schema folder (Service/, OCMW_CPAS/)")
        return folder
    target = Path(tempfile.mkdtemp(prefix="ksz-network-xsd-"))
    atexit.register(shutil.rmtree, target, True)
    download = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            LINO_WELFARE,
            "--dest",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    wheels = sorted(target.glob("lino_welfare-*.whl"))
    if download.returncode != 0 or not wheels:
        raise RuntimeError(
            f"could not fetch {LINO_WELFARE} for the network's schemas (set {NETWORK_XSD_ENV}):\n{download.stderr}"
        )
    with zipfile.ZipFile(wheels[0]) as wheel:
        for member in wheel.namelist():
            if member.startswith(_INSIDE) and member.endswith(".xsd"):
                destination = target / "SSDN" / member[len(_INSIDE) :]
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(wheel.read(member))
    folder = target / "SSDN"
    if not _usable(folder):
        raise RuntimeError(f"{wheels[0].name} holds no SSDN schemas under {_INSIDE}")
    return folder


class NetworkSchemas:
    """The network's Service and ManageAccess schemas compiled together, as its replies are validated."""

    def __init__(self, folder: Path) -> None:
        service = (folder / "Service" / "NamespaceRoot.xsd").as_uri()
        manage_access = (folder / "OCMW_CPAS" / "ManageAccess" / "NamespaceRoot.xsd").as_uri()
        driver = (
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
            f'<xs:import namespace="{_SERVICE}" schemaLocation="{service}"/>'
            f'<xs:import namespace="{_MANAGE_ACCESS}" schemaLocation="{manage_access}"/>'
            "</xs:schema>"
        )
        self.folder = folder
        self._schema = etree.XMLSchema(etree.fromstring(driver.encode(), base_url=(folder / "driver.xsd").as_uri()))

    def errors(self, document: etree._Element | bytes) -> list[str]:
        """What the network's schemas say against ``document`` (empty when it validates)."""
        element = etree.fromstring(document) if isinstance(document, bytes) else document
        if self._schema.validate(element):
            return []
        return [f"line {e.line}: {e.message}" for e in self._schema.error_log]

    def assert_valid(self, document: etree._Element | bytes) -> None:
        problems = self.errors(document)
        assert not problems, "the network's schemas refuse the document:\n" + "\n".join(problems)


@cache
def network_schemas() -> NetworkSchemas:
    return NetworkSchemas(network_ssdn_folder())
