"""The pages in a real browser (headless chromium): a case worked through the whole loop by
five people, each signing in and finding it in their queue, with photos; refusals; the
phone layout; escaping; CSRF. Each main page is photographed (see the ``screenshots``
fixture)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.images import photo
from tests.web.conftest import PHONE, LiveServer, no_horizontal_scroll, small_touch_targets

# A point in 望江社区's first grid of the demo district (WGS-84).
LNG, LAT = "120.1493", "30.2771"

# Waits for an image to finish loading and fails if it loaded nothing (a broken or empty picture).
LOADED = """img => new Promise((resolve, reject) => {
    const judge = () => img.naturalWidth > 0 ? resolve() : reject(new Error("not loaded: " + img.src));
    if (img.complete) judge();
    else { img.addEventListener("load", judge); img.addEventListener("error", judge); }
})"""
LOOP = ["上报", "立案", "派遣", "签收", "处置反馈", "核查通过", "结案", "回访", "归档"]


def photo_file(name: str, size: tuple[int, int] = (640, 480)) -> dict[str, Any]:
    """A JPEG as the browser's file chooser hands it over."""
    return {"name": name, "mimeType": "image/jpeg", "buffer": photo(size)}


def report(
    page: Any, title: str, screenshots: Path | None = None, photos: list[dict[str, Any]] | None = None
) -> str:
    """Register a hotline case through the intake form (with ``photos`` if given); its number."""
    page.goto("/cases/new")
    page.select_option("select[name=channel]", "hotline_12345")
    page.select_option("select[name=request_type]", "complaint")
    page.select_option("select[name=category_code]", "C0101")
    page.fill("input[name=title]", title)
    page.fill("textarea[name=description]", "井盖缺失，行人易踩空")
    page.fill("input[name=address]", "望江路12号门前")
    page.fill("input[name=lng]", LNG)
    page.fill("input[name=lat]", LAT)
    page.press("input[name=lat]", "Tab")
    # The grid and community appear as soon as the point is known (htmx).
    expect(page.locator("#place .placed")).to_contain_text("望江社区")
    page.fill("input[name=reporter_name]", "王先生")
    page.fill("input[name=reporter_phone]", "13800000000")
    if photos:
        page.set_input_files("input[name=photos]", photos)
    if screenshots:
        expect(page.locator("#pick-map")).to_have_attribute("data-ready", "")
        page.screenshot(path=screenshots / "intake.png", full_page=True)
    page.click("button:has-text('提交登记')")
    page.wait_for_url(re.compile(r"/cases/[A-Z]+-\d{8}-\d{6}$"))
    return page.url.rsplit("/", 1)[1]


def find_in_queue(page: Any, queue: str, number: str) -> None:
    """Open the workbench tab ``queue``, search for ``number`` and open its case file."""
    page.goto("/workbench")
    page.click(f".tabs a:has-text('{queue}')")
    page.locator("details.filters summary").click()
    page.fill("input[name=q]", number)
    page.press("input[name=q]", "Enter")
    # The search has answered once the address carries it; clicking earlier races its swap.
    expect(page).to_have_url(re.compile(rf"[?&]q={number}"))
    link = page.locator(f"#queue a.case-link:has-text('{number}')")
    expect(link).to_have_count(1)
    link.click()
    page.wait_for_url(f"**/cases/{number}")


def take(
    page: Any,
    action: str,
    note: str = "",
    choose: Callable[[Any], None] | None = None,
    photos: list[dict[str, Any]] | None = None,
    screenshot: Path | None = None,
) -> None:
    """Press the action button ``action`` on the open case file, fill its form (with
    ``photos`` if given) and confirm."""
    page.click(f".action-buttons a:has-text('{action}')")
    if choose:
        choose(page)
    if note:
        page.fill("textarea[name=note]", note)
    if photos:
        page.set_input_files("input[name=photos]", photos)
    if screenshot:
        page.screenshot(path=screenshot, full_page=True)
    page.click(f"button:has-text('确认{action}')")
    page.wait_for_url(re.compile(r"/cases/[A-Z]+-\d{8}-\d{6}$"))


