"""HMAC-SHA256 signatures of the exchange, the same both ways.

A request carries ``X-Civicgrid-Timestamp`` (Unix seconds) and ``X-Civicgrid-Signature:
sha256=<hex>``, the HMAC-SHA256 with the partner's shared secret of the timestamp, a dot and
the raw body. The timestamp keeps a captured request from being replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from civicgrid.domain.errors import Unauthenticated

TIMESTAMP_HEADER = "X-Civicgrid-Timestamp"
SIGNATURE_HEADER = "X-Civicgrid-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, body: bytes, now: datetime) -> dict[str, str]:
    """The timestamp and signature headers of ``body`` sent ``now``."""
    timestamp = str(int(now.timestamp()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str, timestamp: str | None, given: str | None, body: bytes, now: datetime, max_skew_seconds: int
) -> None:
    """Refuse (``Unauthenticated``, with the reason) a request whose signature is missing or
    wrong, or whose timestamp is missing, malformed or too far from ``now``."""
    if not timestamp or not given:
        raise Unauthenticated(f"sign the request: send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise Unauthenticated(f"{TIMESTAMP_HEADER} must be Unix seconds, not {timestamp[:20]!r}")
    skew = abs(now.timestamp() - int(timestamp))
    if skew > max_skew_seconds:
        raise Unauthenticated(
            f"{TIMESTAMP_HEADER} is {int(skew)} s away from the server's time "
            f"(at most {max_skew_seconds} s): a stale or replayed request"
        )
    if not hmac.compare_digest(signature(secret, timestamp, body), given):
        raise Unauthenticated(
            f"{SIGNATURE_HEADER} does not match: expected sha256=HMAC-SHA256(secret, timestamp + '.' + body)"
        )
