"""What a directory keeps at rest: institution secrets sealed under the operator's key file, files only the owner
reads.

Invariant: with a key file, every institution secret a store writes is a Fernet token behind the prefix
``fernet:``, and every one it reads is opened again, so the application and the WS-Security check only ever see
the plain secret (the digest needs it: a hash would not do). A value without the prefix is a secret an older
database stored in clear; it is still read, and ``seal_secrets`` seals it. A sealed secret is never handed out
unopened: without its key a store refuses, with one line naming the key file. A key file holds one Fernet key a
line (``#`` comments and blank lines ignored): the first seals, every one opens, so an operator can roll keys
without a moment where the running gateway cannot read what another process just wrote. Files made here are
created 0600 whatever the umask.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.errors import ConfigurationError, StorageError

__all__ = [
    "SEALED_PREFIX",
    "SecretCipher",
    "SecretColumn",
    "create_private",
    "exposed_mode",
    "is_sealed",
    "load_key_file",
    "write_new_key_file",
]

SEALED_PREFIX = "fernet:"
_PRIVATE = 0o600


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


class SecretCipher:
    """Fernet keys from one key file: the first seals, any of them opens."""

    def __init__(self, keys: Sequence[bytes], source: str) -> None:
        if not keys:
            raise ValueError("a cipher needs at least one key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self.source = source  # the key file, named in every message about it

    def __repr__(self) -> str:
        return f"SecretCipher({self.source!r})"

    def seal(self, secret: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, stored: str) -> str:
        """The secret ``stored`` holds; ``InvalidToken`` when none of the keys sealed it (or it was altered)."""
        return self._fernet.decrypt(stored.removeprefix(SEALED_PREFIX).encode("ascii")).decode()


class SecretColumn:
    """How a store writes and reads the ``secret`` column: sealed with a cipher, in clear without one."""

    def __init__(self, cipher: SecretCipher | None, where: str) -> None:
        self.cipher = cipher
        self._where = where

    def write(self, secret: str) -> str:
        return secret if self.cipher is None else self.cipher.seal(secret)

    def read(self, institution_id: str, stored: str) -> str:
        if not is_sealed(stored):
            return stored
        if self.cipher is None:
            raise StorageError(
                f"the secret of institution {institution_id} in {self._where} is encrypted and no key file "
                "was given (--secret-key-file)"
            )
        try:
            return self.cipher.open(stored)
        except (InvalidToken, UnicodeError) as exc:
            raise StorageError(
                f"the secret of institution {institution_id} in {self._where} cannot be decrypted with the "
                f"key file {self.cipher.source} (another key sealed it, or it was altered)"
            ) from exc

    def refuse_clear_beside_sealed(self) -> StorageError:
        return StorageError(
            f"{self._where} holds encrypted secrets: a new secret is written only with the key file (--secret-key-file)"
        )


def load_key_file(path: str | os.PathLike[str]) -> SecretCipher:
    """The cipher of the key file at ``path``; ``ConfigurationError`` naming it when it cannot be used."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="ascii")
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a key file"
        raise ConfigurationError(f"the key file {name} cannot be read: {reason}") from exc
    lines = [line.strip() for line in text.splitlines()]
    keys = [line.encode() for line in lines if line and not line.startswith("#")]
    if not keys:
        raise ConfigurationError(f"the key file {name} holds no key (make one: ksz-gateway secrets new-key)")
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError as exc:
            raise ConfigurationError(
                f"the key file {name} cannot be used: its key {number} is not a Fernet key "
                "(32 bytes in URL-safe base64, as ksz-gateway secrets new-key writes)"
            ) from exc
    return SecretCipher(keys, name)


def create_private(path: str | os.PathLike[str]) -> bool:
    """Create ``path`` empty with mode 0600 (whatever the umask) unless it exists; True when created here.
    Nothing is changed on a file that exists, and a path that cannot be created is left to its opener to
    report."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _PRIVATE)
    except OSError:
        return False
    os.close(fd)  # the umask only ever removes bits: the mode is 0600 or stricter
    return True


def write_new_key_file(path: str | os.PathLike[str]) -> None:
    """Write a new Fernet key to a new file ``path`` (0600); ``FileExistsError`` if it exists."""
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _PRIVATE)
    with os.fdopen(fd, "wb") as out:
        out.write(b"# ksz-gateway institution secrets key: the first key seals, every key opens\n" + key + b"\n")


def exposed_mode(path: str | os.PathLike[str]) -> int | None:
    """The permission bits of ``path`` when its group or others may read or write it; None otherwise (or when it
    does not exist)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    return mode if mode & 0o077 else None
