"""The load test's arithmetic on fixed numbers (the load itself is run by hand, not here)."""

from __future__ import annotations

import pytest

from benchmarks.load_test import Stats, percentile, report, summarize

SAMPLES = [
    ("list", 200, 0.030),
    ("list", 500, 0.020),
    ("list", 200, 0.010),
    ("create", 201, 0.100),
    ("create", 0, 2.000),
    ("wrong_password", 401, 0.300),
    ("wrong_password", 429, 0.001),
]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50, 99, 100)
    assert percentile([7.0, 1.0], 50) == 1.0
    assert percentile([0.25], 99) == 0.25


def test_summary_per_operation_counts_latency_and_status_classes() -> None:
    stats = summarize(SAMPLES)
    assert list(stats) == ["create", "list", "wrong_password"]
    assert stats["list"] == Stats(3, 0.020, 0.030, 0.030, {"2xx": 2, "5xx": 1})
    assert stats["create"].classes == {"2xx": 1, "none": 1}
    assert stats["wrong_password"].classes == {"4xx": 2}


def test_the_run_fails_on_5xx_on_no_answer_and_on_a_slow_p99(capsys: pytest.CaptureFixture[str]) -> None:
    failures = report(summarize(SAMPLES), max_p99=1.0)
    assert failures == ["create: p99 2.00 s over 1.0 s", "1 responses were 5xx", "1 requests got no answer"]
    printed = capsys.readouterr().out
    assert "list                 3     20.0     30.0     30.0  2xx 2, 5xx 1" in printed
    assert report(summarize([("healthz", 200, 0.001), ("wrong_password", 429, 0.01)]), max_p99=1.0) == []
