"""A helper for tests of what the commands draw on a terminal: a real pseudo-terminal of 100 columns.

``terminal()`` puts the pseudo-terminal in place of standard error while its block runs, and yields a function
that returns everything drawn on it so far (as the terminal received it: line ends as ``\\r\\n``).
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import sys
import termios
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["terminal"]


@contextmanager
def terminal(columns: int = 100) -> Iterator[Callable[[], str]]:
    main_fd, terminal_fd = os.openpty()
    fcntl.ioctl(terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    drawn = bytearray()

    def read() -> str:
        sys.stderr.flush()
        while select.select([main_fd], [], [], 0.2)[0]:
            drawn.extend(os.read(main_fd, 65536))
        return drawn.decode()

    saved = sys.stderr
    try:
        with os.fdopen(terminal_fd, "w", closefd=False) as stream:
            sys.stderr = stream
            try:
                yield read
            finally:
                read()
                sys.stderr = saved
    finally:
        os.close(main_fd)
        os.close(terminal_fd)
