"""The command line on a real SQLite file: init-db, import-categories, demo, serve, and the
working calendar (import-calendar, export-calendar)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from civicgrid.cli import app
from civicgrid.domain.clock import STAGE_OF_STATE
from civicgrid.settings import get_settings
from civicgrid.store.db import make_engine, make_session_factory
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import CalendarDay, Case, Category

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    monkeypatch.setenv("CIVICGRID_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def analysed_indexes(url: str) -> set[str]:
    """Indexes of which SQLite's planner has statistics (sqlite_stat1)."""
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
        return {name for (name,) in connection.execute("SELECT idx FROM sqlite_stat1")}


def count(url: str, model: type[Case] | type[Category]) -> int:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        total = session.scalar(select(func.count()).select_from(model)) or 0
    engine.dispose()
    return total


def test_init_db_migrates_and_loads_the_default_categories_once(database: str) -> None:
    first = runner.invoke(app, ["init-db"])
    assert first.exit_code == 0, first.output
    assert "loaded the default category tree" in first.output
    classes = count(database, Category)
    assert classes > 60
    again = runner.invoke(app, ["init-db"])
    assert again.exit_code == 0 and "loaded" not in again.output
    assert count(database, Category) == classes


def test_import_categories_adds_and_updates(database: str, tmp_path: Path) -> None:
    from civicgrid.catalog import COLUMNS

    header = ",".join(COLUMNS)
    row = "E10,街面秩序(本地),E1001,夜市占道,event,urban_management,收摊复原,1h,30min,2wh,4wh,,,,"
    good = tmp_path / "ours.csv"
    good.write_text(f"{header}\n{row}\n", encoding="utf-8")
    result = runner.invoke(app, ["import-categories", str(good)])
    assert result.exit_code == 0, result.output
    assert "1 small classes read; 2 classes added, 0 updated" in result.output
    result = runner.invoke(app, ["import-categories", str(good)])
    assert "0 classes added, 1 updated" in result.output


def test_a_bad_category_file_names_the_line_and_changes_nothing(database: str, tmp_path: Path) -> None:
    from civicgrid.catalog import COLUMNS

    runner.invoke(app, ["init-db"])
    before = count(database, Category)
    header = ",".join(COLUMNS)
    good = "E10,本地,E1001,夜市占道,event,urban_management,收摊复原,1h,30min,2wh,4wh,,,,"
    bad = "E10,本地,E1002,夜市噪声,event,urban_management,停止噪声,1h,30min,soon,4wh,,,,"
    path = tmp_path / "bad.csv"
    path.write_text(f"{header}\n{good}\n{bad}\n", encoding="utf-8")
    result = runner.invoke(app, ["import-categories", str(path)])
    assert result.exit_code == 1
    assert "line 3" in result.output and "handle_limit" in result.output and "soon" in result.output
    assert count(database, Category) == before


def test_demo_loads_once(database: str) -> None:
    result = runner.invoke(app, ["demo", "--cases", "40"])
    assert result.exit_code == 0, result.output
    assert "civicgrid-demo" in result.output
    assert count(database, Case) == 40
    assert "ix_cases_state_created_at_id" in analysed_indexes(database), "the bulk load leaves statistics"
    again = runner.invoke(app, ["demo", "--cases", "40"])
    assert "already holds cases" in again.output
    assert count(database, Case) == 40


