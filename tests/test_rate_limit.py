"""The per-key rate limit: a sliding window of a minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civicgrid.domain.errors import TooManyAttempts
from civicgrid.services.rate_limit import RateLimiter

START = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)


def test_a_key_gets_its_requests_back_as_the_window_slides() -> None:
    limiter = RateLimiter(per_minute=2)
    limiter.hit(1, START)
    limiter.hit(1, START + timedelta(seconds=30))
    with pytest.raises(TooManyAttempts) as refused:
        limiter.hit(1, START + timedelta(seconds=45))
    assert refused.value.retry_after_seconds == 15
    limiter.hit(2, START + timedelta(seconds=45))  # another key has its own window
    limiter.hit(1, START + timedelta(seconds=60))  # the first request left the window
    with pytest.raises(TooManyAttempts):
        limiter.hit(1, START + timedelta(seconds=61))
