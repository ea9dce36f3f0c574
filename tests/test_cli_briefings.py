"""``civicgrid report``: the demo's monthly briefing as PDF, workbook and page from the command
line, the refusals (nothing written), and the scheduled briefings made by ``run-due``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from civicgrid.cli import app
from civicgrid.domain.briefings import BriefingKind
from civicgrid.settings import get_settings
from civicgrid.store.db import make_engine
from civicgrid.store.models import Briefing, BriefingSchedule, Region
from tests.statistics_history import SH

runner = CliRunner()


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A centre with the demo district (a few cases) in a SQLite file."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    monkeypatch.setenv("CIVICGRID_DATABASE_URL", url)
    monkeypatch.setenv("CIVICGRID_UPLOAD_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("CIVICGRID_BRIEFING_TITLE", "示范区城市运行管理中心工作简报")
    get_settings.cache_clear()
    loaded = runner.invoke(app, ["demo", "--cases", "60"])
    assert loaded.exit_code == 0, loaded.output
    yield url
    get_settings.cache_clear()


def test_the_monthly_briefing_of_the_demo_street_as_pdf_workbook_and_page(demo: str, tmp_path: Path) -> None:
    for name in ("monthly.pdf", "monthly.xlsx", "monthly.html"):
        out = tmp_path / name
        made = runner.invoke(app, ["report", "monthly", "--region", "990101001", "--out", str(out)])
        assert made.exit_code == 0, made.output
        assert f"{out}: 江滨街道月报 ({name.split('.')[1]}," in made.output
    assert (tmp_path / "monthly.pdf").read_bytes().startswith(b"%PDF-")
    workbook = load_workbook(tmp_path / "monthly.xlsx")
    assert workbook["简报"]["B1"].value == "示范区城市运行管理中心工作简报"
    assert "江滨街道月报" in (tmp_path / "monthly.html").read_text(encoding="utf-8")
    # Without --region: the district; --format wins over the file's ending.
    other = tmp_path / "daily.bin"
    made = runner.invoke(
        app, ["report", "daily", "--format", "html", "--title", "值班日报", "--out", str(other)]
    )
    assert made.exit_code == 0 and "示范区日报 (html" in made.output
    assert "值班日报" in other.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["weekly", "--date", "2999-01-01"], "lies in the future"),
        (["weekly", "--date", "2026-13-01"], "is not a day like 2026-11-25"),
        (["weekly", "--region", "NOPE"], "unknown region code 'NOPE'"),
    ],
)
def test_a_bad_request_writes_nothing(demo: str, tmp_path: Path, arguments: list[str], message: str) -> None:
    out = tmp_path / "briefing.pdf"
    refused = runner.invoke(app, ["report", *arguments, "--out", str(out)])
    assert refused.exit_code == 1 and message in refused.output and "nothing written" in refused.output
    assert not out.exists()


def test_an_unknown_format_and_an_unwritable_file_are_refused(demo: str, tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["report", "daily", "--format", "doc", "--out", str(tmp_path / "x")])
    assert unknown.exit_code == 2 and "'doc' is not one of" in unknown.output
    nowhere = runner.invoke(app, ["report", "daily", "--out", str(tmp_path / "missing" / "x.xlsx")])
    assert nowhere.exit_code == 1 and "No such file or directory" in nowhere.output


def test_without_a_region_there_must_be_one_district(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICGRID_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    try:
        empty = runner.invoke(app, ["report", "daily", "--out", str(tmp_path / "x.pdf")])
        assert empty.exit_code == 1 and "no region yet" in empty.output
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        with Session(engine) as session:
            for code in ("A1", "B1"):
                session.add(Region(code=code, name=code, level="district", path=f"/{code}/"))
            session.commit()
        engine.dispose()
        several = runner.invoke(app, ["report", "daily", "--out", str(tmp_path / "x.pdf")])
        assert several.exit_code == 1 and "several districts: say --region CODE" in several.output
    finally:
        get_settings.cache_clear()


def test_run_due_makes_the_scheduled_briefings_once(demo: str) -> None:
    engine = make_engine(demo)
    with Session(engine) as session:
        street = session.scalars(select(Region).where(Region.code == "990101001")).one()
        session.add(
            BriefingSchedule(
                kind=BriefingKind.WEEKLY,
                region=street,
                formats=["xlsx"],
                hour=8,
                is_active=True,
                created_at=datetime(2026, 11, 3, tzinfo=SH),
            )
        )
        session.commit()
    made = runner.invoke(app, ["report", "run-due", "--at", "2026-11-16T08:30+08:00"])
    assert made.exit_code == 0, made.output
    assert "990101001 周报 2026年第46周（11月9日—11月15日） stored as briefing" in made.output
    assert made.output.rstrip().endswith("2 briefing(s) made")
    again = runner.invoke(app, ["report", "run-due", "--at", "2026-11-16T08:30+08:00"])
    assert again.output.strip() == "0 briefing(s) made"
    with Session(engine) as session:
        assert len(session.scalars(select(Briefing)).all()) == 2
    engine.dispose()
    for wrong in ("yesterday", "2026-11-16T08:30"):
        refused = runner.invoke(app, ["report", "run-due", "--at", wrong])
        assert refused.exit_code == 1 and "is not a moment with its zone" in refused.output


def test_run_due_ends_in_failure_when_a_briefing_failed(demo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from civicgrid.briefings import runner as briefing_runner

    failed = briefing_runner.RunReport(failed=[(3, "2026年11月", "the disk is full")])
    monkeypatch.setattr(briefing_runner, "run_due_briefings", lambda *args: failed)
    result = runner.invoke(app, ["report", "run-due"])
    assert result.exit_code == 1
    assert "schedule 3: 2026年11月 failed: the disk is full" in result.output
    assert result.output.rstrip().endswith("0 briefing(s) made, 1 failed")
