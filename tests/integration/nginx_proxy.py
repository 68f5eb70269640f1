"""nginx in front of gateways, for the end-to-end tests through a reverse proxy: the main configuration (no
daemon, everything under a test folder) around the ``http`` block a test brings, started and stopped here.

``nginx_binary()`` skips a test when nginx is not installed (``apt-get install -y nginx-light``), and fails it
instead when ``KSZ_TEST_REQUIRE_NGINX`` is set, as in CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["REQUIRE_NGINX", "nginx_binary", "running_nginx"]

REQUIRE_NGINX = "KSZ_TEST_REQUIRE_NGINX"

MAIN = """
daemon off;
master_process off;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{}}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        if os.environ.get(REQUIRE_NGINX):
            pytest.fail(f"nginx is not installed ({REQUIRE_NGINX} is set): apt-get install -y nginx-light")
        pytest.skip("nginx is not installed: apt-get install -y nginx-light")
    return found


@contextmanager
def running_nginx(folder: Path, site: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """nginx serving ``site`` (the text of an ``http``-level configuration: upstreams and servers) from
    ``folder``, once it accepts connections on ``port``; stopped when the block ends."""
    nginx = nginx_binary()
    (folder / "site.conf").write_text(site)
    (folder / "nginx.conf").write_text(MAIN.format(folder=folder))
    with (folder / "nginx.out").open("wb") as out:
        process = subprocess.Popen(
            [nginx, "-p", str(folder), "-c", str(folder / "nginx.conf")], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        if process.poll() is not None:
            output = (folder / "nginx.out").read_text(errors="replace")
            errors = (folder / "error.log").read_text(errors="replace") if (folder / "error.log").exists() else ""
            raise RuntimeError(f"nginx exited: {output}{errors}")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)
