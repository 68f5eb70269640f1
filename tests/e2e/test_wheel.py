"""The gateway as a user installs it: a wheel built from the sources, in a fresh virtual environment of its own.

The wheel is built from a copy of the files the build reads (pyproject.toml, README.md, gateway/), so nothing left
over in the checkout (build/, *.egg-info) can slip into it; it is installed with its declared dependencies only
into a new virtual environment in a temporary folder outside the checkout, and everything afterwards runs from
there: the server (``ksz-gateway serve --demo``) and a client (the installed ``gateway.client``, run by that
environment's Python). Nothing can resolve from the source tree. Marked ``wheel``: ``pytest -m wheel`` runs it
alone, ``-m "not wheel"`` leaves it out.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[2]
# Every file of gateway/ with these endings belongs in the wheel.
SHIPPED = (".py", ".json", ".xsd", ".wsdl", ".html", ".css")
# The environment of every command run from the installed copy: no path that could lead back to the checkout.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    home: Path  # the working folder of everything run from the installed copy

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, *command: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(c) for c in command], cwd=self.home, env=CLEAN_ENV, capture_output=True, text=True, timeout=timeout
        )

    def script(self, code: str, *args: str) -> subprocess.CompletedProcess[str]:
        path = self.home / "script.py"
        path.write_text(code)
        return self.run(self.python, "-I", path, *args)  # -I: isolated, not even the script's folder on sys.path


def _pip(*args: str | Path, cwd: Path) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *map(str, args)]
    result = subprocess.run(command, cwd=cwd, env=CLEAN_ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    assert ROOT not in base.parents, "the temporary folder must be outside the checkout"
    source = base / "source"
    source.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", source)
    shutil.copy2(ROOT / "README.md", source)
    shutil.copytree(ROOT / "gateway", source / "gateway", ignore=shutil.ignore_patterns("__pycache__"))
    _pip("wheel", "--no-deps", "--wheel-dir", base / "dist", source, cwd=base)
    (wheel,) = (base / "dist").glob("ksz_gateway-*.whl")
    venv = base / "venv"
    # This pip installs into the new environment (--python), which saves seeding it with a pip of its own, and
    # leaves the byte-compiling of every dependency to the first import that needs it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=CLEAN_ENV, timeout=120)
    _pip("--python", venv / "bin" / "python", "install", "--no-compile", wheel, cwd=base)
    home = base / "home"
    home.mkdir()
    return Installed(wheel, venv, home)


def test_the_wheel_holds_every_module_and_data_file_of_the_package(installed: Installed) -> None:
    expected = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "gateway").rglob("*")
        if path.suffix in SHIPPED and "__pycache__" not in path.parts
    }
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    assert {".py", ".json", ".xsd", ".wsdl"} <= {Path(name).suffix for name in expected}
    assert sorted(expected - names) == []
    distribution, version = installed.wheel.name.split("-")[:2]
    assert {name.split("/")[0] for name in names} == {"gateway", f"{distribution}-{version}.dist-info"}


def test_the_wheel_metadata_names_the_pythons_the_license_and_cgi_for_3_13_only(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(wheel.read(name).decode())
    assert metadata["Requires-Python"] == "<3.14,>=3.11"
    assert metadata["License-Expression"] == "EUPL-1.2"
    requires = metadata.get_all("Requires-Dist") or []
    assert [r for r in requires if r.startswith("legacy-cgi")] == ['legacy-cgi>=2.6; python_version >= "3.13"']


# Run by the installed environment's Python: every module of the installed package imports, and every package
# they import (anywhere in a module, not only at its top) is a declared dependency, not one that merely happens
# to come with another (requests came with zeep before it was declared).
AUDIT = r"""
import ast, importlib, importlib.metadata as md, json, pkgutil, re, sys
from pathlib import Path
import gateway

package = Path(gateway.__file__).parent
modules = sorted(m.name for m in pkgutil.walk_packages([str(package)], "gateway."))
for name in modules:
    importlib.import_module(name)
