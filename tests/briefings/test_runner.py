"""The scheduled briefings: each due period made and stored once, whoever else runs the
schedules at the same time; a failure reported and made up for at the next run."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from civicgrid.briefings import runner
from civicgrid.domain.briefings import BriefingKind
from civicgrid.settings import Settings
from civicgrid.store import briefings as queries
from civicgrid.store.models import Briefing, BriefingFile, BriefingSchedule
from tests.factories import build_world, new_case
from tests.statistics_history import at


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url="sqlite://",
        secret_key="test-only-secret-" * 3,
        upload_dir=str(tmp_path / "files"),
        briefing_title="东湖街道工作简报",
    )


@pytest.fixture
def schedules(fresh_engine: Engine, settings: Settings) -> dict[str, int]:
    """A daily briefing of 东湖街道 (PDF and workbook) made since 5 October, a monthly one of
    the district (workbook) since 20 September, and a few cases."""
    from civicgrid.services.cases import CentreRules

    rules = CentreRules.from_settings(settings)
    with Session(fresh_engine) as session:
        world = build_world(session)
        for day in (5, 6, 7):
            new_case(session, world, rules, at(10, day, 10))
        daily = BriefingSchedule(kind=BriefingKind.DAILY, region=world.regions["east"], formats=["xlsx", "html"],
                                 hour=8, is_active=True, created_at=at(10, 5, 10))  # fmt: skip
        monthly = BriefingSchedule(kind=BriefingKind.MONTHLY, region=world.regions["district"], formats=["pdf"],
                                   title="测试区城市运行月报", hour=8, is_active=True, created_at=at(9, 20, 0))  # fmt: skip
        session.add_all([daily, monthly])
        session.commit()
        return {"daily": daily.id, "monthly": monthly.id}


def stored(engine: Engine) -> list[tuple[int | None, str, str]]:
    with Session(engine) as session:
        rows = session.scalars(select(Briefing).order_by(Briefing.id))
        return [
            (row.schedule_id, row.period_label, ",".join(f.format.value for f in row.files)) for row in rows
        ]


def kept_files(settings: Settings) -> set[str]:
    return {path.name for path in settings.files_path.glob("??/*")}


def test_what_is_due_is_made_once(
    fresh_engine: Engine, settings: Settings, schedules: dict[str, int]
) -> None:
    report = runner.run_due_briefings(at(10, 8, 7), settings, fresh_engine)
    daily, monthly = schedules["daily"], schedules["monthly"]
    assert stored(fresh_engine) == [
        (monthly, "2026年9月", "pdf"),
        (daily, "2026年10月5日（星期一）", "xlsx,html"),
        (daily, "2026年10月6日（星期二）", "xlsx,html"),
    ]
    assert report.summary() == "3 briefing(s) made" and [m.region_code for m in report.made] == [
        "T01",
        "T0101",
        "T0101",
    ]
    with Session(fresh_engine) as session:
        september = session.scalars(select(Briefing).where(Briefing.schedule_id == monthly)).one()
        assert (
            september.title == "测试区城市运行月报"
            and september.files[0].filename == "测试区-月报-2026年9月.pdf"
        )
        assert (
            settings.files_path.joinpath(
                september.files[0].sha256[:2], september.files[0].sha256
            ).read_bytes()[:5]
            == b"%PDF-"
        )
        assert (
            session.scalars(select(Briefing.title).where(Briefing.schedule_id == daily)).first()
            == "东湖街道工作简报"
        )
    # Run again: nothing new. An hour later the 7th is due.
    assert runner.run_due_briefings(at(10, 8, 7, 30), settings, fresh_engine).made == []
    assert [m.period_label for m in runner.run_due_briefings(at(10, 8, 8), settings, fresh_engine).made] == [
        "2026年10月7日（星期三）"
    ]
    # A schedule switched off makes nothing.
    with Session(fresh_engine) as session:
        session.get(BriefingSchedule, daily).is_active = False  # type: ignore[union-attr]
        session.commit()
    assert runner.run_due_briefings(at(10, 9, 9), settings, fresh_engine).made == []


def test_a_period_another_process_stored_first_is_dropped(
    fresh_engine: Engine, settings: Settings, schedules: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = runner.run_due_briefings(at(10, 7, 9), settings, fresh_engine)
    assert len(first.made) == 3
    # A second process that looked before the first one stored: it draws them again, and the
    # unique (schedule, period) refuses its copies; the files it wrote go again.
    monkeypatch.setattr(queries, "made_periods", lambda *args: set())
    second = runner.run_due_briefings(at(10, 7, 9), settings, fresh_engine)
    assert (second.made, second.taken, second.summary()) == (
        [],
        3,
        "0 briefing(s) made, 3 made by another process first",
    )
    assert len(stored(fresh_engine)) == 3
    with Session(fresh_engine) as session:
        assert kept_files(settings) == set(session.scalars(select(BriefingFile.sha256)))


def test_a_failure_is_reported_and_made_up_for_next_time(
    fresh_engine: Engine, settings: Settings, schedules: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = runner.service.draw

    def failing(briefing: object, formats: object) -> object:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(runner.service, "draw", failing)
    report = runner.run_due_briefings(at(10, 6, 9), settings, fresh_engine)
    assert report.made == [] and [reason for _, _, reason in report.failed] == ["the disk is full"] * 2
    assert report.summary() == "0 briefing(s) made, 2 failed"
    monkeypatch.setattr(runner.service, "draw", drawn)
    assert len(runner.run_due_briefings(at(10, 6, 9), settings, fresh_engine).made) == 2


def test_a_schedule_deleted_while_its_briefing_is_drawn_stores_nothing(
    fresh_engine: Engine, settings: Settings, schedules: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = runner.service.draw

    def deleting(briefing: object, formats: object) -> object:
        with Session(fresh_engine) as session:
            session.execute(delete(BriefingSchedule).where(BriefingSchedule.id == schedules["daily"]))
            session.commit()
        return drawn(briefing, formats)  # type: ignore[arg-type]

    monkeypatch.setattr(runner.service, "draw", deleting)
    with Session(fresh_engine) as session:
        session.execute(delete(BriefingSchedule).where(BriefingSchedule.id == schedules["monthly"]))
        session.commit()
    report = runner.run_due_briefings(at(10, 6, 9), settings, fresh_engine)
    assert report.made == [] and report.failed == []
    with Session(fresh_engine) as session:
        assert session.scalar(select(func.count()).select_from(Briefing)) == 0


def test_without_an_engine_it_opens_the_settings_database(fresh_engine: Engine, settings: Settings) -> None:
    url = fresh_engine.url.render_as_string(hide_password=False)
    report = runner.run_due_briefings(
        datetime.fromisoformat("2026-10-06T09:00+08:00"), settings.model_copy(update={"database_url": url})
    )
    assert report.made == [] and report.summary() == "0 briefing(s) made"


def test_a_briefing_that_cannot_be_stored_leaves_no_file_behind(
    fresh_engine: Engine, settings: Settings, schedules: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusing(*args: object) -> object:
        raise OSError("the database went away")

    monkeypatch.setattr(runner.service, "record", refusing)
    report = runner.run_due_briefings(at(10, 6, 9), settings, fresh_engine)
    assert [reason for _, _, reason in report.failed] == ["the database went away"] * 2
    assert kept_files(settings) == set()


def test_the_background_job_makes_what_is_due_and_stops_when_told(
    fresh_engine: Engine, settings: Settings, schedules: dict[str, int]
) -> None:
    stop = threading.Event()
    job = threading.Thread(
        target=runner.keep_making,
        args=(fresh_engine, settings, stop),
        kwargs={"every_s": 0.05, "clock": lambda: at(10, 7, 9)},
    )
    job.start()
    try:
        deadline = time.monotonic() + 30
        while len(stored(fresh_engine)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        job.join(10)
    assert not job.is_alive()
    assert len(stored(fresh_engine)) == 3, "each due period once, however many rounds ran"
