"""The workflow's side paths in a real browser: 退单 and re-dispatch, 返工 after a failed
check (with photos of each visit), and an extension requested and approved."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.web.conftest import PHONE
from tests.web.test_browser import find_in_queue, photo_file, report, take


def registered(signed_in: Callable[..., Any], title: str) -> str:
    """A hotline case registered by the operator; its number."""
    operator = signed_in("operator")
    number = report(operator, f"{title} {uuid.uuid4().hex[:6]}")
    take(operator, "立案")
    return number


def dispatch(page: Any, number: str, department: str) -> None:
    page.goto(f"/cases/{number}/actions/dispatch")
    page.select_option("select[name=department_code]", department)
    page.click("button:has-text('确认派遣')")
    expect(page.locator(".clock .state")).to_have_text("派遣")


def test_a_rejected_case_is_dispatched_again(signed_in: Callable[..., Any], screenshots: Path) -> None:
    number = registered(signed_in, "望江路井盖缺失(退单)")
    dispatcher = signed_in("dispatcher")
    dispatch(dispatcher, number, "JB-CG")  # 城管 by mistake

    wrong = signed_in("handler_cg")
    find_in_queue(wrong, "待签收", number)
    wrong.click(".action-buttons a:has-text('退单')")
    wrong.fill("textarea[name=note]", "井盖属市政设施，非城管职责")
    wrong.click("button:has-text('确认退单')")
    # The case is no longer the department's: back to its workbench, and 404 for the file.
    wrong.wait_for_url("**/workbench")
    reply = wrong.goto(f"/cases/{number}")
    assert reply is not None and reply.status == 404

    find_in_queue(dispatcher, "退单待派", number)
    expect(dispatcher.locator(".clock .state")).to_have_text("退单")
    rejected = dispatcher.locator(".events .event").last
    expect(rejected).to_contain_text("部门：江滨城管中队")
    expect(rejected.locator(".event-note")).to_contain_text("非城管职责")
    dispatcher.screenshot(path=screenshots / "case-rejected.png", full_page=True)
    dispatch(dispatcher, number, "JB-SZ")
    expect(dispatcher.locator(".fields")).to_contain_text("江滨市政所")

    right = signed_in("handler_sz")
    find_in_queue(right, "待签收", number)
    take(right, "签收")
    expect(right.locator(".clock .state")).to_have_text("处置中")
    steps = right.locator(".events .event-action").all_inner_texts()
    assert steps == ["上报", "立案", "派遣", "退单", "派遣", "签收"]


def test_a_failed_check_sends_the_case_back_for_rework(
    signed_in: Callable[..., Any], screenshots: Path
) -> None:
    number = registered(signed_in, "望江路井盖缺失(返工)")
    dispatch(signed_in("dispatcher"), number, "JB-SZ")
    handler = signed_in("handler_sz")
    find_in_queue(handler, "待签收", number)
    take(handler, "签收")
    take(handler, "处置反馈", note="已放置临时盖板", photos=[photo_file("盖板.jpg")])

    inspector = signed_in("inspector01", PHONE)
    find_in_queue(inspector, "待核查", number)
    take(
        inspector,
        "核查不通过(返工)",
        note="临时盖板松动，未按标准更换",
        photos=[photo_file("松动.jpg"), photo_file("松动2.jpg")],
        screenshot=screenshots / "action-fail-check-phone.png",
    )
    expect(inspector.locator(".clock .state")).to_have_text("返工")
    failed = inspector.locator(".event", has=inspector.locator(".event-action", has_text="核查不通过"))
    expect(failed.locator(".thumbs img")).to_have_count(2)

    find_in_queue(handler, "处置中", number)
    expect(handler.locator(".fields")).to_contain_text("返工次数1")
    take(handler, "处置反馈", note="已更换新井盖", photos=[photo_file("新井盖.jpg")])
    find_in_queue(inspector, "待核查", number)
    take(inspector, "核查通过", note="复查合格")
    expect(inspector.locator(".clock .state")).to_have_text("核查")
    steps = inspector.locator(".events .event-action").all_inner_texts()
    assert steps == ["上报", "立案", "派遣", "签收", "处置反馈", "核查不通过(返工)", "处置反馈", "核查通过"]
    # Each visit's photos stay under its own step: 1, 2 and 1.
    counts = [event.locator(".thumbs img").count() for event in inspector.locator(".event").all()]
    assert counts == [0, 0, 0, 0, 1, 2, 1, 0]
    inspector.screenshot(path=screenshots / "case-file-rework-phone.png", full_page=True)


def test_an_extension_is_requested_and_approved(signed_in: Callable[..., Any], screenshots: Path) -> None:
    number = registered(signed_in, "望江路井盖缺失(延期)")
    dispatch(signed_in("dispatcher"), number, "JB-SZ")
    handler = signed_in("handler_sz")
    find_in_queue(handler, "待签收", number)
    take(handler, "签收")
    deadline = handler.locator(".clock span", has_text="处置期限")
    before = deadline.inner_text()
    wanted = (datetime.now() + timedelta(days=30)).replace(hour=17, minute=0, second=0, microsecond=0)
    take(
        handler,
        "申请延期",
        note="需定制非标井盖，供货周期较长",
        choose=lambda page: page.fill("input[name=new_deadline]", wanted.strftime("%Y-%m-%dT%H:%M")),
    )
    expect(handler.locator(".clock .state")).to_have_text("延期申请中")
    asked = f"申请期限：{wanted.year}年{wanted.month}月{wanted.day}日 17:00"
    expect(handler.locator(".events .event").last).to_contain_text(asked)

    leader = signed_in("leader")
    find_in_queue(leader, "延期待批", number)
    leader.screenshot(path=screenshots / "case-extension-requested.png", full_page=True)
    take(leader, "批准延期", note="同意")
    expect(leader.locator(".clock .state")).to_have_text("处置中")
    # The deadline moved on by the working time asked for (counted on the centre's calendar).
    moved = leader.locator(".clock span", has_text="处置期限").inner_text()
    assert moved != before, (before, moved)
    expect(leader.locator(".events .event").last).to_contain_text(asked)
    find_in_queue(handler, "处置中", number)
    expect(handler.locator(".action-buttons a", has_text="处置反馈")).to_be_visible()
