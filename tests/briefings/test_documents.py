"""The briefing as documents, on the demo district: the monthly briefing of 江滨街道 as a PDF
(read back with poppler: its Chinese text, its fonts, its A4 pages, the charts drawn on
them), as a workbook (read back with openpyxl: its sheets, frozen headers, number formats,
the statistics service's figures) and as an HTML page."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date, datetime
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from civicgrid import media
from civicgrid.briefings import charts, html, pdf
from civicgrid.briefings.content import (
    Briefing,
    BriefingRequest,
    Chart,
    ChartKind,
    Masthead,
    Series,
    assemble,
)
from civicgrid.briefings.xlsx import sheet_name
from civicgrid.demo import STREET_CODE, load_demo
from civicgrid.domain.briefings import BriefingFormat, BriefingKind
from civicgrid.domain.errors import UnsupportedFile
from civicgrid.evaluation_file import default_scheme_path, load_scheme
from civicgrid.services import statistics
from civicgrid.services.briefings import draw
from civicgrid.services.cases import CentreRules
from civicgrid.services.statistics import GroupBy, Query
from civicgrid.settings import Settings
from civicgrid.store.models import User
from tests.images import noisy_photo, photo
from tests.statistics_history import SH

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)
HEADINGS = (
    "一、总体情况",
    "二、受理情况",
    "三、高发问题",
    "四、考核排名",
    "五、红灯案件",
    "六、热点区域",
    "七、典型案件",
)
TOOLS = ("pdftotext", "pdftoppm", "pdfinfo", "pdffonts", "pdfimages")


@pytest.fixture(scope="module")
def poppler() -> None:
    """Debian's poppler-utils, which CI installs (.ci/run): elsewhere the PDF checks are skipped."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"poppler-utils is not installed (apt-get install poppler-utils): no {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def demo(sqlite_engine: Engine) -> Iterator[Session]:
    """The demo district (150 cases up to NOW) in a transaction rolled back after the module."""
    with sqlite_engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        rules = CentreRules.from_settings(
            Settings(environment="test", secret_key="x" * 40, database_url="sqlite://")
        )
        load_demo(session, rules, NOW, cases=150)
        session.flush()
        yield session
        session.close()
        transaction.rollback()


@pytest.fixture(scope="module")
def monthly(demo: Session, logo: Path) -> Briefing:
    leader = demo.scalars(select(User).where(User.username == "leader")).one()
    return assemble(
        demo,
        leader,
        BriefingRequest(BriefingKind.MONTHLY, date(2026, 11, 25), STREET_CODE),
        NOW,
        zone=SH,
        scheme=load_scheme(default_scheme_path()),
        masthead=Masthead("示范区城市运行管理中心工作简报", media.png_of(logo, 300)),
    )


