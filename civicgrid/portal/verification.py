"""Phone verification of the citizens' portal: a short code sent by SMS through the outbox
(in the same transaction as its row), kept only as a keyed hash, valid for a few minutes
and a few wrong tries, used once.

The throttle counts the stored rows, as the sign-in throttle counts its attempts, so every
server process sees the same counts and a restart forgets nothing: one code per phone per
interval and a few an hour, and a cap per client address on codes for any phone (no SMS
bombing from one machine). A wrong code is recorded on its row (the caller commits it), so
the attempt limit holds however the requests are spread."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from civicgrid.domain.errors import TooManyAttempts
from civicgrid.outbox.messages import enqueue_sms
from civicgrid.settings import Settings
from civicgrid.store import portal as portal_queries
from civicgrid.store.models import PhoneCode

#: The window of the hourly caps, and how long codes stay on record for them.
HOUR = timedelta(hours=1)
RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class CodePolicy:
    """How codes are made, how long they last, and how often they may be asked for."""

    length: int
    lifetime: timedelta
    attempts: int
    interval: timedelta
    per_phone_hour: int
    per_address_hour: int

    @classmethod
    def from_settings(cls, settings: Settings) -> CodePolicy:
        """The policy the centre configured (``CIVICGRID_PORTAL_CODE_*``)."""
        return cls(
            length=settings.portal_code_length,
            lifetime=timedelta(minutes=settings.portal_code_minutes),
            attempts=settings.portal_code_attempts,
            interval=timedelta(seconds=settings.portal_code_interval_seconds),
            per_phone_hour=settings.portal_codes_per_phone_hour,
            per_address_hour=settings.portal_codes_per_address_hour,
        )


def _digest(phone: str, code: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), f"portal-code:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _wait(until: datetime, now: datetime, what: str) -> TooManyAttempts:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    when = f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分钟"
    return TooManyAttempts(f"{what}，请 {when}后再试", retry_after_seconds=seconds)


def send_code(
    session: Session, phone: str, address: str, now: datetime, policy: CodePolicy, secret_key: str
) -> str:
    """Make a code for ``phone``, store its hash and write the SMS that carries it to the
    outbox; the code (for tests; the page never shows it). TooManyAttempts, writing
    nothing, when the phone or the address asked too often."""
    latest = portal_queries.latest_code(session, phone)
    if latest is not None and latest.created_at + policy.interval > now:
        raise _wait(latest.created_at + policy.interval, now, "验证码已发送，请查看短信")
    if portal_queries.codes_since(session, now - HOUR, phone=phone) >= policy.per_phone_hour:
        raise _wait(now + HOUR, now, "该号码获取验证码次数过多")
    if portal_queries.codes_since(session, now - HOUR, address=address) >= policy.per_address_hour:
        raise _wait(now + HOUR, now, "获取验证码过于频繁")
    code = "".join(secrets.choice("0123456789") for _ in range(policy.length))
    minutes = round(policy.lifetime.total_seconds() / 60)
    session.add(
        PhoneCode(
            phone=phone,
            address=address[:64],
            code_hash=_digest(phone, code, secret_key),
            created_at=now,
            expires_at=now + policy.lifetime,
            attempts=0,
        )
    )
    enqueue_sms(
        session,
        phone,
        f"验证码：{code}（{minutes}分钟内有效）。您正在使用市民服务门户反映或查询问题，请勿将验证码告诉他人。",
        now,
    )
    portal_queries.purge(session, now, RETENTION)
    session.flush()
    return code


class Check(StrEnum):
    """What became of a code that was tried."""

    ACCEPTED = "accepted"
    WRONG = "wrong"
    #: No live code: none sent, expired, or used already.
    NONE = "none"
    #: Too many wrong tries: a new code must be asked for.
    SPENT = "spent"


#: What the verification form says for each outcome but success.
CHECK_MESSAGES = {
    Check.WRONG: "验证码不正确，请重新输入。",
    Check.NONE: "验证码已失效或尚未获取，请重新获取验证码。",
    Check.SPENT: "验证码错误次数过多，请重新获取验证码。",
}


def check_code(
    session: Session, phone: str, given: str, now: datetime, policy: CodePolicy, secret_key: str
) -> Check:
    """Try ``given`` against the newest code sent to ``phone``: accepted (and used up), or
    why not. A wrong try is counted on the code's row, so the caller must commit even then."""
    code = portal_queries.latest_code(session, phone, for_update=True)
    if code is None or code.used_at is not None or code.expires_at <= now:
        return Check.NONE
    if code.attempts >= policy.attempts:
        return Check.SPENT
    if not hmac.compare_digest(code.code_hash, _digest(phone, given.strip(), secret_key)):
        code.attempts += 1
        session.flush()
        return Check.SPENT if code.attempts >= policy.attempts else Check.WRONG
    code.used_at = now
    session.flush()
    return Check.ACCEPTED
