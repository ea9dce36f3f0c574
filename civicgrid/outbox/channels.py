"""How each kind of message leaves: webhooks over HTTP (signed), SMS and e-mail through
interchangeable senders (by default they only write to the log)."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol

import httpx

from civicgrid.exchange.signing import IDEMPOTENCY_HEADER, signed_headers
from civicgrid.settings import Settings

log = logging.getLogger("civicgrid.outbox")


class DeliveryFailed(Exception):
    """The receiver did not take the message (down, refused, not a 2xx): retry later."""


class SmsSender(Protocol):
    """Sends one text message."""

    def send(self, phone: str, text: str, idempotency_key: str) -> None: ...


class EmailSender(Protocol):
    """Sends one e-mail."""

    def send(self, address: str, subject: str, text: str, idempotency_key: str) -> None: ...


class LoggingSms:
    """Writes each SMS to the log instead of sending it (development, demos)."""

    def send(self, phone: str, text: str, idempotency_key: str) -> None:
        log.info("SMS to %s [%s]: %s", phone, idempotency_key, text)


class HttpSms:
    """Posts each SMS as JSON ``{"phone", "text"}`` to an SMS gateway, with a bearer token
    and the message's ``Idempotency-Key``."""

    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self.url, self.token, self.timeout_s = url, token, timeout_s

    def send(self, phone: str, text: str, idempotency_key: str) -> None:
        headers = {IDEMPOTENCY_HEADER: idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        post(self.url, None, {"phone": phone, "text": text}, headers, self.timeout_s)


class LoggingEmail:
    """Writes each e-mail to the log instead of sending it (development, demos)."""

    def send(self, address: str, subject: str, text: str, idempotency_key: str) -> None:
        log.info("e-mail to %s [%s]: %s\n%s", address, idempotency_key, subject, text)


class SmtpEmail:
    """Sends e-mail through an SMTP server (standard library), STARTTLS and login if set.
    The Message-ID comes from the idempotency key, so a resent copy can be recognised."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, address: str, subject: str, text: str, idempotency_key: str) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = s.email_from, address, subject
        message["Message-ID"] = f"<{idempotency_key}@civicgrid>"
        message.set_content(text)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.outbox_timeout_seconds) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryFailed(f"SMTP {s.smtp_host}:{s.smtp_port}: {error}") from None


def post(url: str, raw: bytes | None, payload: object, headers: dict[str, str], timeout_s: float) -> None:
    """POST ``raw`` (or ``payload`` as JSON); anything but a 2xx is a failed delivery."""
    try:
        if raw is not None:
            reply = httpx.post(url, content=raw, headers=headers, timeout=timeout_s)
        else:
            reply = httpx.post(url, json=payload, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{url}: {type(error).__name__}: {error}") from None
    if not reply.is_success:
        raise DeliveryFailed(f"{url}: HTTP {reply.status_code}: {reply.text[:200]}")


@dataclass
class Channels:
    """The senders a worker delivers through."""

    sms: SmsSender
    email: EmailSender
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Channels:
        """The senders the settings choose (``CIVICGRID_SMS_BACKEND``, ``CIVICGRID_EMAIL_BACKEND``)."""
        timeout = settings.outbox_timeout_seconds
        sms: SmsSender = (
            HttpSms(settings.sms_http_url, settings.sms_http_token, timeout)
            if settings.sms_backend == "http"
            else LoggingSms()
        )
        email: EmailSender = SmtpEmail(settings) if settings.email_backend == "smtp" else LoggingEmail()
        return cls(sms, email, timeout)

    def webhook(self, url: str, body: str, idempotency_key: str, secret: str | None) -> None:
        """POST a JSON body, signed with ``secret`` when the receiver is a partner."""
        raw = body.encode()
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: idempotency_key}
        if secret is not None:
            headers.update(signed_headers(secret, raw, datetime.now(UTC)))
        post(url, raw, None, headers, self.timeout_s)
