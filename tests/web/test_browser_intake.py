"""The intake form in a real browser: the duplicate hint (合并 instead of a second case),
picking the point on the small map, and a photo the server refuses."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.web.conftest import PHONE, no_horizontal_scroll
from tests.web.test_browser import photo_file

# A point of 望江社区 away from the other tests' cases, and one about 20 m east of it.
HERE = ("120.1521", "30.2762")
BESIDE = ("120.1523", "30.2762")


def test_the_duplicate_hint_merges_the_report_into_the_open_case(
    signed_in: Callable[..., Any], screenshots: Path
) -> None:
    operator = signed_in("operator")
    first_title = f"望江路18号井盖缺失 {uuid.uuid4().hex[:6]}"
    operator.goto("/cases/new")
    operator.select_option("select[name=category_code]", "C0101")
    operator.fill("input[name=title]", first_title)
    operator.fill("input[name=lng]", HERE[0])
    operator.fill("input[name=lat]", HERE[1])
    operator.press("input[name=lat]", "Tab")
    expect(operator.locator("#place .placed")).to_contain_text("望江社区")
    operator.click("button:has-text('提交登记')")
    operator.wait_for_url(re.compile(r"/cases/[A-Z]+-\d{8}-\d{6}$"))
    first = operator.url.rsplit("/", 1)[1]

    # A second call about the same manhole, 20 m away: the hint lists the open case.
    operator.goto("/cases/new")
    operator.fill("input[name=title]", "望江路井盖又被反映")
    operator.fill("input[name=lng]", BESIDE[0])
    operator.fill("input[name=lat]", BESIDE[1])
    operator.press("input[name=lat]", "Tab")
    expect(operator.locator("#place .placed")).to_contain_text("望江社区")
    expect(operator.locator("#duplicate-hint .nearby")).to_have_count(0)  # no category yet
    operator.select_option("select[name=category_code]", "C0101")
    merge = operator.locator(f"#duplicate-hint button[name=merge_into][value='{first}']")
    expect(merge).to_be_visible()
    hit = operator.locator("#duplicate-hint .nearby-case", has=operator.locator(f"button[value='{first}']"))
    expect(hit).to_contain_text(first_title)
    expect(hit).to_contain_text("相距")
    # Another category: not the same problem, so no hint for that case.
    operator.select_option("select[name=category_code]", "C0108")
    expect(merge).to_have_count(0)
    operator.select_option("select[name=category_code]", "C0101")
    expect(merge).to_be_visible()
    operator.set_input_files("input[name=photos]", [photo_file("又一张.jpg")])
    operator.screenshot(path=screenshots / "intake-duplicate-hint.png", full_page=True)

    merge.click()
    operator.wait_for_url(re.compile(r"/cases/[A-Z]+-\d{8}-\d{6}$"))
    merged = operator.url.rsplit("/", 1)[1]
    assert merged != first
    expect(operator.locator(".clock .state")).to_have_text("已合并")
    expect(operator.locator(".fields dd a", has_text=first)).to_be_visible()
    assert operator.locator(".events .event-action").all_inner_texts() == ["上报", "合并"]
    expect(operator.locator(".events .event-note")).to_contain_text(first)
    expect(operator.locator(".media .thumb img")).to_have_count(1)  # the report's photo is kept
    # The case kept is untouched, and not registered twice.
    operator.goto(f"/cases/{first}")
    expect(operator.locator(".clock .state")).to_have_text("上报")
    operator.goto("/workbench?queue=all&q=望江路井盖又被反映")
    expect(operator.locator("#queue a.case-link")).to_have_count(1)


def test_picking_the_point_on_the_map_fills_the_coordinate_and_shows_the_grid(
    signed_in: Callable[..., Any], screenshots: Path
) -> None:
    operator = signed_in("operator")
    problems: list[str] = []
    operator.on("pageerror", lambda error: problems.append(str(error)))
    operator.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    operator.goto("/cases/new")
    picker = operator.locator("#pick-map")
    expect(picker).to_have_attribute("data-ready", "")  # the grids are drawn
    expect(picker.locator("path")).not_to_have_count(0)
    box = picker.bounding_box()
    assert box is not None
    picker.click(position={"x": box["width"] / 2 + 12, "y": box["height"] / 2 - 12})
    expect(operator.locator("#place .placed")).to_contain_text("网格")
    lng = operator.input_value("input[name=lng]")
    lat = operator.input_value("input[name=lat]")
    assert re.fullmatch(r"120\.1\d{5}", lng) and re.fullmatch(r"30\.2\d{5}", lat), (lng, lat)
    # The grid shown is the grid of the coordinate filled in, as the server places it.
    again = operator.request.get(f"/cases/new/place?lng={lng}&lat={lat}")
    shown = operator.locator("#place .placed").inner_text()
    assert shown in again.text()
    # The picked grid (red outline) and the point (white ring) are drawn on the map.
    expect(picker.locator("path[stroke='#c62828']")).to_have_count(1)
    expect(picker.locator("path[stroke='#ffffff']")).to_have_count(1)
    operator.screenshot(path=screenshots / "intake-map.png", full_page=True)
    # The picked point is what the case is registered at.
    operator.select_option("select[name=category_code]", "C0205")
    operator.fill("input[name=title]", "地图选点登记的路面坑洼")
    operator.click("button:has-text('提交登记')")
    operator.wait_for_url(re.compile(r"/cases/[A-Z]+-\d{8}-\d{6}$"))
    expect(operator.locator(".fields")).to_contain_text(f"{float(lng):.6f}, {float(lat):.6f}")
    expect(operator.locator("#case-map path")).to_have_count(2)  # the grid, and the point in it
    # Leaflet and the map script run under the pages' CSP: no script error, nothing refused.
    assert problems == []


def test_the_inspector_reports_with_photos_from_the_phone(
    signed_in: Callable[..., Any], screenshots: Path
) -> None:
    inspector = signed_in("inspector01", PHONE)
    inspector.goto("/cases/new")
    camera = inspector.locator("input[name=photos]")
    expect(camera).to_have_attribute("capture", "environment")
    expect(camera).to_have_attribute("accept", "image/*")
    inspector.select_option("select[name=category_code]", "E0101")
    inspector.fill("input[name=title]", "望江路暴露垃圾(附照片)")
    inspector.fill("input[name=lng]", HERE[0])
    inspector.fill("input[name=lat]", HERE[1])
    inspector.press("input[name=lat]", "Tab")
    expect(inspector.locator("#place .placed")).to_contain_text("望江社区")
    # Something that is no photo, whatever its name says: refused, in Chinese, nothing saved.
    fake = {"name": "垃圾.jpg", "mimeType": "image/jpeg", "buffer": b"<html>not a photo</html>"}
    inspector.set_input_files("input[name=photos]", [photo_file("近景.jpg"), fake])
    expect(inspector.locator(".photo-count")).to_contain_text("已选 2 张")
    inspector.click("button:has-text('提交登记')")
    expect(inspector.locator(".intake div.error")).to_contain_text("「垃圾.jpg」不是照片")
    expect(inspector.locator(".intake div.error")).to_contain_text("未保存任何内容")
    expect(inspector.locator("input[name=title]")).to_have_value("望江路暴露垃圾(附照片)")
    expect(inspector.locator("#place .placed")).to_contain_text("望江社区")  # looked up again
    no_horizontal_scroll(inspector)
    inspector.screenshot(path=screenshots / "report-phone-refused-photo.png", full_page=True)
    inspector.goto("/workbench?queue=mine_today&q=望江路暴露垃圾")
    expect(inspector.locator("#queue .empty")).to_be_visible()

    inspector.goto("/cases/new")
    inspector.select_option("select[name=category_code]", "E0101")
    inspector.fill("input[name=title]", "望江路暴露垃圾(附照片)")
    inspector.fill("input[name=lng]", HERE[0])
    inspector.fill("input[name=lat]", HERE[1])
    inspector.set_input_files(
        "input[name=photos]", [photo_file("近景.jpg"), photo_file("远景.jpg", (480, 640))]
    )
    small = inspector.evaluate(
        """[...document.querySelectorAll('button, a.button, label.button, .leaflet-bar a')]
           .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
           .map(e => e.textContent.trim())"""
    )
    assert small == [], f"touch targets under 44 px: {small}"
    no_horizontal_scroll(inspector)
    inspector.screenshot(path=screenshots / "report-phone-photos.png", full_page=True)
    inspector.click("button:has-text('提交登记')")
    inspector.wait_for_url(re.compile(r"/cases/[A-Z]+-\d{8}-\d{6}$"))
    expect(inspector.locator(".media .thumb img")).to_have_count(2)
    expect(inspector.locator(".media .thumb-meta").first).to_contain_text("处置前")
    reported = inspector.locator(".event", has=inspector.locator(".event-action", has_text="上报"))
    expect(reported.locator(".thumbs img")).to_have_count(2)
    no_horizontal_scroll(inspector)
    inspector.screenshot(path=screenshots / "case-file-phone-photos.png", full_page=True)