def test_a_case_through_the_whole_loop(signed_in: Callable[..., Any], screenshots: Path) -> None:
    title = f"望江路12号门前上水井盖缺失 {uuid.uuid4().hex[:6]}"
    operator = signed_in("operator")
    operator.screenshot(path=screenshots / "workbench-operator.png")
    number = report(operator, title, screenshots)
    expect(operator.locator(".clock .state")).to_have_text("上报")
    find_in_queue(operator, "待立案", number)
    take(operator, "立案")
    expect(operator.locator(".clock .state")).to_have_text("立案")

    dispatcher = signed_in("dispatcher")
    dispatcher.screenshot(path=screenshots / "workbench-dispatcher.png")
    find_in_queue(dispatcher, "待派遣", number)
    dispatcher.click(".action-buttons a:has-text('派遣')")
    # The category's default department (市政 for a manhole cover) is suggested first.
    expect(dispatcher.locator("select[name=department_code] option").first).to_contain_text(
        "江滨市政所(推荐)"
    )
    dispatcher.screenshot(path=screenshots / "action-dispatch.png")
    dispatcher.click("button:has-text('确认派遣')")
    expect(dispatcher.locator(".clock .state")).to_have_text("派遣")

    handler = signed_in("handler_sz")
    handler.screenshot(path=screenshots / "workbench-handler.png")
    find_in_queue(handler, "待签收", number)
    take(handler, "签收")
    take(
        handler,
        "处置反馈",
        note="已补齐井盖",
        photos=[photo_file("处置后.jpg")],
        screenshot=screenshots / "action-handle-photo.png",
    )
    # The photo is on the timeline, under the step that took it, and its thumbnail loads.
    handled = handler.locator(".event", has=handler.locator(".event-action", has_text="处置反馈"))
    expect(handled.locator(".thumbs img")).to_have_count(1)
    handled.locator(".thumbs img").scroll_into_view_if_needed()
    handled.locator(".thumbs img").evaluate(LOADED)
    expect(handler.locator(".media .thumb-meta")).to_contain_text("处置后")

    inspector = signed_in("inspector01", PHONE)
    find_in_queue(inspector, "待核查", number)
    take(inspector, "核查通过", note="现场核查通过")

    closer = signed_in("operator2")
    find_in_queue(closer, "待结案", number)
    take(closer, "结案")
    take(closer, "回访", choose=lambda page: page.check("input[name=satisfaction][value=satisfied]"))
    take(closer, "归档")
    expect(closer.locator(".clock .state")).to_have_text("归档")
    steps = closer.locator(".events .event-action").all_inner_texts()
    assert steps == LOOP
    people = closer.locator(".events .event-meta").all_inner_texts()
    assert [p.split(" · ")[1] for p in people] == [
        "坐席/受理员", "坐席/受理员", "派遣员", "处置人员", "处置人员", "网格员/监督员",
        "坐席/受理员", "坐席/受理员", "坐席/受理员",
    ]  # fmt: skip
    assert re.fullmatch(r".* · \d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", people[-1])
    thumbnail = closer.locator(".event:has(.event-action:text-is('处置反馈')) .thumbs img")
    expect(thumbnail).to_be_visible()
    thumbnail.scroll_into_view_if_needed()
    thumbnail.evaluate(LOADED)
    closer.screenshot(path=screenshots / "case-file.png", full_page=True)
    expect(closer.locator("#case-map .leaflet-interactive")).not_to_have_count(0)  # grid and point
    no_horizontal_scroll(closer)


def test_a_handler_does_not_see_another_departments_case(signed_in: Callable[..., Any]) -> None:
    operator = signed_in("operator")
    number = report(operator, "望江路井盖缺失(范围测试)", photos=[photo_file("现场.jpg")])
    original = operator.locator(".media .thumb a").first.get_attribute("href")
    assert original is not None and original.startswith(f"/cases/{number}/attachments/")
    find_in_queue(operator, "待立案", number)
    take(operator, "立案")
    dispatcher = signed_in("dispatcher")
    dispatcher.goto(f"/cases/{number}/actions/dispatch")
    dispatcher.select_option("select[name=department_code]", "JB-SZ")
    dispatcher.click("button:has-text('确认派遣')")
    expect(dispatcher.locator(".clock .state")).to_have_text("派遣")

    # The department it was sent to sees the photo; another department's handler gets 404
    # for the case, the photo and its thumbnail alike, never 403 (that would tell it exists).
    assigned = signed_in("handler_sz")
    assert assigned.request.get(original).status == 200
    other = signed_in("handler_cg")
    reply = other.goto(f"/cases/{number}")
    assert reply is not None and reply.status == 404
    expect(other.locator("h1")).to_have_text("未找到该页面或案件")
    for url in (original, f"{original}/thumbnail"):
        reply = other.goto(url)
        assert reply is not None and reply.status == 404
        expect(other.locator("h1")).to_have_text("未找到该页面或案件")
    other.goto("/workbench?queue=all")
    other.locator("details.filters summary").click()
    other.fill("input[name=q]", number)
    other.press("input[name=q]", "Enter")
    expect(other.locator("#queue .empty")).to_be_visible()


