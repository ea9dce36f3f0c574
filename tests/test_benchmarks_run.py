"""The benchmarks that fill a store of their own (two of them serving it over HTTP) start
and finish at a small size: a benchmark that no longer runs is found here, not on the day
its figures are needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("script", "arguments", "printed"),
    [
        ("bench_statistics.py", ["--cases", "300", "--repeat", "1"], "department evaluation"),
        ("bench_briefings.py", ["--cases", "300", "--repeat", "1"], "cases"),
        ("bench_export.py", ["--cases", "300", "--formats", "csv"], "rows/s"),
        (
            "bench_store.py",
            ["--backends", "sqlite", "--sizes", "300", "--repeat", "1", "--throughput", "--seconds", "1"],
            "| case lists (3 kinds) | 300 |",
        ),
        (
            "bench_open311.py",
            [
                "--cases",
                "300",
                "--clients",
                "2",
                "--seconds",
                "2",
                "--rounds",
                "1",
                "--workers",
                "1",
                "--min-rate",
                "0",
            ],
            "GET requests.json",
        ),
    ],
)
def test_a_benchmark_runs_at_a_small_size(script: str, arguments: list[str], printed: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert printed in done.stdout, done.stdout
