"""A per-key rate limit: at most N requests in any 60 seconds, counted in this process.

Kept in memory, not in the store, so that counting costs no write: with several server
processes each counts its own share, and the limit a client meets is at most N times the
number of processes (see the README's note on CIVICGRID_OPEN311_RATE_LIMIT)."""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from datetime import datetime

from civicgrid.domain.errors import TooManyAttempts

WINDOW_SECONDS = 60.0


class RateLimiter:
    """Counts requests per key in a sliding window of ``WINDOW_SECONDS``."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: defaultdict[int, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key_id: int, now: datetime) -> None:
        """Count one request of ``key_id`` at ``now``, or raise TooManyAttempts (counting
        nothing) when the key has used up its window."""
        moment = now.timestamp()
        with self._lock:
            seen = self._seen[key_id]
            while seen and seen[0] <= moment - WINDOW_SECONDS:
                seen.popleft()
            if len(seen) >= self.per_minute:
                wait = math.ceil(seen[0] + WINDOW_SECONDS - moment)
                raise TooManyAttempts(
                    f"this api_key made {self.per_minute} requests in the last minute: retry in {wait} s",
                    retry_after_seconds=max(wait, 1),
                )
            seen.append(moment)
