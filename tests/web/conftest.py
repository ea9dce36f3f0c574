"""Fixtures of the page tests: a signed-in test client on the test's transaction, and, for
the browser tests, the real server over a demo database driven by Debian's chromium."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from civicgrid.api.app import create_app
from civicgrid.api.deps import get_now
from civicgrid.demo import DEMO_PASSWORD, load_demo
from civicgrid.services.calendar import centre_rules
from civicgrid.settings import Settings
from civicgrid.store.db import make_engine
from civicgrid.store.migrate import upgrade
from tests.factories import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
#: Debian's chromium (apt-get install chromium); Playwright downloads no browser of its own.
CHROMIUM = Path(os.environ.get("CIVICGRID_CHROMIUM", "/usr/bin/chromium"))


def csrf_of(html: str) -> str:
    """The CSRF token a page carries in its forms."""
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture
def page_clock(app: FastAPI, now: datetime) -> Iterator[Callable[[datetime], None]]:
    """Set the app's clock (starts at the ``now`` fixture)."""

    def set_time(moment: datetime) -> None:
        app.dependency_overrides[get_now] = lambda: moment

    set_time(now)
    yield set_time
    app.dependency_overrides.clear()


@pytest.fixture
def pages(
    app: FastAPI, session: Session, page_clock: Callable[[datetime], None]
) -> Iterator[Callable[[str], TestClient]]:
    """A browser-like client (its own cookies) signed in as ``username`` through the sign-in page."""
    session.commit()
    opened: list[TestClient] = []

    def sign_in(username: str) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        opened.append(client)
        form = client.get("/login")
        reply = client.post(
            "/login",
            data={"csrf_token": csrf_of(form.text), "username": username, "password": PASSWORD},
        )
        assert reply.status_code == 303, reply.text
        return client

    yield sign_in
    for client in opened:
        client.__exit__(None, None, None)


# --- the browser tests ----------------------------------------------------------------------


@dataclass
class LiveServer:
    """The real app served over HTTP on a free loopback port, on a demo database."""

    url: str
    settings: Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("web") / "demo.db"
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{path}",
        secret_key="browser-test-secret-" * 3,
        login_max_failures=3,
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with Session(engine) as session:
        load_demo(session, centre_rules(session, settings), datetime.now(UTC), cases=60)
        session.commit()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", settings)
    server.should_exit = True
    thread.join(10)
    engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless chromium from Debian's package (skipped, or failed in CI, without it)."""
    if not CHROMIUM.exists():
        message = f"no chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    # The machine may be busy (tests run in parallel): wait longer than the default 5 s.
    expect.set_options(timeout=15_000)

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save a picture of each main page: CIVICGRID_SCREENSHOTS if set (e.g.
    docs/screenshots), else a temporary folder."""
    given = os.environ.get("CIVICGRID_SCREENSHOTS")
    folder = Path(given) if given else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


OFFICE = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def signed_in(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """A page in a fresh browser context, signed in as ``username`` through the sign-in form."""
    contexts: list[Any] = []

    def open_as(username: str, viewport: dict[str, int] = OFFICE, **options: Any) -> Any:
        context = browser.new_context(
            viewport=viewport,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            base_url=live_server.url,
            **options,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/workbench")
        return page

    yield open_as
    for context in contexts:
        context.close()


#: What a finger presses on a page: links that stand alone, buttons, tabs, fields, lists,
#: the filters' toggle (links inside running text are not touch targets of their own).
TOUCH_TARGETS = (
    "a.tab, a.case-link, a.button, .main-nav a, button, summary, select, textarea, "
    "input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=file])"
)


def small_touch_targets(page: Any) -> list[str]:
    """The visible touch targets of the page under 44 px high, by their text or name."""
    return list(
        page.evaluate(
            f"""[...document.querySelectorAll('{TOUCH_TARGETS}')]
               .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
               .map(e => (e.textContent.trim() || e.name || e.tagName).slice(0, 40))"""
        )
    )


def no_horizontal_scroll(page: Any) -> None:
    """The page fits its viewport's width."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"
