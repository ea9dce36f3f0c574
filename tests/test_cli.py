"""The command line on a real SQLite file: init-db, import-categories, demo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from typer.testing import CliRunner

from civicgrid.cli import app
from civicgrid.settings import get_settings
from civicgrid.store.db import make_engine, make_session_factory
from civicgrid.store.models import Case, Category

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    monkeypatch.setenv("CIVICGRID_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


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