imported = set()
for path in package.rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
third_party = sorted(imported - set(sys.stdlib_module_names) - {"gateway"})
owners = md.packages_distributions()
normal = lambda name: re.sub(r"[-_.]+", "-", name).lower()
declared = sorted(
    normal(re.match(r"[A-Za-z0-9._-]+", r).group())
    for r in md.requires("ksz-gateway") or []
    if "extra ==" not in r
)
print(json.dumps({
    "location": str(package),
    "prefix": sys.prefix,
    "modules": modules,
    "declared": declared,
    "imports": {name: sorted(normal(d) for d in owners.get(name, [])) for name in third_party},
}))
"""


def test_every_module_imports_from_the_install_and_every_import_is_a_declared_dependency(
    installed: Installed,
) -> None:
    result = installed.script(AUDIT)
    assert result.returncode == 0, result.stderr
    audit = json.loads(result.stdout)
    assert Path(audit["location"]).is_relative_to(audit["prefix"]) and audit["prefix"] == str(installed.venv)
    assert {"gateway.entrypoints.commands.serve", "gateway.adapters.soap.application", "gateway.client"} <= set(
        audit["modules"]
    )
    assert "zeep" in audit["imports"] and "spyne" in audit["imports"]
    undeclared = {name: owners for name, owners in audit["imports"].items() if not set(owners) & set(audit["declared"])}
    assert undeclared == {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(installed: Installed) -> Iterator[str]:
    """``ksz-gateway serve --demo`` of the installed copy, run from a folder outside the checkout."""
    port = _free_port()
    db = installed.home / "directory.db"
    log = (installed.home / "server.log").open("wb")
    command = [installed.venv / "bin" / "ksz-gateway", "serve", "--demo", "--port", str(port), "--db", db]
    command += ["--today", "2015-01-10"]
    process = subprocess.Popen(command, cwd=installed.home, env=CLEAN_ENV, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    endpoint = f"http://127.0.0.1:{port}/soap/repertorium"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (installed.home / "server.log").read_text()
            assert time.monotonic() < deadline, "no answer within 60 s:\n" + (installed.home / "server.log").read_text()
            try:
                with urllib.request.urlopen(endpoint + "?wsdl", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# Run by the installed environment's Python: the installed client library, signing as a demo institution.
CLIENT_CALLS = r"""
import json, sys
from datetime import date
import gateway
from gateway.client import AuthenticationFailed, RepertoriumClient

endpoint = sys.argv[1]
with RepertoriumClient(endpoint, "0212345668", "demo-ocmw-a", timeout=30) as client:
    made = client.integrate(["85073003328"], code=1, start=date(2014, 12, 1))
    found = client.consult("85073003328", start=date(2015, 1, 1))
try:
    with RepertoriumClient(endpoint, "0212345668", "not-the-secret", timeout=30) as client:
        client.consult("85073003328", start=date(2015, 1, 1))
    refused = None
except AuthenticationFailed as error:
    refused = type(error).__name__
print(json.dumps({
    "client": gateway.__file__,
    "integrate": [made.ok, made.persons[0].ssin, made.persons[0].status],
    "consult": [[i.institution.id, i.code, str(i.period.start)] for i in found.integrations],
    "refused": refused,
}))
"""


def test_the_installed_server_answers_the_installed_client_signed_calls(installed: Installed, served: str) -> None:
    help_text = installed.run(installed.venv / "bin" / "ksz-gateway", "--help")
    assert help_text.returncode == 0 and "serve" in help_text.stdout, help_text.stderr
    result = installed.script(CLIENT_CALLS, served)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert Path(answer["client"]).is_relative_to(installed.venv)
    assert answer["integrate"] == ["YES", "85073003328", "INTEGRATED"]
    assert answer["consult"] == [["0212345668", 1, "2014-12-01"]]
    assert answer["refused"] == "AuthenticationFailed"


def test_the_installed_server_serves_the_console_from_the_wheels_templates(served: str) -> None:
    console = served.replace("/soap/repertorium", "/console")
    with urllib.request.urlopen(console + "/login", timeout=10) as page:
        assert page.status == 200 and 'name="csrf"' in page.read().decode()
    with urllib.request.urlopen(console + "/static/console.css", timeout=10) as sheet:
        assert sheet.headers["Content-Type"] == "text/css; charset=utf-8"
