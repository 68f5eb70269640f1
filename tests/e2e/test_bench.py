"""``make bench`` keeps working: bench/bench_soap.py run in its quickest form against real servers on loopback
gives a row for every baseline and operation at every connection count, and JSON that says the same; its
in-process breakdown of the hot path times every stage. Nothing here asserts a speed: the figures belong to the
benchmark's report, not to the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "bench_soap.py"
OPERATIONS = ["Integrate", "Consult", "CheckAccess", "SendFlow", "Desintegrate", "REGISTER", "LIST"]
STAGES = [
    "echo: whole request (spyne)",
    "hello: whole request (bare WSGI)",
    *(f"{name}: whole request" for name in OPERATIONS if name != "Desintegrate"),
    "parse + envelope checks",
    "authentication (token, digest, institution)",
    "schema: request",
    "spyne dispatch + codec read/write (no use case)",
    "Integrate: dispatch + use case (one transaction)",
    "Consult: dispatch + use case (one transaction)",
    "schema: response",
    "serialise response",
]


def run_bench(tmp_path: Path, *options: str) -> tuple[dict[str, Any], str, int]:
    """The benchmark's JSON report, what it printed, and its process id."""
    output = tmp_path / "bench.json"
    command = [sys.executable, str(BENCH), "--quick", "--output", str(output), *options]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT) as process:
        try:
            printed, errors = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, printed[-3000:] + errors[-3000:]
    report: dict[str, Any] = json.loads(output.read_text())
    return report, printed, process.pid


def rows_of(report: dict[str, Any]) -> set[tuple[str, int, str]]:
    return {(row["db"], row["connections"], row["operation"]) for row in report["rows"]}


def assert_complete(report: dict[str, Any], db: str, connections: list[int]) -> None:
    expected = {(db, c, name) for c in connections for name in ["echo", "hello", *OPERATIONS]}
    assert expected <= rows_of(report)
    for row in report["rows"]:
        assert row["errors"] == 0, row
        assert row["rate"] > 0 and row["p99_ms"] >= row["p50_ms"] > 0 and row["server_cpu_us"] > 0, row
        assert row["rate_ratio"] > 0 and row["cpu_ratio"] > 0, row


def test_the_quick_benchmark_measures_every_operation_beside_the_echo_at_1_and_8_connections(
    tmp_path: Path,
) -> None:
    report, printed, _ = run_bench(tmp_path, "--no-postgres")
    assert_complete(report, "sqlite", [1, 8])
    assert {c["operation"] for c in report["targets"]} == set(OPERATIONS)  # each checked at 8 connections
    for name in OPERATIONS:
        assert f"sqlite 2w 8c gateway {name}" in printed


def test_the_python_load_generator_gives_the_same_rows_when_wrk_is_missing(tmp_path: Path) -> None:
    report, _, _ = run_bench(tmp_path, "--no-postgres", "--load", "python", "--connections", "2")
    assert report["load"] == "python"
    assert_complete(report, "sqlite", [2])


@pytest.mark.postgres
def test_the_benchmark_measures_postgresql_in_a_schema_it_drops_afterwards(tmp_path: Path) -> None:
    url = os.environ.get("KSZ_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("KSZ_TEST_POSTGRES_URL is not set")
    import psycopg

    report, _, pid = run_bench(tmp_path, "--postgres", url, "--connections", "1")
    assert_complete(report, "postgres", [1])
    with psycopg.connect(url) as conn:
        left = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"ksz_bench_{pid}_%",))
        assert left.fetchall() == []


def test_the_breakdown_times_every_stage_of_the_hot_path(tmp_path: Path) -> None:
    report, printed, _ = run_bench(tmp_path, "--breakdown-only")
    assert "rows" not in report
    assert list(report["breakdown_us"]) == STAGES
    assert all(micros > 0 for micros in report["breakdown_us"].values()), report["breakdown_us"]
    assert "In-process cost of each stage" in printed


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_is_the_generator_when_it_is_installed(tmp_path: Path) -> None:
    report, _, _ = run_bench(tmp_path, "--no-postgres", "--connections", "1", "--breakdown-only")
    assert report["load"] == "wrk"


def test_the_scale_benchmark_generates_the_directory_in_the_database_and_measures_it(tmp_path: Path) -> None:
    output = tmp_path / "scale.json"
    options = ["--rows", "3000", "--consults", "20", "--no-http", "--output", str(output), "--engines", "sqlite"]
    url = os.environ.get("KSZ_TEST_POSTGRES_URL")
    if url:
        options[-1] = "sqlite,postgres"
        options += ["--postgres", url, "--partitions", "4"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_scale.py"), *options],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(output.read_text())
    for engine in ["sqlite", *(["postgres"] if url else [])]:
        figures = report[engine]
        assert figures["full, in-process"]["Consult"]["answers_mean"] == 1  # each person has its one integration
        assert figures["empty, in-process"]["Consult"]["answers_mean"] == 0
        for name in ("Consult", "CheckAccess"):
            assert figures["full, in-process"][name]["p99_ms"] > 0
    if url:
        partitioning = report["postgres"]["partitioning"]
        assert partitioning["periods"]["tables scanned by the Consult plan"] == 1
        assert partitioning["periods_hashed"]["tables scanned by the Consult plan"] == 1  # one partition, pruned


def test_the_memory_benchmark_reads_the_worker_after_each_tenth_of_its_requests(tmp_path: Path) -> None:
    output = tmp_path / "memory.json"
    options = ["--requests", "200", "--connections", "2", "--output", str(output)]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_memory.py"), *options],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(output.read_text())
    assert [r["requests"] for r in report["readings"]] == [0, *range(20, 201, 20)]
    assert all(r["rss_kib"] > 0 for r in report["readings"]) and report["errors"] == 0
    assert report["ratio"] == report["readings"][-1]["rss_kib"] / report["readings"][1]["rss_kib"]
    assert "RSS after 20: " in done.stdout and "after 200: " in done.stdout and "ratio " in done.stdout
