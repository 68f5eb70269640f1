"""The WS-Security UsernameToken profile as the contract uses it: the password digest, for signers and checkers.

Invariant: the server that checks a token and every tool that signs one compute the digest with this function.
"""

from __future__ import annotations

import base64
import hashlib

__all__ = ["password_digest"]


def password_digest(nonce: bytes, created: str, secret: str) -> str:
    """The UsernameToken digest: base64(SHA-1(nonce + Created + secret))."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + secret.encode()).digest()).decode("ascii")
