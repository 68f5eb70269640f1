"""A real ``ksz-gateway serve`` over HTTPS with the demo certificates, for the end-to-end tests of client
certificates: the certificates written by ``ksz-gateway certificates demo`` and registered with
``institutions add-certificate``, exactly as an operator would.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Gateway", "cli", "client_context", "free_port", "launch", "start", "stop"]

ROOT = Path(__file__).resolve().parents[2]


def command() -> str:
    script = Path(sys.executable).with_name("ksz-gateway")
    return str(script if script.exists() else ROOT / ".venv" / "bin" / "ksz-gateway")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([command(), *args], capture_output=True, text=True, timeout=120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Gateway:
    host: str
    port: int
    db: str
    process: subprocess.Popen[bytes]
    log: Path
    https: bool

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def client_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """What a client of the gateway's HTTPS uses: the demo CA to trust the server, and its own certificate."""
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def start(db: str, folder: Path, *options: str, https: bool = True, today: str = "2015-01-10") -> Gateway:
    port = free_port()
    args = ["serve", "--demo", "--today", today, "--port", str(port), "--db", db, *options]
    if not any(option.startswith("--auth-failures-") for option in options):
        # Its tests send deliberate wrong credentials from one address; the brake is tested on its own.
        args += [
            "--auth-failures-soft",
            "1000",
            "--auth-failures-hard",
            "1000",
            "--auth-failures-address-limit",
            "100000",
        ]
    return launch(args, folder, port, db=db, https=https)


def launch(
    args: list[str], folder: Path, port: int, *, db: str = "", https: bool = False, env: dict[str, str] | None = None
) -> Gateway:
    """``ksz-gateway ARGS`` (a ``serve`` listening on ``port``) in ``folder``, once it accepts connections."""
    log = folder / f"gateway-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [command(), *args], stdout=out, stderr=subprocess.STDOUT, cwd=folder, env={**os.environ, **(env or {})}
        )
    gateway = Gateway("127.0.0.1", port, db, process, log, https)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode}:\n{gateway.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return gateway
        except OSError:
            time.sleep(0.1)
    stop(gateway)
    raise RuntimeError(f"the gateway did not listen within 60 s:\n{gateway.output()}")


def stop(gateway: Gateway) -> None:
    gateway.process.terminate()
    try:
        gateway.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        gateway.process.kill()
        gateway.process.wait(timeout=10)
