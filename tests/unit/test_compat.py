"""spyne 2.14 on this Python: the import shim makes it import and serve, and the upstream problem it covers persists.

Each import of spyne is tried in a fresh interpreter (this one has spyne loaded already), with and without
``gateway.adapters.soap._spyne_compat``. When spyne's bundled six gains ``find_spec()``, the tests that show the
shim is still needed fail: that is the time to delete the shim.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from gateway.adapters.soap import _spyne_compat
from gateway.adapters.soap._spyne_compat import SIX, SixMovesFinder, install

# The two warnings spyne 2.14 is known to cause on import (and the only ones pyproject.toml's pytest filters allow).
KNOWN_WARNINGS = (
    ("DeprecationWarning", re.compile(r"'cgi' is deprecated")),
    ("ImportWarning", re.compile(r"_SixMetaPathImporter\.(find_spec|exec_module)\(\) not found")),
)

# A spyne echo service called through spyne's WSGI application: spyne parses the request and writes the answer.
ECHO_CALL = """
import io, json, sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    {shim}
    from spyne import Application, Service, Unicode, rpc
    from spyne.protocol.soap import Soap11
    from spyne.server.wsgi import WsgiApplication

class Echo(Service):
    @rpc(Unicode, _returns=Unicode)
    def echo(ctx, text):
        return text[::-1]

app = WsgiApplication(Application([Echo], tns="urn:echo", in_protocol=Soap11(), out_protocol=Soap11()))
body = (b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="urn:echo"><e:Body>'
        b'<t:echo><t:text>ksz-gateway</t:text></t:echo></e:Body></e:Envelope>')
environ = {{"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "localhost",
           "SERVER_PORT": "80", "wsgi.url_scheme": "http", "CONTENT_TYPE": "text/xml; charset=utf-8",
           "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "SERVER_PROTOCOL": "HTTP/1.1"}}
status = []
answer = b"".join(app(environ, lambda code, headers, *rest: status.append(code)))
print(json.dumps({{"status": status[0], "answer": answer.decode(),
                  "warnings": [[w.category.__name__, str(w.message)] for w in caught]}}))
"""


def run_fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=Path.cwd())


def echo_in_fresh_interpreter(shim: str) -> subprocess.CompletedProcess[str]:
    return run_fresh(textwrap.dedent(ECHO_CALL.format(shim=shim)))


def test_with_the_shim_spyne_imports_and_answers_a_soap_call_on_this_python() -> None:
    result = echo_in_fresh_interpreter("import gateway.adapters.soap")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["status"].startswith("200"), outcome
    assert "<tns:echoResult>yawetag-zsk</tns:echoResult>" in outcome["answer"]
    for category, message in outcome["warnings"]:
        assert any(category == c and pattern.match(message) for c, pattern in KNOWN_WARNINGS), (category, message)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Python 3.11 still falls back to find_module()")
def test_without_the_shim_spyne_does_not_import_on_python_3_12_and_later() -> None:
    result = run_fresh("import spyne")
    assert result.returncode != 0, "spyne imports without the shim: delete gateway/adapters/soap/_spyne_compat.py"
    assert "No module named 'spyne.util.six.moves'" in result.stderr


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="Python 3.12 removed the find_module() fallback")
def test_without_the_shim_python_3_11_imports_spyne_only_through_the_deprecated_fallback() -> None:
    result = echo_in_fresh_interpreter("pass")
    assert result.returncode == 0, result.stderr
    messages = [message for category, message in json.loads(result.stdout)["warnings"] if category == "ImportWarning"]
    assert "_SixMetaPathImporter.find_spec() not found; falling back to find_module()" in messages


def test_spyne_bundled_six_still_lacks_find_spec() -> None:
    import spyne.util.six as six

    assert not hasattr(six._SixMetaPathImporter, "find_spec"), "six has find_spec(): delete the shim"
    assert six.__name__ == SIX


def test_the_finder_answers_for_six_moves_with_six_own_loader() -> None:
    import spyne.util.six as six

    spec = SixMovesFinder().find_spec(f"{SIX}.moves.urllib.parse")
    assert spec is not None and spec.name == f"{SIX}.moves.urllib.parse"
    assert spec.loader is six._importer
    package = SixMovesFinder().find_spec(f"{SIX}.moves")
    assert package is not None and package.submodule_search_locations == []


@pytest.mark.parametrize("name", ["json", "spyne.util.oset", f"{SIX}.moves.no_such_module", f"{SIX}x.moves"])
def test_the_finder_leaves_every_other_name_to_python(name: str) -> None:
    assert SixMovesFinder().find_spec(name) is None


def test_installing_twice_leaves_one_finder() -> None:
    install()
    install()
    assert sum(isinstance(finder, SixMovesFinder) for finder in sys.meta_path) == 1
    assert _spyne_compat.__name__ in sys.modules


def test_the_cgi_module_spyne_imports_is_there_from_the_stdlib_or_legacy_cgi_on_3_13() -> None:
    spec = importlib.util.find_spec("cgi")  # found, not imported: importing it warns on 3.11 and 3.12
    assert spec is not None and spec.origin is not None
    providers = importlib.metadata.packages_distributions().get("cgi", [])
    if sys.version_info >= (3, 13):
        assert "legacy-cgi" in providers, "Python 3.13 has no cgi module: legacy-cgi provides it"
    else:
        assert providers == [] and Path(spec.origin).parent == Path(sysconfig.get_paths()["stdlib"])
