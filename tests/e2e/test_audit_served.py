"""The audit chain as served: every worker of ``ksz-gateway serve`` appends to one chain, signs a checkpoint every
``--audit-checkpoint-every`` records with ``--audit-key-file``, and ``ksz-gateway audit verify`` finds it whole;
a server without a key says at start, in one line, that it signs no checkpoints."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def test_a_served_trail_is_one_chain_with_signed_checkpoints_that_verify(
    launch: Callable[..., Any], wire: Any, soap: Any, tmp_path: Path
) -> None:
    key = tmp_path / "audit.key"
    script = "import sys; from gateway.entrypoints.cli import main; sys.exit(main(sys.argv[1:]))"
    made = subprocess.run(
        [sys.executable, "-c", script, "audit", "new-key", "--out", str(key)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    served = launch("--audit-key-file", str(key), "--audit-checkpoint-every", "2", workers=2)
    assert f"a checkpoint signed with {key} every 2 records" in served.log()
    for _ in range(5):
        wire.call(soap.consult(soap.new_ssin(), "2015-01-01"), server=served)
    verified = served.cli("audit", "verify", "--audit-key-file", str(key))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit trail intact: 5 records" in verified.stdout
    assert "2 signed checkpoint(s) checked" in verified.stdout


def test_a_server_without_a_key_says_it_signs_no_checkpoints(gateway: Any) -> None:
    lines = [line for line in gateway.log().splitlines() if line.startswith("Audit trail:")]
    assert lines == [
        "Audit trail: hash-chained, without signed checkpoints (no --audit-key-file): a rewrite of the whole chain "
        "would go unseen."
    ]
