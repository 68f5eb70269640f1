"""A command whose reader goes away (``ksz-gateway audit | head -n 1``) ends as a Unix tool does: quietly, exit code
141 (128 + SIGPIPE), nothing on standard error — through a real pipe closed early."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.adapters.storage.sqlite import SqliteStore
from gateway.app.demo import ensure_demo
from gateway.app.ports import AuditRecord, ImportRow
from gateway.domain.periods import Period

ROOT = Path(__file__).resolve().parents[2]


def _command() -> str:
    script = Path(sys.executable).with_name("ksz-gateway")
    return str(script if script.exists() else ROOT / ".venv" / "bin" / "ksz-gateway")


@pytest.fixture(scope="module")
def long_trail(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A directory whose audit trail and export are far longer than a pipe holds (64 KiB)."""
    path = tmp_path_factory.mktemp("pipe") / "directory.db"
    store = SqliteStore(path)
    try:
        store.upgrade()
        ensure_demo(store)
        at = datetime(2015, 1, 10, tzinfo=UTC)
        with store.transaction() as tx:
            for n in range(2000):
                request = {"ssin": "85073003328", "note": "x" * 200}
                tx.add_audit(AuditRecord(f"KSZGW-{n:030d}", "0212345668", "Consult", at, None, request, {"ok": "YES"}))
        bodies = (f"{700101000 + n:09d}" for n in range(1, 4000))
        ssins = [f"{b}{97 - int(b) % 97:02d}" for b in bodies]
        store.import_integrations(ImportRow("0212345668", s, 1, Period(at.date())) for s in ssins)
    finally:
        store.close()
    return str(path)


@pytest.mark.parametrize("command", ["audit", "export"])
def test_a_reader_that_goes_away_ends_the_command_quietly(long_trail: str, command: str) -> None:
    with subprocess.Popen(
        [_command(), command, "--db", long_trail], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()  # as head -n 1 does once it has its line
        err = process.stderr.read()
        code = process.wait(timeout=60)
    assert first
    assert err == b""
    assert code == 141


def test_the_audit_trail_through_head_gives_its_first_line_and_exit_code_141(long_trail: str) -> None:
    shell = f"set -o pipefail; '{_command()}' audit --db '{long_trail}' | head -n 1"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith('{"ticket":"KSZGW-') and done.stdout.count("\n") == 1
    assert done.stderr == ""
    assert done.returncode == 141