def test_a_refused_action_shows_its_reason_and_changes_nothing(
    signed_in: Callable[..., Any], screenshots: Path
) -> None:
    first = signed_in("operator")
    number = report(first, "柳岸路路灯不亮(拒绝测试)")
    first.click(".action-buttons a:has-text('立案')")  # the form is open, then someone is quicker
    second = signed_in("operator2")
    second.goto(f"/cases/{number}")
    take(second, "立案")
    events_before = second.locator(".events .event").count()

    first.fill("textarea[name=note]", "重复立案")
    first.click("button:has-text('确认立案')")
    expect(first.locator(".refused h1")).to_have_text("案件已被他人修改，请刷新后重试")
    expect(first.locator(".refused .reason")).to_contain_text(number)
    expect(first.locator(".refused")).to_contain_text("未作任何更改")
    first.screenshot(path=screenshots / "refused.png")
    first.click("a:has-text('返回')")
    expect(first.locator(".events .event")).to_have_count(events_before)
    expect(first.locator(".clock .state")).to_have_text("立案")


def test_the_inspector_page_works_on_a_phone(signed_in: Callable[..., Any], screenshots: Path) -> None:
    inspector = signed_in("inspector01", PHONE)
    inspector.click(".tabs a:has-text('全部案件')")
    expect(inspector.locator("#queue tbody tr").first).to_be_visible()
    no_horizontal_scroll(inspector)
    inspector.screenshot(path=screenshots / "workbench-inspector-phone.png", full_page=True)
    assert small_touch_targets(inspector) == []
    inspector.locator(".filters summary").click()  # the filters, opened
    assert small_touch_targets(inspector) == []
    number = report(signed_in("operator"), "井盖松动(手机核实)")  # in the inspector's grid
    find_in_queue(inspector, "待核实", number)
    no_horizontal_scroll(inspector)
    assert small_touch_targets(inspector) == []
    inspector.screenshot(path=screenshots / "case-file-phone.png", full_page=True)
    inspector.locator(".actions a.button, .actions button").first.click()  # the step's form
    expect(inspector.locator("form textarea[name=note]")).to_be_visible()
    no_horizontal_scroll(inspector)
    assert small_touch_targets(inspector) == []
    inspector.screenshot(path=screenshots / "action-phone.png", full_page=True)
    inspector.goto("/cases/new")
    expect(inspector.locator("h1")).to_have_text("上报问题")
    expect(inspector.locator("#pick-map")).to_have_attribute("data-ready", "")  # its grids drawn
    no_horizontal_scroll(inspector)
    assert small_touch_targets(inspector) == []
    inspector.screenshot(path=screenshots / "report-phone.png", full_page=True)


def test_a_title_with_markup_shows_as_text(signed_in: Callable[..., Any]) -> None:
    operator = signed_in("operator")
    dialogs: list[str] = []
    operator.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    number = report(operator, "<script>alert(1)</script>")
    expect(operator.locator("h1.page-title")).to_contain_text("<script>alert(1)</script>")
    operator.goto(f"/workbench?queue=all&q={number}")
    expect(operator.locator("#queue td.title")).to_contain_text("<script>alert(1)</script>")
    assert dialogs == []


def test_a_form_post_without_the_csrf_token_is_refused(
    signed_in: Callable[..., Any], live_server: LiveServer
) -> None:
    operator = signed_in("operator")
    number = report(operator, "井盖缺失(CSRF测试)")
    # The browser's own cookies, but no token: what a forged form on another site would send.
    reply = operator.request.post(f"/cases/{number}/actions/register", form={"note": "伪造"})
    assert reply.status == 403
    assert "安全令牌" in reply.text()
    operator.reload()
    expect(operator.locator(".clock .state")).to_have_text("上报")
    # Without the browser's cookies at all, the request does not even reach a session.
    outside = httpx.post(f"{live_server.url}/cases/{number}/actions/register", follow_redirects=False)
    assert outside.status_code == 303 and outside.headers["location"].startswith("/login")


def test_sign_in_page_lockout_and_the_leaders_workbench(
    browser: Any, live_server: LiveServer, signed_in: Callable[..., Any], screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=live_server.url)
    page = context.new_page()
    page.goto("/workbench")
    page.wait_for_url("**/login?next=%2Fworkbench")
    page.screenshot(path=screenshots / "login.png")
    for _ in range(live_server.settings.login_max_failures):
        page.fill("input[name=username]", "handler_yl")
        page.fill("input[name=password]", "wrong-password")
        page.click("button[type=submit]")
        expect(page.locator(".error")).to_have_text("用户名或密码错误。")
    page.fill("input[name=username]", "handler_yl")
    page.fill("input[name=password]", "civicgrid-demo")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("登录失败次数过多，请 15 分钟后再试")
    context.close()

    leader = signed_in("leader")
    expect(leader.locator("#who")).to_contain_text("陈志远")
    expect(leader.locator("#who")).to_contain_text("领导")
    expect(leader.locator("#who")).to_contain_text("示范区")
    expect(leader.locator(".tabs a.current")).to_contain_text("红灯案件")
    leader.screenshot(path=screenshots / "workbench-leader.png")
    leader.click("button:has-text('退出')")
    leader.wait_for_url("**/login?reason=signed_out")
    leader.goto("/workbench")
    leader.wait_for_url("**/login?next=*")