@pytest.fixture(scope="module")
def logo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JPEG logo (a centre's would be a PNG or JPEG file)."""
    path = tmp_path_factory.mktemp("logo") / "logo.jpg"
    path.write_bytes(photo((240, 120)))
    return path


def _run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_the_pdf_shows_the_chinese_text_and_the_charts_on_a4_pages(
    poppler: None, monthly: Briefing, tmp_path: Path
) -> None:
    (document,) = draw(monthly, [BriefingFormat.PDF])
    assert document.filename == "江滨街道-月报-2026年11月.pdf" and document.content_type == "application/pdf"
    path = tmp_path / "briefing.pdf"
    path.write_bytes(document.data)
    info = _run("pdfinfo", str(path))
    assert "A4" in info and "示范区城市运行管理中心工作简报" in info
    text = _run("pdftotext", "-layout", str(path), "-")
    for words in (
        "示范区城市运行管理中心工作简报",
        "江滨街道月报",
        "本期概要",
        *HEADINGS,
        "附：指标说明",
        "第1页共",
    ):
        assert words in text, words
    assert "江滨街道共受理各类问题" in text and "考核方案" in text
    fonts = _run("pdffonts", str(path))
    assert "CJK" in fonts, fonts
    # The six charts and the logo are images on the pages.
    images = _run("pdfimages", "-list", str(path)).splitlines()[2:]
    assert len(images) >= len(monthly.charts) + 1 >= 7
    # Drawn on the pages: the red masthead at the top of the first, and charts in colour.
    _run("pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page"))
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 5
    first = Image.open(pages[0]).convert("RGB")
    top = first.crop((0, 0, first.width, first.height // 8))
    assert _share(top, _red) > 0.005
    coloured = [_share(Image.open(page).convert("RGB"), _colourful) for page in pages]
    assert sum(share > 0.02 for share in coloured) >= 3, coloured


Mask = Callable[[np.ndarray], np.ndarray]


def _red(pixels: np.ndarray) -> np.ndarray:
    return (pixels[..., 0] > 150) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)


def _colourful(pixels: np.ndarray) -> np.ndarray:
    return pixels.max(axis=-1) - pixels.min(axis=-1) > 80


def _share(image: Image.Image, mask: Mask) -> float:
    return float(mask(np.asarray(image, dtype=np.int16)).mean())


def test_the_workbook_has_a_sheet_per_table_frozen_headers_and_the_services_figures(
    demo: Session, monthly: Briefing
) -> None:
    (document,) = draw(monthly, [BriefingFormat.XLSX])
    assert document.filename.endswith(".xlsx") and "spreadsheetml" in document.content_type
    workbook = load_workbook(BytesIO(document.data))
    assert workbook.sheetnames == ["简报", *(table.title for table in monthly.tables)]
    cover = workbook["简报"]
    assert cover["B1"].value == "示范区城市运行管理中心工作简报" and cover["B2"].value == "江滨街道月报"
    assert len(cover._images) == 1  # the logo
    for table in monthly.tables:
        sheet = workbook[table.title]
        assert sheet.freeze_panes == "A2", table.title
        assert [cell.value for cell in sheet[1]] == [column.label for column in table.columns]
        assert sheet.max_row >= len(table.rows) + 1
    leader = demo.scalars(select(User).where(User.username == "leader")).one()
    keys = ["reported", "registered", "closed", "closed_on_time", "overdue", "due_closure"]
    figures = statistics.table(
        demo, leader, Query(monthly.period, GroupBy.NONE, keys, STREET_CODE), NOW
    ).total
    sheet = workbook["主要数量指标"]
    assert [sheet.cell(row, 2).value for row in range(2, 8)] == [figures.values[key].value for key in keys]
    assert sheet["B2"].number_format == "#,##0" and sheet["D2"].number_format in (
        "+0.0%;-0.0%;0.0%",
        "General",
    )
    rates = workbook["主要比率指标"]
    closure = statistics.table(
        demo, leader, Query(monthly.period, GroupBy.NONE, ["closure_rate"], STREET_CODE), NOW
    ).total.values["closure_rate"]
    assert rates["B2"].value == pytest.approx(closure.value) and rates["B2"].number_format == "0.00%"
    assert rates["C2"].value == f"{closure.numerator}/{closure.denominator}"
    channels = workbook["受理渠道"]
    by_channel = statistics.table(
        demo, leader, Query(monthly.period, GroupBy.CHANNEL, ["reported"], STREET_CODE), NOW
    )
    read = {
        channels.cell(row, 1).value: channels.cell(row, 2).value for row in range(2, channels.max_row + 1)
    }
    assert {row.group.label: row.values["reported"].value for row in by_channel.rows} == {
        label: value
        for label, value in read.items()
        if label not in ("合计", None) and not str(label).startswith("注")
    }
    red = workbook["红灯案件"]
    assert isinstance(red["G2"].value, datetime) and red["G2"].number_format == "yyyy-mm-dd hh:mm"


def test_the_page_is_one_self_contained_file(monthly: Briefing) -> None:
    (document,) = draw(monthly, [BriefingFormat.HTML])
    page = document.data.decode("utf-8")
    assert document.content_type.startswith("text/html")
    for heading in HEADINGS:
        assert f"<h3>{heading}</h3>" in page
    assert page.count("data:image/png;base64,") == len(monthly.charts) + 1
    assert "http://" not in page and "https://" not in page
    # The detail a chart shows already (the day-by-day table) is the workbook's only.
    assert 'id="trend"' not in page and 'id="red_cases"' in page


def test_an_empty_chart_says_so_and_every_kind_draws() -> None:
    empty = Chart("x", "受理渠道分布", ChartKind.PIE, [], [Series("上报数", [])])
    for chart in (
        empty,
        Chart("l", "趋势", ChartKind.LINE, ["1日", "2日"], [Series("上报数", [1, 3])]),
        Chart("b", "高发问题", ChartKind.BAR, ["占道经营"], [Series("上报数", [4], ["#c62828"])]),
        Chart("p", "渠道", ChartKind.PIE, ["热线", "巡查", "媒体"], [Series("上报数", [50, 49, 1])]),
    ):
        image = Image.open(BytesIO(charts.render(chart)))
        assert image.format == "PNG" and image.width > 1000, chart.key
    assert charts.chinese_font() is not None


def test_the_logo_must_be_an_image(tmp_path: Path, logo: Path) -> None:
    text = tmp_path / "logo.png"
    text.write_text("not an image")
    with pytest.raises(UnsupportedFile):
        media.png_of(text, 100)
    made = Image.open(BytesIO(media.png_of(logo, 100)))
    assert made.format == "PNG" and max(made.size) == 100


def test_the_cell_texts() -> None:
    from civicgrid.briefings.content import Column, ColumnKind

    assert html.cell_text(None, Column("x", ColumnKind.RATE)) == "—"
    assert html.cell_text(None, Column("x")) == ""
    assert html.cell_text(1234, Column("x", ColumnKind.COUNT)) == "1,234"
    assert html.cell_text(0.125, Column("x", ColumnKind.CHANGE)) == "+12.5%"
    assert html.cell_text(-1.5, Column("x", ColumnKind.POINTS)) == "-1.50"
    assert html.cell_text(87.5, Column("x", ColumnKind.SCORE)) == "87.50"
    assert html.cell_text("A", Column("x", ColumnKind.GRADE)) == "A"
    assert html.cell_text(3, Column("x", ColumnKind.GRADE)) == "3"


def test_without_weasyprint_the_pdf_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, monthly: Briefing
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    with pytest.raises(pdf.PdfUnavailable, match="apt-get install libpango"):
        pdf.render(monthly, {})


def test_without_a_chinese_font_the_charts_warn(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(charts, "CHINESE_FONTS", ("No Such Font",))
    assert charts.chinese_font.__wrapped__() is None
    assert "apt-get install fonts-noto-cjk" in caplog.text


def test_sheet_names_are_short_clean_and_unique() -> None:
    taken: set[str] = set()
    assert sheet_name("红灯案件", taken) == "红灯案件"
    assert sheet_name("红灯案件", taken) == "红灯案件(2)"
    long = "很长的表名" * 8
    assert sheet_name(long, taken) == long[:31]
    assert sheet_name(long, taken) == long[:28] + "(2)"
    assert sheet_name("a/b:c?", taken) == "a_b_c_"


def test_making_a_pdf_leaves_the_upload_checks_strict(monthly: Briefing, tmp_path: Path) -> None:
    """WeasyPrint turns on Pillow's LOAD_TRUNCATED_IMAGES when imported; a photo cut short
    must still be refused after a briefing was made."""
    from PIL import ImageFile

    from civicgrid.domain.errors import InvalidInput

    assert pdf.render(monthly).startswith(b"%PDF-")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = noisy_photo((400, 300))
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInput, match="image cannot be read"):
        media.thumbnail(cut, 100)
