"""The live stream over HTTP, on each database: a change reaches the users whose scope sees
it and nobody else, within 2 s; a rolled-back write publishes nothing; a reconnecting client
catches up from its Last-Event-ID; alerts reach their user only; signing out ends the stream."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from civicgrid.live.changes import CASE
from civicgrid.schemas import CaseCreate
from civicgrid.services import cases as case_service
from civicgrid.services.cases import CentreRules
from civicgrid.settings import Settings
from civicgrid.store.db import session_scope
from civicgrid.store.models import LiveChange, User
from tests.live.conftest import Committed, EventStream, Served, case_event, new_case_body
from tests.web.conftest import csrf_of

#: What the contract says a ``case`` event carries, exactly.
CASE_FIELDS = {
    "number", "state", "state_label", "light", "lng", "lat", "region_code", "grid_code",
    "category_code", "department_code", "at",
}  # fmt: skip
ALERT_FIELDS = {"id", "kind", "number", "text", "at", "unread"}
#: The contract's promise: a change shows within 2 s.
WITHIN = 2.0

Streams = Callable[..., EventStream]


def events_url(served: Served, query: str = "") -> str:
    return f"{served.url}/live/events{query}"


def create(served: Served, username: str, **fields: object) -> str:
    reply = httpx.post(
        f"{served.url}/api/v1/cases", json=new_case_body(**fields), headers=served.headers(username)
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["number"])


def act(served: Served, username: str, number: str, action: str, **fields: object) -> None:
    reply = httpx.post(
        f"{served.url}/api/v1/cases/{number}/actions/{action}", json=fields, headers=served.headers(username)
    )
    assert reply.status_code == 200, reply.text


def test_a_change_reaches_the_users_whose_scope_sees_it_and_nobody_else(
    committed: Committed, serve: Callable[..., Served], streams: Streams
) -> None:
    served = serve(committed.engine)
    watching = {
        name: streams(events_url(served), served.headers(name))
        for name in ("dispatcher", "leader", "dispatcher_west", "handler_cg", "handler_sz", "citizen")
    }
    assert {stream.status for stream in watching.values()} == {200}
    number = create(served, "operator")
    for name in ("dispatcher", "leader"):  # the street's and the district's
        event = watching[name].take(case_event(number), WITHIN)
        assert set(event.data) == CASE_FIELDS
        assert event.data["state"] == "reported" and event.data["state_label"] == "上报"
        assert event.data["region_code"] == "T010101" and event.data["grid_code"] == "T010101-01"
        assert event.data["category_code"] == "C0101" and event.data["department_code"] is None
        assert event.data["light"] == "green"
        assert (event.data["lng"], event.data["lat"]) == (120.005, 30.005)
        assert event.id is not None and int(event.id) > 0

    act(served, "operator", number, "register")
    act(served, "dispatcher", number, "dispatch", department_code="D-CG-E")
    dispatched = watching["handler_cg"].take(case_event(number), WITHIN)
    assert (dispatched.data["state"], dispatched.data["department_code"]) == ("dispatched", "D-CG-E")
    assert [e.data["state"] for e in watching["leader"].collect(1.0) if e.event == CASE] == [
        "registered",
        "dispatched",
    ]
    # Another street, another department, a citizen who did not report it: nothing at all.
    for name in ("dispatcher_west", "handler_sz", "citizen"):
        assert [e for e in watching[name].collect(0.5) if e.event == CASE] == [], name


def test_a_citizen_hears_of_their_own_report(
    committed: Committed, serve: Callable[..., Served], streams: Streams
) -> None:
    served = serve(committed.engine)
    stream = streams(events_url(served), served.headers("citizen"))
    number = create(served, "citizen", channel="web")
    assert stream.take(case_event(number), WITHIN).data["state"] == "reported"


def test_a_rolled_back_write_publishes_nothing(
    committed: Committed, serve: Callable[..., Served], streams: Streams, live_rules: CentreRules
) -> None:
    served = serve(committed.engine)
    stream = streams(events_url(served), served.headers("dispatcher"))
    before = _journal_size(committed)
    operator = committed.world.users["operator"]
    data = CaseCreate.model_validate(new_case_body(title="回滚的案件"))
    with pytest.raises(RuntimeError), session_scope(committed.factory) as session:
        actor = session.get(User, operator.id)
        assert actor is not None
        case_service.create_case(session, actor, data, live_rules, _now())
        session.flush()
        raise RuntimeError("the request failed after the write")
    # A refused request writes nothing either.
    reply = httpx.post(
        f"{served.url}/api/v1/cases", json=new_case_body(lng=120.105), headers=served.headers("operator")
    )
    assert reply.status_code == 403
    assert _journal_size(committed) == before
    assert [e for e in stream.collect(0.6) if e.event == CASE] == []
    # (The rolled-back case's number was never given out: the next case takes it.)
    kept = create(served, "operator", title="提交的案件")
    assert stream.take(lambda event: event.event == CASE, WITHIN).data["number"] == kept
    assert [e for e in stream.collect(0.5) if e.event == CASE] == []
    assert _journal_size(committed) == before + 1


def test_reconnecting_with_the_last_event_id_catches_up(
    committed: Committed, serve: Callable[..., Served], streams: Streams
) -> None:
    served = serve(committed.engine)
    headers = served.headers("dispatcher")
    first = streams(events_url(served), headers)
    seen = create(served, "operator")
    cursor = first.take(case_event(seen), WITHIN).id
    first.close()
    missed = [create(served, "operator", title=f"断线期间 {n}") for n in range(3)]
    create(served, "operator_west", lng=120.105)  # not the dispatcher's: never replayed to them
    again = streams(events_url(served), {**headers, "Last-Event-ID": str(cursor)})
    replayed = [again.take(lambda e: e.event == CASE, WITHIN) for _ in missed]
    assert [e.data["number"] for e in replayed] == missed
    assert [int(e.id or 0) for e in replayed] == sorted(int(e.id or 0) for e in replayed)
    assert [e for e in again.collect(0.5) if e.event == CASE] == []
    # The same with the query parameter (a client that cannot set the header).
    by_query = streams(events_url(served, f"?last_event_id={cursor}"), headers)
    assert [by_query.take(lambda e: e.event == CASE, WITHIN).data["number"] for _ in missed] == missed
    # And a live change after the replay still comes, once.
    later = create(served, "operator")
    assert again.take(case_event(later), WITHIN).data["number"] == later


def test_a_new_client_gets_a_cursor_at_once_and_heartbeats(
    committed: Committed, serve: Callable[..., Served], streams: Streams
) -> None:
    served = serve(committed.engine)
    create(served, "operator_west", lng=120.105)  # the journal is not empty
    stream = streams(events_url(served), served.headers("dispatcher"))
    beats = [e for e in stream.collect(1.6) if e.comment == "heartbeat"]
    assert len(beats) >= 2  # every live_heartbeat_seconds (0.5 s here)
    assert stream.last_id is not None and int(stream.last_id) >= 1
    # Past changes the client does not see, its cursor moves on with the heartbeats.
    before = int(stream.last_id)
    create(served, "operator_west", lng=120.105)
    stream.take(lambda e: e.comment == "heartbeat", 2)
    stream.take(lambda e: e.comment == "heartbeat", 2)
    assert int(stream.last_id) > before


def test_a_client_that_missed_too_much_is_told_to_reload(
    committed: Committed, serve: Callable[..., Served], streams: Streams, live_settings: Settings
) -> None:
    served = serve(committed.engine, live_settings.model_copy(update={"live_replay_limit": 2}))
    headers = served.headers("dispatcher")
    first = streams(events_url(served), headers)
    cursor = first.take(lambda e: e.id is not None or True, 2).id or first.last_id
    first.close()
    for _ in range(3):
        create(served, "operator")
    again = streams(events_url(served), {**headers, "Last-Event-ID": str(cursor or 0)})
    reset = again.take(lambda e: e.event == "reset", WITHIN)
    assert reset.data["reason"] and reset.id is not None
    # An id the journal never gave (a restored database), or one that is no id: reload too.
    for given in ("999999999", "not-a-number"):
        other = streams(events_url(served), {**headers, "Last-Event-ID": given})
        assert other.take(lambda e: e.event == "reset", WITHIN)


def test_an_alert_reaches_its_user_only(
    committed: Committed, serve: Callable[..., Served], streams: Streams
) -> None:
    served = serve(committed.engine)
    number = create(served, "operator")
    act(served, "operator", number, "register")
    act(served, "dispatcher", number, "dispatch", department_code="D-CG-E")
    act(served, "handler_cg", number, "accept")
    leader = streams(events_url(served), served.headers("leader"))
    supervisor = streams(events_url(served), served.headers("supervisor"))
    handler = streams(events_url(served), served.headers("handler_cg"))
    act(served, "handler_cg", number, "request_extension", new_deadline=_later(), note="需协调施工")
    alert = leader.take(lambda e: e.event == "alert", WITHIN)
    assert set(alert.data) == ALERT_FIELDS
    assert alert.data["kind"] == "extension_requested" and alert.data["number"] == number
    assert alert.data["unread"] == 1 and "申请延期" in alert.data["text"]
    for other in (supervisor, handler):  # not approvers; the handler asked for it
        assert [e for e in other.collect(0.5) if e.event == "alert"] == []
    # Supervision (督办) tells the responsible department; reading it tells its other pages.
    act(served, "supervisor", number, "supervise", note="请加快处置")
    urged = handler.take(lambda e: e.event == "alert", WITHIN)
    assert urged.data["kind"] == "supervision" and "请加快处置" in urged.data["text"]
    headers = served.headers("handler_cg")
    httpx.post(f"{served.url}/api/v1/notifications/{urged.data['id']}/read", headers=headers)
    assert handler.take(lambda e: e.event == "unread", WITHIN).data == {"unread": 0}


def test_signing_out_ends_the_stream(
    committed: Committed, serve: Callable[..., Served], streams: Streams
) -> None:
    served = serve(committed.engine)
    token = served.token("dispatcher")
    headers = {"Authorization": f"Bearer {token}"}
    stream = streams(events_url(served), headers)
    other = streams(events_url(served), served.headers("dispatcher"))  # another sign-in of theirs
    assert httpx.post(f"{served.url}/api/v1/auth/logout", headers=headers).status_code == 204
    assert stream.ended.wait(WITHIN + 1), "the stream of the revoked token goes on"
    assert not other.ended.is_set()
    again = httpx.get(events_url(served), headers=headers)
    assert again.status_code == 401 and again.json()["error"] == "unauthenticated"


def test_the_pages_connect_with_their_session_cookie(
    committed: Committed, serve: Callable[..., Served], streams: Streams
) -> None:
    served = serve(committed.engine)
    assert httpx.get(events_url(served)).status_code == 401
    with httpx.Client(base_url=served.url) as browser:
        form = browser.get("/login")
        browser.post(
            "/login",
            data={
                "csrf_token": csrf_of(form.text),
                "username": "dispatcher",
                "password": "correct-horse-battery",
            },
        )
        cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    stream = streams(events_url(served), {"Cookie": cookie})
    assert stream.status == 200
    number = create(served, "operator")
    assert stream.take(case_event(number), WITHIN).data["number"] == number
    forged = httpx.get(
        events_url(served),
        headers={"Cookie": re.sub(r"civicgrid_session=[^;]*", "civicgrid_session=x", cookie)},
    )
    assert forged.status_code == 401


def _journal_size(committed: Committed) -> int:
    with committed.session() as session:
        return int(session.scalar(select(func.count()).select_from(LiveChange)) or 0)


def _now() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


def _later() -> str:
    """A new deadline for an extension: a month from now."""
    return (datetime.now(UTC) + timedelta(days=30)).isoformat()


def test_many_streams_opening_at_once_hold_no_database_connection(
    committed: Committed, serve: Callable[..., Served], streams: Streams, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More streams than the engine's pool has connections (5 + 10) open at once, while the
    feed is starting (slowly, here): none may hold a connection as it waits, or the feed,
    which needs one, starves."""
    import threading
    import time

    from civicgrid.live.feed import Feed

    start = Feed.start

    def slow_start(feed: Feed) -> int:
        time.sleep(1.0)
        return start(feed)

    monkeypatch.setattr(Feed, "start", slow_start)
    served = serve(committed.engine)
    headers = served.headers("dispatcher")
    opened: list[EventStream] = []
    lock = threading.Lock()

    def open_one() -> None:
        stream = streams(events_url(served), headers)
        with lock:
            opened.append(stream)

    threads = [threading.Thread(target=open_one) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(stream.status or 0 for stream in opened) == [200] * 24
    number = create(served, "operator")
    for stream in opened:
        assert stream.take(case_event(number), WITHIN + 2)
    pool = served.engine.pool
    assert pool.checkedout() == 0, pool.status()  # type: ignore[attr-defined]


def test_missed_alerts_are_replayed_and_a_current_cursor_replays_nothing(
    committed: Committed, serve: Callable[..., Served], streams: Streams
) -> None:
    served = serve(committed.engine)
    number = create(served, "operator")
    act(served, "operator", number, "register")
    act(served, "dispatcher", number, "dispatch", department_code="D-CG-E")
    headers = served.headers("handler_cg")
    first = streams(events_url(served), headers)
    cursor = first.take(lambda e: e.comment == "heartbeat", 3) and first.last_id
    first.close()
    act(served, "supervisor", number, "supervise", note="请加快")
    again = streams(events_url(served), {**headers, "Last-Event-ID": str(cursor)})
    replayed = again.take(lambda e: e.event == "alert", WITHIN)
    assert replayed.data["kind"] == "supervision" and replayed.data["unread"] == 1
    # Reconnecting with the newest id: nothing to replay, live at once.
    current = again.last_id
    third = streams(events_url(served), {**headers, "Last-Event-ID": str(current)})
    assert [e for e in third.collect(0.8) if e.event in ("case", "alert", "reset")] == []


def test_a_client_whose_missed_entries_were_deleted_is_told_to_reload(
    committed: Committed, serve: Callable[..., Served], streams: Streams
) -> None:
    served = serve(committed.engine)
    for _ in range(3):
        create(served, "operator")
    with committed.session() as session:
        ids = session.scalars(select(LiveChange.id).order_by(LiveChange.id)).all()
        session.execute(LiveChange.__table__.delete().where(LiveChange.id <= ids[1]))  # pruned
        session.commit()
    stream = streams(events_url(served), {**served.headers("dispatcher"), "Last-Event-ID": str(ids[0] - 1)})
    assert stream.take(lambda e: e.event == "reset", WITHIN).data["reason"]


def test_an_idle_page_session_opens_no_stream(
    committed: Committed, serve: Callable[..., Served], live_settings: Settings
) -> None:
    from itsdangerous import URLSafeSerializer

    served = serve(committed.engine)
    token = served.token("dispatcher")
    signer = URLSafeSerializer(live_settings.secret_key, salt="civicgrid.web.session")
    idle = datetime.now(UTC) - timedelta(minutes=live_settings.web_idle_minutes + 1)
    cookie = signer.dumps({"t": token, "s": int(idle.timestamp())})
    reply = httpx.get(events_url(served), headers={"Cookie": f"civicgrid_session={cookie}"})
    assert reply.status_code == 401 and "idle" in reply.json()["detail"]
    fresh = signer.dumps({"t": token, "s": int(datetime.now(UTC).timestamp())})
    with httpx.stream("GET", events_url(served), headers={"Cookie": f"civicgrid_session={fresh}"}) as ok:
        assert ok.status_code == 200