def test_an_inspector_reports_from_the_phone_with_its_location(signed_in: Callable[..., Any]) -> None:
    inspector = signed_in(
        "inspector01",
        PHONE,
        geolocation={"longitude": float(LNG), "latitude": float(LAT)},
        permissions=["geolocation"],
    )
    inspector.click(".tabs a:has-text('上报问题')")
    expect(inspector.locator("select[name=channel]")).to_have_value("inspector")
    inspector.fill("input.category-search", "路灯")
    expect(inspector.locator("select[name=category_code]")).to_have_value("C0108")
    inspector.click("button:has-text('使用当前位置')")
    expect(inspector.locator("input[name=lng]")).to_have_value("120.149300")
    expect(inspector.locator("#place .placed")).to_contain_text("望江社区第1网格")
    inspector.fill("input[name=title]", "望江路路灯不亮(巡查发现)")
    no_horizontal_scroll(inspector)
    inspector.click("button:has-text('提交登记')")
    inspector.wait_for_url(re.compile(r"/cases/[A-Z]+-\d{8}-\d{6}$"))
    expect(inspector.locator(".fields")).to_contain_text("网格员巡查")
    expect(inspector.locator(".fields")).to_contain_text("路灯")
    inspector.goto("/workbench?queue=mine_today")
    expect(inspector.locator("#queue")).to_contain_text("望江路路灯不亮(巡查发现)")


def test_the_admin_pages(signed_in: Callable[..., Any], screenshots: Path) -> None:
    admin = signed_in("admin")
    admin.click(".main-nav a:has-text('用户管理')")
    expect(admin.locator("h1")).to_have_text("用户管理")
    no_horizontal_scroll(admin)
    admin.screenshot(path=screenshots / "admin-users.png")
    admin.goto("/admin/categories/C0101")
    expect(admin.locator("input[name=limit_normal_handle]")).not_to_have_value("")
    no_horizontal_scroll(admin)
    admin.screenshot(path=screenshots / "admin-category.png", full_page=True)


def test_the_filters_apply_on_a_choice_and_the_search_on_enter(signed_in: Callable[..., Any]) -> None:
    operator = signed_in("operator")
    operator.goto("/workbench?queue=all")
    operator.locator("details.filters summary").click()
    # Choosing from a list filters at once (the address records it, for the back button).
    operator.select_option("select[name=state]", "registered")
    expect(operator).to_have_url(re.compile(r"[?&]state=registered"))
    states = operator.locator("#queue td .state").all_inner_texts()
    assert states and set(states) == {"立案"}
    # Typing and leaving the search box does not search (nor race a click on a case);
    # Enter does.
    operator.fill("input[name=q]", "不存在的案件标题")
    operator.locator("input[name=q]").blur()
    operator.wait_for_timeout(600)
    expect(operator.locator("#queue .empty")).to_have_count(0)
    operator.press("input[name=q]", "Enter")
    expect(operator.locator("#queue .empty")).to_be_visible()


@pytest.mark.parametrize(
    ("username", "path", "heading", "picture"),
    [
        ("supervisor", "/workbench?queue=red", "督办工作台", "workbench-supervisor-red.png"),
        ("admin", "/admin/departments", "部门管理", "admin-departments.png"),
        ("admin", "/admin/categories", "类别管理", "admin-categories.png"),
        ("admin", "/admin/users/handler_sz", "用户 handler_sz", "admin-user.png"),
        ("leader", "/notifications", "通知提醒", "notifications.png"),
        ("leader", "/notifications/settings", "提醒设置", "notification-settings.png"),
    ],
)
def test_each_main_page_fits_the_office_screen(
    signed_in: Callable[..., Any], screenshots: Path, username: str, path: str, heading: str, picture: str
) -> None:
    page = signed_in(username)
    page.goto(path)
    expect(page.locator("h1")).to_have_text(heading)
    no_horizontal_scroll(page)
    page.screenshot(path=screenshots / picture, full_page=True)


@pytest.mark.parametrize(
    "username", ["operator", "dispatcher", "handler_sz", "inspector01", "supervisor", "leader", "admin"]
)
def test_every_queue_of_every_workbench_fits_the_office_screen(
    signed_in: Callable[..., Any], username: str
) -> None:
    page = signed_in(username)
    tabs = page.eval_on_selector_all(".tabs a.tab", "links => links.map(a => a.getAttribute('href'))")
    assert tabs and all(href.startswith("/workbench?queue=") or href == "/cases/new" for href in tabs)
    for href in tabs:  # each queue, and the intake form where the role has one
        page.goto(href)
        expect(page.locator("h1")).to_be_visible()
        no_horizontal_scroll(page)
