"""The repertorium's SOAP 1.1 front: edge checks, WS-Security, the spyne application and its served documents.

Invariant: the composition root (``gateway.entrypoints.compose.make_app``) is the only way in; importing this
package opens nothing.
"""

# Before any submodule imports spyne: spyne 2.14 needs this shim to import on Python 3.12 and 3.13.
from gateway.adapters.soap import _spyne_compat  # noqa: F401