@pytest.mark.parametrize("environment", ["test", "production"])
def test_demo_refuses_outside_development_unless_forced(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.setenv("CIVICGRID_ENVIRONMENT", environment)
    monkeypatch.setenv("CIVICGRID_SECRET_KEY", "a-real-secret-of-at-least-32-characters")
    if environment == "production":
        # Production runs on PostgreSQL: nothing may connect to it, so the port is closed.
        monkeypatch.setenv("CIVICGRID_DATABASE_URL", "postgresql+psycopg://centre@127.0.0.1:1/civicgrid")
    get_settings.cache_clear()
    result = runner.invoke(app, ["demo", "--cases", "5"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"refused: CIVICGRID_ENVIRONMENT is {environment}")
    assert "--with-published-passwords" in lines[0] and "civicgrid-demo" in lines[0]
    assert not (tmp_path / "centre.db").exists()  # not even migrated
    if environment == "test":
        forced = runner.invoke(app, ["demo", "--cases", "5", "--with-published-passwords"])
        assert forced.exit_code == 0, forced.output
        assert count(database, Case) == 5


@pytest.mark.parametrize("command", ["serve", "init-db", "demo", "import-categories"])
def test_refused_settings_print_one_line_and_exit_non_zero(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("CIVICGRID_ENVIRONMENT", "production")
    arguments = [command]
    if command == "import-categories":
        arguments.append(str(tmp_path / "ours.csv"))
        (tmp_path / "ours.csv").write_text("", encoding="utf-8")
    result = runner.invoke(app, arguments)
    assert result.exit_code == 1 and not isinstance(result.exception, ValidationError), result.exception
    [line] = result.output.splitlines()
    assert line.startswith("error: CIVICGRID_SECRET_KEY must be 32+ random characters"), line
    assert "secrets.token_urlsafe" in line


def test_a_malformed_variable_is_named(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICGRID_MAX_BODY_BYTES", "ten")
    result = runner.invoke(app, ["init-db"])
    assert result.exit_code == 1 and not isinstance(result.exception, ValidationError), result.exception
    assert result.output == (
        "error: CIVICGRID_MAX_BODY_BYTES: Input should be a valid integer, unable to parse string as an "
        "integer; set it in the environment or in .env\n"
    )


# --- the working calendar -----------------------------------------------------------------

#: Made up for testing (测试假日): no 2027 arrangement is published yet.
TEST_2027 = (
    "date,type,name\n2027-01-01,holiday,测试假日\n2027-01-04,holiday,测试假日\n2027-01-09,workday,测试调休\n"
)


def calendar_rows(url: str) -> list[tuple[date, bool, str, str]]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(CalendarDay).order_by(CalendarDay.day)).all()
        found = [(row.day, row.is_workday, row.name, row.loaded_by) for row in rows]
    engine.dispose()
    return found


def test_export_calendar_writes_the_packages_year_which_imports_back(database: str, tmp_path: Path) -> None:
    shown = runner.invoke(app, ["export-calendar", "2026"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("date,type,name\n2026-01-01,holiday,元旦\n")
    path = tmp_path / "2026.csv"
    written = runner.invoke(app, ["export-calendar", "2026", "--output", str(path)])
    assert written.exit_code == 0 and f"{path}: 2026, 39 days" in written.output
    assert path.read_text(encoding="utf-8") == shown.output
    loaded = runner.invoke(app, ["import-calendar", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "2026 loaded, 39 days; 0 open cases recomputed" in loaded.output
    assert len(calendar_rows(database)) == 39


def test_export_calendar_invents_nothing(database: str) -> None:
    result = runner.invoke(app, ["export-calendar", "2027"])
    assert result.exit_code == 1
    assert (
        "no arrangement of 2027 is known: neither loaded nor in the chinesecalendar package" in result.output
    )


def test_import_calendar_loads_a_year_and_recomputes_open_cases(database: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["demo", "--cases", "30"]).exit_code == 0
    path = tmp_path / "2027.csv"
    path.write_text(TEST_2027, encoding="utf-8")
    result = runner.invoke(app, ["import-calendar", str(path), "--by", "王管理员"])
    assert result.exit_code == 0, result.output
    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        running = session.scalar(select(func.count()).select_from(Case).where(Case.state.in_(STAGE_OF_STATE)))
    engine.dispose()
    assert running and f"2027 loaded, 3 days; {running} open cases recomputed" in result.output
    assert "the working calendar is known until 2027-12-31" in result.output
    assert calendar_rows(database)[0] == (date(2027, 1, 1), False, "测试假日", "王管理员")
    again = runner.invoke(app, ["import-calendar", str(path)])
    assert "2027 loaded, 3 days (replacing the earlier arrangement)" in again.output
    assert calendar_rows(database)[0][3] == "command line"
    assert runner.invoke(app, ["export-calendar", "2027"]).output == TEST_2027


def test_a_bad_or_disagreeing_calendar_file_is_refused_and_nothing_is_loaded(
    database: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(TEST_2027 + "2027-01-11,workday,测试\n", encoding="utf-8")
    result = runner.invoke(app, ["import-calendar", str(bad)])
    assert result.exit_code == 1
    assert (
        "line 5: 2027-01-11 is a Monday, worked anyway" in result.output and "nothing loaded" in result.output
    )
    assert runner.invoke(app, ["export-calendar", "2026"]).exit_code == 0
    shifted = tmp_path / "2026.csv"
    shifted.write_text(
        runner.invoke(app, ["export-calendar", "2026"]).output.replace(
            "2026-10-10,workday", "2026-10-11,workday"
        )
    )
    result = runner.invoke(app, ["import-calendar", str(shifted)])
    assert result.exit_code == 1
    assert (
        "disagrees with the chinesecalendar package on whether these days are worked: 2026-10-10, 2026-10-11"
        in result.output
    )
    assert calendar_rows(database) == []


def test_the_server_warns_at_start_up_when_the_calendar_runs_out(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from civicgrid import cli

    settings = get_settings()
    engine = make_engine(database)
    upgrade(engine)
    cli._warn_if_calendar_runs_out(settings, engine, today=date(2026, 11, 25))
    warning = capsys.readouterr().err
    assert warning.startswith(
        "warning: the working calendar knows holidays and adjusted workdays (调休) only until 2026-12-31"
    )
    assert "civicgrid import-calendar FILE" in warning and "pip" not in warning
    cli._warn_if_calendar_runs_out(settings, engine, today=date(2026, 6, 1))
    assert capsys.readouterr().err == ""
    engine.dispose()
    started: list[str] = []
    monkeypatch.setattr(
        cli, "_warn_if_calendar_runs_out", lambda _settings, _engine: started.append("warned")
    )
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.append("served"))
    assert runner.invoke(app, ["serve"]).exit_code == 0
    assert started == ["warned", "served"]


def served_with(
    monkeypatch: pytest.MonkeyPatch, *arguments: str
) -> tuple[tuple[object, ...], dict[str, object]]:
    """What ``civicgrid serve ARGUMENTS`` hands to uvicorn."""
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append((args, kwargs)))
    result = runner.invoke(app, ["serve", *arguments])
    assert result.exit_code == 0, result.output
    assert len(calls) == 1
    return calls[0]


def test_serve_starts_one_worker_per_core_by_default(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    args, options = served_with(monkeypatch)
    assert args == ("civicgrid.api.app:create_app_from_environment",)
    assert options["factory"] is True and options["workers"] == 3
    assert options["loop"] == "uvloop" and options["http"] == "httptools"
    assert options["timeout_graceful_shutdown"] == 10  # open live streams do not hold a stop
    _args, options = served_with(monkeypatch, "--workers", "2")
    assert options["workers"] == 2


def test_serve_with_one_worker_runs_the_app_in_this_process(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi import FastAPI

    args, options = served_with(monkeypatch, "--workers", "1")
    assert isinstance(args[0], FastAPI) and "workers" not in options
    assert runner.invoke(app, ["serve", "--workers", "0"]).exit_code == 2


def test_an_in_memory_database_is_served_by_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICGRID_DATABASE_URL", "sqlite://")
    get_settings.cache_clear()
    try:
        _args, options = served_with(monkeypatch, "--workers", "4")
    finally:
        get_settings.cache_clear()
    assert "workers" not in options


def test_without_uvloop_and_httptools_uvicorn_picks_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from civicgrid import cli

    monkeypatch.setattr("importlib.util.find_spec", lambda _name: None)
    assert cli._fast_loop_options() == {}


def test_each_worker_builds_the_app_from_the_environment(database: str) -> None:
    from civicgrid.api.app import create_app_from_environment

    upgrade(engine := make_engine(database))
    engine.dispose()
    built = create_app_from_environment()
    assert str(built.state.engine.url) == database
    built.state.engine.dispose()


def test_stats_rebuild_is_a_dry_run_until_applied(database: str) -> None:
    assert runner.invoke(app, ["demo", "--cases", "30"]).exit_code == 0
    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        # Facts as a bulk load leaves them: none.
        session.execute(update(Case).values(registered_at=None, handled_at=None, handle_deadline_at=None))
        session.commit()
    result = runner.invoke(app, ["stats-rebuild"])
    assert result.exit_code == 0, result.output
    assert "30 cases read;" in result.output and "dry run" in result.output
    stale = int(result.output.split("; ")[1].split()[0])
    assert stale > 0
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).where(Case.registered_at.is_not(None))) == 0
    applied = runner.invoke(app, ["stats-rebuild", "--apply"])
    assert f"{stale} with out-of-date statistics facts rewritten" in applied.output
    assert "; 0 with out-of-date" in runner.invoke(app, ["stats-rebuild"]).output
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).where(Case.registered_at.is_not(None))) == stale
    engine.dispose()


def test_check_scheme_names_the_mistake(tmp_path: Path) -> None:
    from civicgrid.evaluation_file import default_scheme_path

    good = runner.invoke(app, ["check-scheme", str(default_scheme_path())])
    assert good.exit_code == 0 and "evaluates department, street, dispatcher" in good.output
    bad = tmp_path / "scheme.toml"
    bad.write_text(
        default_scheme_path().read_text(encoding="utf-8").replace("weight = 10", "weight = 15"), "utf-8"
    )
    refused = runner.invoke(app, ["check-scheme", str(bad)])
    assert refused.exit_code == 1 and "weights add up to 105 %, not 100 %" in refused.output
