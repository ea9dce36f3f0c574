"""Live updates in a real browser (headless chromium) against the real server: a case
registered through the API shows in an open workbench within 2 s, without a reload, and a
new alert counts up the badge of the user it is for, and of nobody else."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import expect

from civicgrid.demo import DEMO_PASSWORD
from tests.web.conftest import LiveServer

# A point in 望江社区's first grid of the demo district (WGS-84).
LNG, LAT = 120.1493, 30.2771
#: The contract's promise.
WITHIN_MS = 2000


def api(live_server: LiveServer, username: str) -> httpx.Client:
    reply = httpx.post(
        f"{live_server.url}/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD}
    )
    assert reply.status_code == 200, reply.text
    token = reply.json()["access_token"]
    return httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})


def register(client: httpx.Client, title: str) -> str:
    body = {"channel": "hotline_12345", "category_code": "C0101", "title": title, "lng": LNG, "lat": LAT}
    reply = client.post("/api/v1/cases", json=body)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["number"])


def act(client: httpx.Client, number: str, action: str, **fields: Any) -> None:
    reply = client.post(f"/api/v1/cases/{number}/actions/{action}", json=fields)
    assert reply.status_code == 200, reply.text


def in_sixty_days() -> str:
    return (datetime.now(UTC) + timedelta(days=60)).isoformat()


def wait_until_live(page: Any) -> None:
    """The page's stream is open (live.js marks the page when it is)."""
    page.wait_for_selector("body[data-live-state=open]", state="attached")


def test_a_case_registered_through_the_api_appears_in_an_open_workbench(
    signed_in: Callable[..., Any], live_server: LiveServer
) -> None:
    operator = signed_in("operator")
    operator.click(".tabs a:has-text('今日登记')")
    operator.wait_for_url("**queue=mine_today")
    wait_until_live(operator)
    with api(live_server, "operator") as client:
        began = time.monotonic()
        number = register(client, "望江路井盖缺失(实时推送)")
    row = operator.locator(f"#queue a.case-link:has-text('{number}')")
    expect(row).to_have_count(1, timeout=WITHIN_MS)
    took = time.monotonic() - began
    assert took < WITHIN_MS / 1000, f"the case showed after {took:.2f} s"
    # No reload: the page is the one that was open (htmx swapped the queue in).
    assert operator.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_an_alert_counts_up_the_badge_of_its_user_only(
    signed_in: Callable[..., Any], live_server: LiveServer
) -> None:
    leader = signed_in("leader")  # approves extensions
    supervisor = signed_in("supervisor")  # does not
    for page in (leader, supervisor):
        wait_until_live(page)
    before = {
        name: int(page.locator("#unread-badge").get_attribute("data-unread") or 0)
        for name, page in (("leader", leader), ("supervisor", supervisor))
    }
    with (
        api(live_server, "operator") as operator,
        api(live_server, "dispatcher") as dispatcher,
        api(live_server, "handler_sz") as handler,
    ):
        number = register(operator, "望江路井盖缺失(延期提醒)")
        act(operator, number, "register")
        act(dispatcher, number, "dispatch", department_code="JB-SZ")
        act(handler, number, "accept")
        act(handler, number, "request_extension", new_deadline=in_sixty_days(), note="需备料")
    expected = before["leader"] + 1
    badge = leader.locator("#unread-badge")
    expect(badge).to_have_text(str(expected) if expected < 100 else "99+", timeout=WITHIN_MS)
    expect(badge).to_be_visible()
    time.sleep(1.0)
    assert int(supervisor.locator("#unread-badge").get_attribute("data-unread") or 0) == before["supervisor"]
    leader.click("a.nav-alerts")
    expect(leader.locator(".notification.unread").first).to_contain_text(number)
