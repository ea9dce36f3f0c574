"""The sender against a real HTTP receiver on a local port: signed, delivered once per 2xx,
retried with growing pauses while the receiver is down, in order per case; SMS and e-mail
through their senders; one active sender at a time."""

from __future__ import annotations

import json
import logging
import socketserver
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from civicgrid.exchange.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from civicgrid.jobs import start
from civicgrid.outbox.channels import Channels, DeliveryFailed, HttpSms, LoggingEmail, LoggingSms, SmtpEmail
from civicgrid.outbox.lock import SenderLock
from civicgrid.outbox.messages import Kind, enqueue, enqueue_email, enqueue_sms
from civicgrid.outbox.sender import Sender, backoff
from civicgrid.settings import Settings
from civicgrid.store.models import OutboxMessage, Partner
from tests.exchange.helpers import SECRET, add_partner
from tests.factories import build_world
from tests.outbox.receiver import Receiver, free_port

BASE = 10.0


@pytest.fixture
def outbox_settings(fresh_engine: Engine) -> Settings:
    return Settings(
        environment="test",
        database_url=fresh_engine.url.render_as_string(hide_password=False),
        secret_key="test-only-secret-" * 3,
        outbox_retry_base_seconds=BASE,
        outbox_retry_max_seconds=BASE * 4,
        outbox_poll_seconds=0.05,
        outbox_timeout_seconds=2,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def partner_id(fresh_engine: Engine, now: datetime) -> int:
    with Session(fresh_engine) as session:
        build_world(session)
        partner = add_partner(session, now)
        session.commit()
        return partner.id


def put(
    engine: Engine, url: str, bodies: list[tuple[str, str]], now: datetime, partner_id: int | None
) -> None:
    """Webhook messages (stream, body) in the order given, committed."""
    with Session(engine) as session:
        for stream, body in bodies:
            enqueue(session, Kind.WEBHOOK, stream, url, body, now, partner_id=partner_id)
        session.commit()


def messages(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_webhook_goes_out_signed_and_is_marked_only_after_the_2xx(
    fresh_engine: Engine, outbox_settings: Settings, receiver: Receiver, partner_id: int, now: datetime
) -> None:
    put(fresh_engine, receiver.url, [("case:1", '{"type": "accepted"}')], now, partner_id)
    sender = Sender(fresh_engine, outbox_settings)
    assert sender.run_once(now) == (1, 0)
    [got] = receiver.requests
    assert got.body == b'{"type": "accepted"}' and got.headers["Content-Type"] == "application/json"
    verify(
        SECRET,
        got.headers[TIMESTAMP_HEADER],
        got.headers[SIGNATURE_HEADER],
        got.body,
        datetime.now(now.tzinfo),
        60,
    )
    [message] = messages(fresh_engine)
    assert got.headers["Idempotency-Key"] == message.idempotency_key
    assert message.delivered_at is not None and message.attempts == 1
    assert sender.run_once(now + timedelta(days=1)) == (0, 0)
    assert len(receiver.requests) == 1


def test_a_receiver_that_is_down_gets_the_message_when_it_is_up_again(
    fresh_engine: Engine, outbox_settings: Settings, partner_id: int, now: datetime
) -> None:
    receiver = Receiver()  # not started: the port refuses connections
    put(fresh_engine, receiver.url, [("case:1", "{}")], now, partner_id)
    sender = Sender(fresh_engine, outbox_settings)
    assert sender.run_once(now) == (0, 1)
    [message] = messages(fresh_engine)
    assert message.attempts == 1 and message.next_attempt_at == now + timedelta(seconds=BASE)
    assert message.last_error is not None and "ConnectError" in message.last_error
    assert sender.run_once(now + timedelta(seconds=BASE - 1)) == (0, 0)  # not due yet
    receiver.status = 503
    receiver.start()
    try:
        assert sender.run_once(now + timedelta(seconds=BASE)) == (0, 1)
        [message] = messages(fresh_engine)
        assert message.attempts == 2 and "HTTP 503" in (message.last_error or "")
        assert message.next_attempt_at == now + timedelta(seconds=BASE * 3)  # the pause doubled
        receiver.status = 200
        assert sender.run_once(now + timedelta(seconds=BASE * 3)) == (1, 0)
    finally:
        receiver.stop()
    assert len(receiver.kept) == 1 and messages(fresh_engine)[0].delivered_at is not None


def test_backoff_doubles_up_to_the_maximum() -> None:
    assert [backoff(n, 5, 60).total_seconds() for n in (1, 2, 3, 4, 5, 100)] == [5, 10, 20, 40, 60, 60]


def test_a_case_s_messages_go_in_order_and_one_stuck_case_does_not_hold_the_others(
    fresh_engine: Engine, outbox_settings: Settings, receiver: Receiver, partner_id: int, now: datetime
) -> None:
    put(
        fresh_engine,
        receiver.url,
        [("case:1", "a1"), ("case:2", "b1"), ("case:1", "a2"), ("case:2", "b2")],
        now,
        partner_id,
    )
    receiver.refuse.add("a1")
    sender = Sender(fresh_engine, outbox_settings)
    assert sender.run_once(now) == (1, 1)  # b1 went; a1 refused, so a2 waits behind it
    assert sender.run_once(now) == (1, 0)  # b2
    assert [r.body for r in receiver.requests] == [b"b1", b"b2"]
    receiver.refuse.clear()
    later = now + timedelta(seconds=BASE)
    assert sender.run_once(later) == (1, 0) and sender.run_once(later) == (1, 0)
    assert [r.body for r in receiver.requests] == [b"b1", b"b2", b"a1", b"a2"]


def test_sms_and_email_go_through_their_senders(
    fresh_engine: Engine, outbox_settings: Settings, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    with Session(fresh_engine) as session:
        enqueue_sms(session, "13800000000", "您的验证码是 123456", now)
        enqueue_email(session, "leader@example.org", "红灯案件", "3 件案件已超期", now)
        enqueue(session, Kind.WEBHOOK, "x", "http://127.0.0.1:9/none", "{}", now).kind = "fax"
        session.commit()
    with caplog.at_level(logging.INFO, logger="civicgrid.outbox"):
        assert Sender(fresh_engine, outbox_settings).run_once(now) == (2, 1)
    assert "您的验证码是 123456" in caplog.text and "红灯案件" in caplog.text
    assert "unknown kind of message 'fax'" in (messages(fresh_engine)[2].last_error or "")


def test_a_sender_s_own_error_is_recorded_and_the_round_goes_on(
    fresh_engine: Engine, outbox_settings: Settings, now: datetime
) -> None:
    class Broken(LoggingSms):
        def send(self, phone: str, text: str, idempotency_key: str) -> None:
            raise RuntimeError("gateway library bug")

    with Session(fresh_engine) as session:
        enqueue_sms(session, "13800000000", "一", now)
        enqueue_email(session, "a@example.org", "二", "二", now)
        session.commit()
    sender = Sender(fresh_engine, outbox_settings, Channels(Broken(), LoggingEmail()))
    assert sender.run_once(now) == (1, 1)
    assert "RuntimeError: gateway library bug" in (messages(fresh_engine)[0].last_error or "")


def test_the_http_sms_gateway_gets_the_text_with_its_token(receiver: Receiver) -> None:
    HttpSms(receiver.url, "gateway-token", 2).send("13800000000", "验证码 654321", "key-1")
    [got] = receiver.requests
    assert json.loads(got.body) == {"phone": "13800000000", "text": "验证码 654321"}
    assert (
        got.headers["Authorization"] == "Bearer gateway-token" and got.headers["Idempotency-Key"] == "key-1"
    )
    receiver.status = 400
    with pytest.raises(DeliveryFailed, match="HTTP 400"):
        HttpSms(receiver.url, "", 2).send("13800000000", "x", "key-2")


class SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to take one message (no TLS, no login)."""

    received: list[str] = []  # noqa: RUF012 (the test server's mailbox)

    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        data: list[str] | None = None
        for raw in self.rfile:
            line = raw.decode().rstrip("\r\n")
            if data is not None:
                if line == ".":
                    SmtpHandler.received.append("\n".join(data))
                    data = None
                    self.wfile.write(b"250 queued\r\n")
                else:
                    data.append(line)
            elif line.upper().startswith("DATA"):
                data = []
                self.wfile.write(b"354 go on\r\n")
            elif line.upper().startswith("QUIT"):
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def test_smtp_email_reaches_a_real_smtp_server(outbox_settings: Settings) -> None:
    SmtpHandler.received.clear()
    port = free_port()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), SmtpHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = outbox_settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "email_from": "centre@example.org",
        }
    )
    try:
        SmtpEmail(settings).send("leader@example.org", "红灯案件", "3 件案件已超期", "key-9")
    finally:
        server.shutdown()
        server.server_close()
    [mail] = SmtpHandler.received
    assert "Message-ID: <key-9@civicgrid>" in mail and "To: leader@example.org" in mail
    with pytest.raises(DeliveryFailed, match="SMTP"):
        SmtpEmail(settings.model_copy(update={"smtp_port": free_port()})).send("a@example.org", "s", "t", "k")


def test_channels_follow_the_settings(outbox_settings: Settings) -> None:
    chosen = Channels.from_settings(
        outbox_settings.model_copy(
            update={"sms_backend": "http", "sms_http_url": "http://127.0.0.1:1/sms", "email_backend": "smtp"}
        )
    )
    assert isinstance(chosen.sms, HttpSms) and isinstance(chosen.email, SmtpEmail)
    default = Channels.from_settings(outbox_settings)
    assert isinstance(default.sms, LoggingSms) and isinstance(default.email, LoggingEmail)


def test_only_one_sender_holds_the_lock(fresh_engine: Engine) -> None:
    first, second = SenderLock(fresh_engine), SenderLock(fresh_engine)
    assert first.try_acquire() and first.try_acquire()  # held: asking again is fine
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire() and not first.try_acquire()
    second.release()


def test_the_background_sender_delivers_and_a_standby_waits(
    fresh_engine: Engine, outbox_settings: Settings, receiver: Receiver, partner_id: int, now: datetime
) -> None:
    standby_lock = SenderLock(fresh_engine)
    assert standby_lock.try_acquire()  # another sender is active: the background one waits
    thread, stop = start("civicgrid-sender", Sender(fresh_engine, outbox_settings).run)
    put(fresh_engine, receiver.url, [("case:1", "{}")], datetime.now(now.tzinfo), partner_id)
    time.sleep(0.3)
    assert receiver.requests == []
    standby_lock.release()  # the active one stops: the standby takes over
    deadline = time.monotonic() + 10
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(5)
    assert len(receiver.requests) == 1 and not thread.is_alive()


def test_partner_secret_is_read_at_each_attempt(
    fresh_engine: Engine, outbox_settings: Settings, receiver: Receiver, partner_id: int, now: datetime
) -> None:
    put(fresh_engine, receiver.url, [("case:1", "{}")], now, partner_id)
    with Session(fresh_engine) as session:
        partner = session.get(Partner, partner_id)
        assert partner is not None
        partner.secret = "a-rotated-secret-of-at-least-32-chars"
        session.commit()
    Sender(fresh_engine, outbox_settings).run_once(now)
    [got] = receiver.requests
    verify(
        "a-rotated-secret-of-at-least-32-chars",
        got.headers[TIMESTAMP_HEADER],
        got.headers[SIGNATURE_HEADER],
        got.body,
        datetime.now(now.tzinfo),
        60,
    )


def test_the_background_sender_keeps_retrying_while_the_receiver_is_down(
    fresh_engine: Engine, outbox_settings: Settings, partner_id: int, now: datetime
) -> None:
    settings = outbox_settings.model_copy(
        update={"outbox_retry_base_seconds": 0.05, "outbox_retry_max_seconds": 0.1}
    )
    put(fresh_engine, Receiver().url, [("case:1", "{}")], datetime.now(now.tzinfo), partner_id)
    thread, stop = start("civicgrid-sender", Sender(fresh_engine, settings).run)
    deadline = time.monotonic() + 20
    while messages(fresh_engine)[0].attempts < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(5)
    [message] = messages(fresh_engine)
    assert message.attempts >= 3 and message.delivered_at is None and not thread.is_alive()
