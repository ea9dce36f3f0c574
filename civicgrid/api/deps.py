"""Request dependencies: the session (one transaction per request), the signed-in actor,
the clock and the centre's rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.api import read_your_writes
from civicgrid.domain.errors import Unauthenticated
from civicgrid.services import auth
from civicgrid.services import calendar as calendar_service
from civicgrid.services.cases import CentreRules
from civicgrid.services.directory import require_admin
from civicgrid.settings import Settings
from civicgrid.store.db import session_scope
from civicgrid.store.models import User
from civicgrid.store.replicas import ReplicaRouter

#: Methods that change nothing: their requests read in a transaction that takes no write lock.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """A session whose transaction commits when the route returns and rolls back on error,
    before the response leaves (``scope="function"``), so a 2xx means it is stored. Reading
    requests get a read-only session, so they never wait for or hold the write lock; with
    read replicas, on one that has replayed the client's own last write (else the primary)."""
    if request.method in SAFE_METHODS:
        with session_scope(reading_factory(request)) as session:
            yield session
    else:
        with writing(request) as session:
            yield session


@contextmanager
def writing(request: Request) -> Iterator[Session]:
    """One write transaction of ``request``, committed on leaving (rolled back on error).
    A route that opens it itself, rather than taking ``DbSession``, holds SQLite's write
    lock within its own call only, not across the hops between its dependencies."""
    with session_scope(request.app.state.session_factory) as session:
        yield session
    replicas: ReplicaRouter | None = request.app.state.replicas
    if replicas is not None:
        read_your_writes.note_write(request, replicas)


def reading_factory(request: Request) -> Callable[[], Session]:
    """Read-only sessions for this request: on a read replica that has replayed the
    client's own last write, if there are replicas, else on the primary. An export that
    streams its rows after the route has returned opens its own session from it."""
    state = request.app.state
    replicas: ReplicaRouter | None = state.replicas
    if replicas is None:
        factory: Callable[[], Session] = state.read_session_factory
        return factory
    lsn = read_your_writes.min_lsn(request, replicas)
    return lambda: replicas.read_session(lsn)


# The dependencies that only read what the request already holds are ``async``: they run on
# the event loop at once rather than taking a hop to the thread pool each.


async def get_settings_of(request: Request) -> Settings:
    """The settings the app was built with (the dependency; ``get_settings`` for plain calls)."""
    return get_settings(request)


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_now() -> datetime:
    """The time of the request."""
    return datetime.now(UTC)


DbSession = Annotated[Session, Depends(get_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings_of)]
Now = Annotated[datetime, Depends(get_now)]


def get_rules(request: Request, session: DbSession, actor: Actor) -> CentreRules:
    """The centre's rules (calendar, warning ratio, number prefix, extension bound), rebuilt
    whenever the loaded calendar changed, through this process or another: each request
    compares the calendar's revision mark, read with its token (``get_actor``), with the
    one the rules were built on."""
    return rules_at(request, session, request.state.calendar_revision)


def get_rules_unsigned(request: Request, session: DbSession) -> CentreRules:
    """The centre's rules for a route without a bearer token (the pages, Open311): the
    calendar's revision mark is read by a statement of its own."""
    count, latest = session.execute(select(*calendar_service.calendar_revision_columns())).one()
    return rules_at(request, session, (int(count), latest))


def rules_at(request: Request, session: Session, revision: object) -> CentreRules:
    """The rules built on calendar ``revision``, built again when the cached ones are older."""
    state = request.app.state
    built: tuple[object, CentreRules] | None = state.rules
    if built is None or built[0] != revision:
        # One assignment, so a concurrent request sees the old pair or the new, never a mix.
        built = (revision, calendar_service.centre_rules(session, get_settings(request)))
        state.rules = built
    return built[1]


bearer = HTTPBearer(auto_error=False, description="a token from POST /api/v1/auth/token")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def get_bearer_token(credentials: Credentials) -> str:
    """The bearer token of the request (the dependency; ``get_token`` for plain calls)."""
    return get_token(credentials)


def get_token(credentials: Credentials) -> str:
    """The bearer token of the request."""
    if credentials is None:
        raise Unauthenticated("sign in: send 'Authorization: Bearer <token>'")
    return credentials.credentials


Token = Annotated[str, Depends(get_bearer_token)]


def get_actor(session: DbSession, token: Token, request: Request, now: Now) -> User:
    """The signed-in user making the request; the calendar's revision mark comes along in the
    same statement (for ``get_rules``), so a write pays no query of its own for it."""
    actor, revision = auth.authenticate_reading(
        session,
        token,
        secret_key=get_settings(request).secret_key,
        now=now,
        reading=calendar_service.calendar_revision_columns(),
    )
    count, latest = revision
    request.state.calendar_revision = (int(count), latest)
    return actor


Actor = Annotated[User, Depends(get_actor)]


def get_reader(
    session: DbSession, credentials: Credentials, request: Request, response: Response, now: Now
) -> User:
    """The user of a reading route that the command-centre pages call from their scripts
    (the map, the dashboard): a bearer token as everywhere, or else the page session's
    signed cookie. Only for GET routes, so the cookie never authorises a change (no CSRF to
    fear), and other sites cannot read the answers (no CORS). A page's data requests count
    as use of the page: the session's idle clock starts over, as with every page."""
    if credentials is not None or request.method not in SAFE_METHODS:
        return get_actor(session, get_token(credentials), request, now)
    # Imported here: the pages' package imports this module.
    from civicgrid.web import sessions

    settings = get_settings(request)
    page_session = sessions.read_session(request, settings.secret_key)
    if page_session is None:
        raise Unauthenticated("sign in: send 'Authorization: Bearer <token>', or open the page signed in")
    if sessions.is_idle(page_session, now, timedelta(minutes=settings.web_idle_minutes)):
        raise Unauthenticated("the page session was idle too long: sign in again")
    actor = get_actor(session, page_session.token, request, now)
    sessions.set_session(response, request, settings.secret_key, page_session.token, now)
    return actor


Reader = Annotated[User, Depends(get_reader)]
Rules = Annotated[CentreRules, Depends(get_rules)]
UnsignedRules = Annotated[CentreRules, Depends(get_rules_unsigned)]


def check_admin_first(request: Request, token: Token, now: Now) -> None:
    """Refuse anyone but a signed-in admin, in a read-only session, before anything slow
    runs: a route that hashes a password (argon2 is slow on purpose) does so ahead of its
    write transaction, and must not do it for strangers."""
    with session_scope(request.app.state.read_session_factory) as session:
        require_admin(auth.authenticate(session, token, secret_key=get_settings(request).secret_key, now=now))


AdminFirst = Annotated[None, Depends(check_admin_first)]
