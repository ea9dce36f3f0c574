"""The citizens' portal in a real browser (headless chromium) at 390 px: a citizen verifies
their phone with the code the SMS sender received, reports with a photo and their position,
and gets the case number; the operator finds the case in their queue; the case is walked to
closure through the services; the citizen looks it up and rates it 不满意 with a reason; the
supervisors' queue shows it. Each portal page is photographed (see ``screenshots``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from civicgrid.domain.vocabulary import Action
from civicgrid.outbox.channels import Channels, LoggingEmail
from civicgrid.outbox.sender import Sender
from civicgrid.schemas import TransitionRequest
from civicgrid.services.calendar import centre_rules
from civicgrid.services.cases import transition
from civicgrid.store.db import make_engine
from civicgrid.store.models import User
from tests.images import photo
from tests.web.conftest import OFFICE, PHONE, LiveServer, no_horizontal_scroll
from tests.web.test_browser import find_in_queue

# A point in 望江社区's first grid of the demo district (WGS-84), where the citizen stands.
LNG, LAT = 120.1493, 30.2771
CITIZEN_PHONE = "13912345678"
#: What a citizen touches on the portal's pages: each at least 44 px high.
TOUCHED = (
    "button, a.button, a.tile, .main-nav a, a.my-case, select, label.choice, .leaflet-bar a, "
    "input:not([type=hidden]):not([type=radio])"
)


@dataclass
class RecordingSms:
    """An SMS sender (the outbox's interface) that keeps what it was asked to send."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, phone: str, text: str, idempotency_key: str) -> None:
        self.sent.append((phone, text))


@pytest.fixture
def store(live_server: LiveServer) -> Iterator[Engine]:
    engine = make_engine(live_server.settings.database_url)
    yield engine
    engine.dispose()


def code_by_sms(store: Engine, live_server: LiveServer, phone: str) -> str:
    """Deliver the outbox through a recording SMS sender; the code it sent to ``phone``."""
    sms = RecordingSms()
    Sender(store, live_server.settings, Channels(sms, LoggingEmail())).run_once()
    codes = [
        found.group(1)
        for to, text in sms.sent
        if to == phone and (found := re.search(r"验证码：(\d+)", text))
    ]
    assert codes, f"no code was sent to {phone}: {sms.sent}"
    return codes[-1]


def small_targets(page: Any) -> list[str]:
    found: list[str] = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
           .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
           .map(e => e.tagName + ' ' + (e.textContent.trim() || e.name || e.className))""",
        TOUCHED,
    )
    return found


def walk_to_closure(store: Engine, live_server: LiveServer, number: str) -> None:
    """The centre handles the case, through the same services as its pages."""
    with Session(store) as session:
        rules = centre_rules(session, live_server.settings)
        users = {u.username: u for u in session.scalars(select(User))}
        for username, action, fields in (
            ("operator", Action.REGISTER, {"note": "内部：来电人是老住户，注意回访语气"}),
            ("dispatcher", Action.DISPATCH, {"department_code": "JB-SZ"}),
            ("handler_sz", Action.ACCEPT, {}),
            ("handler_sz", Action.HANDLE, {"note": "已更换井盖并加固井座", "note_is_public": True}),
            ("inspector01", Action.CHECK, {"note": "内部：沈立军现场处置"}),
            ("operator", Action.CLOSE, {}),
        ):
            request = TransitionRequest(**fields)
            transition(session, users[username], number, action, request, rules, datetime.now(UTC))
        session.commit()


def test_a_citizen_reports_follows_and_rates_from_a_phone(
    browser: Any,
    live_server: LiveServer,
    signed_in: Callable[..., Any],
    store: Engine,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    context = browser.new_context(
        viewport=PHONE,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        base_url=live_server.url,
        geolocation={"longitude": LNG, "latitude": LAT},
        permissions=["geolocation"],
    )
    citizen = context.new_page()
    citizen.set_default_timeout(15_000)
    dialogs: list[str] = []
    citizen.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    citizen.goto("/portal")
    expect(citizen.locator("h1")).to_have_text("有问题，随手反映")
    no_horizontal_scroll(citizen)
    assert small_targets(citizen) == []
    citizen.screenshot(path=screenshots / "portal-home.png", full_page=True)

    # Reporting needs a verified phone: the code comes by SMS.
    citizen.click("a.tile:has-text('我要反映问题')")
    citizen.wait_for_url("**/portal/verify?next=%2Fportal%2Freport")
    citizen.fill("input[name=phone]", "139 1234 5678")
    citizen.click("button:has-text('获取验证码')")
    expect(citizen.locator(".note")).to_contain_text("验证码已发送至 139****5678")
    citizen.fill("input[name=code]", code_by_sms(store, live_server, CITIZEN_PHONE))
    no_horizontal_scroll(citizen)
    assert small_targets(citizen) == []
    citizen.screenshot(path=screenshots / "portal-verify.png", full_page=True)
    citizen.click("button:has-text('验证')")
    citizen.wait_for_url("**/portal/report")

    # The report: class, description, the phone's position, a photo.
    citizen.fill("input.category-search", "上水井盖")
    expect(citizen.locator("select[name=category_code]")).to_have_value("C0101")
    citizen.fill(
        "textarea[name=description]", "望江路人行道上井盖缺失，晚上看不清，已有老人差点踩空 <b>请尽快</b>"
    )
    citizen.click("button:has-text('使用当前位置')")
    expect(citizen.locator("#place .placed")).to_contain_text("望江社区")
    expect(citizen.locator("#picker .leaflet-interactive").first).to_be_visible()  # the grids and the point
    citizen.fill("input[name=address]", "望江路12号门前")
    picture = tmp_path / "井盖.jpg"
    picture.write_bytes(photo((1200, 900)))
    citizen.set_input_files("input[name=photos]", str(picture))
    expect(citizen.locator("#photo-note")).to_have_text("已选择 1 张照片")
    no_horizontal_scroll(citizen)
    assert small_targets(citizen) == []
    citizen.screenshot(path=screenshots / "portal-report.png", full_page=True)
    citizen.click("button[type=submit]:has-text('提交')")
    citizen.wait_for_url(re.compile(r"/portal/cases/[A-Z]+-\d{8}-\d{6}\?new=1$"))
    number = citizen.locator(".received .case-number").inner_text()
    assert re.fullmatch(r"[A-Z]+-\d{8}-\d{6}", number)
    expect(citizen.locator(".state.big")).to_have_text("上报")
    expect(citizen.locator(".facts")).to_contain_text("<b>请尽快</b>")  # as text, not markup
    citizen.screenshot(path=screenshots / "portal-received.png", full_page=True)

    # The centre: the operator finds it in their intake queue, on the web channel.
    operator = signed_in("operator")
    find_in_queue(operator, "待立案", number)
    expect(operator.locator(".fields")).to_contain_text("网站")
    expect(operator.locator(".fields")).to_contain_text(CITIZEN_PHONE)
    expect(operator.locator(".events .event-meta").first).to_contain_text("市民服务门户")
    walk_to_closure(store, live_server, number)

    # The citizen looks the case up by number and phone and rates it: not satisfied.
    citizen.goto("/portal/lookup")
    citizen.fill("input[name=number]", number)
    citizen.fill("input[name=phone]", CITIZEN_PHONE)
    citizen.click("button:has-text('查询')")
    expect(citizen.locator(".state.big")).to_have_text("结案")
    steps = citizen.locator(".progress .step-label").all_inner_texts()
    assert steps == ["上报", "立案", "派遣", "签收", "处置反馈", "核查通过", "结案"]
    expect(citizen.locator(".progress")).to_contain_text("已更换井盖并加固井座")
    page_text = citizen.locator("main").inner_text()
    for secret in ("内部", "沈立军", "老住户", "李明华"):
        assert secret not in page_text
    no_horizontal_scroll(citizen)
    assert small_targets(citizen) == []
    citizen.screenshot(path=screenshots / "portal-case.png", full_page=True)
    citizen.check("input[name=satisfaction][value=not_satisfied]")
    citizen.click("button:has-text('提交评价')")
    expect(citizen.locator(".rating .error")).to_contain_text("请写明不满意的原因")
    citizen.fill("textarea[name=reason]", "井盖换了，但旁边的路面还是坑坑洼洼")
    citizen.click("button:has-text('提交评价')")
    expect(citizen.locator(".note")).to_have_text("感谢您的评价！")
    expect(citizen.locator(".facts")).to_contain_text("不满意")
    expect(citizen.locator("#rating")).to_have_count(0)  # once per case

    # The supervisors' queue shows it.
    supervisor = signed_in("supervisor")
    supervisor.click(".tabs a:has-text('不满意回访')")
    expect(supervisor.locator(f"#queue a.case-link:has-text('{number}')")).to_be_visible()
    supervisor.screenshot(path=screenshots / "workbench-supervisor-dissatisfied.png")
    supervisor.locator(f"#queue a.case-link:has-text('{number}')").click()
    expect(supervisor.locator(".events")).to_contain_text(
        "市民评价（不满意）：井盖换了，但旁边的路面还是坑坑洼洼"
    )

    # The citizen's own cases, and the public map (nothing personal on it).
    citizen.goto("/portal/mine")
    expect(citizen.locator(f"a.my-case:has-text('{number}')")).to_be_visible()
    citizen.screenshot(path=screenshots / "portal-mine.png", full_page=True)
    citizen.goto("/portal/map")
    expect(citizen.locator("#map-summary")).to_contain_text("个正在办理的问题")
    expect(citizen.locator("#public-map .leaflet-interactive").first).to_be_visible()
    no_horizontal_scroll(citizen)
    assert small_targets(citizen) == []
    citizen.locator("#public-map path.leaflet-interactive[stroke='#c62828']").first.click(force=True)
    expect(citizen.locator(".map-popup")).to_contain_text("个问题")
    popup = citizen.locator(".map-popup").inner_text()
    assert number not in popup and CITIZEN_PHONE not in popup
    citizen.wait_for_timeout(600)  # the popup fades in, and the map pans to show it
    citizen.screenshot(path=screenshots / "portal-map.png", full_page=True)
    assert dialogs == []
    context.close()


def test_the_portal_reads_well_on_a_desktop(browser: Any, live_server: LiveServer, screenshots: Path) -> None:
    context = browser.new_context(viewport=OFFICE, locale="zh-CN", base_url=live_server.url)
    page = context.new_page()
    page.goto("/portal/map")
    expect(page.locator("#map-summary")).to_contain_text("个正在办理的问题")
    no_horizontal_scroll(page)
    page.screenshot(path=screenshots / "portal-map-desktop.png")
    page.goto("/portal/lookup")
    page.fill("input[name=number]", "JD-20200101-000001")
    page.fill("input[name=phone]", CITIZEN_PHONE)
    page.click("button:has-text('查询')")
    expect(page.locator(".error")).to_have_text("未找到该案件，请核对案件编号和手机号码。")
    context.close()
