"""The repertorium's SOAP 1.1 front: edge checks, WS-Security, the spyne application and its served documents.

Invariant: the composition root (``gateway.entrypoints.compose.make_app``) is the only way in; importing this
package opens nothing.
"""
