"""The territory and first users at the command line: import-territory, export-territory
and create-user, on a real SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from civicgrid.cli import app
from civicgrid.domain.vocabulary import DepartmentFunction, DepartmentLevel
from civicgrid.services.auth import password_matches
from civicgrid.settings import get_settings
from civicgrid.store.db import make_engine, make_session_factory
from civicgrid.store.lookups import user_by_username
from civicgrid.store.models import Department, Region
from tests.geo.territory_data import encoded, malformed_files, small_territory, spoiled

runner = CliRunner()
EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "territory.geojson"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    monkeypatch.setenv("CIVICGRID_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def write(tmp_path: Path, document: object, name: str = "t.geojson") -> str:
    path = tmp_path / name
    path.write_bytes(encoded(document))
    return str(path)


def test_the_documented_example_imports_and_exports_back(database: str, tmp_path: Path) -> None:
    assert json.loads(EXAMPLE.read_text(encoding="utf-8")) == small_territory()
    checked = runner.invoke(app, ["import-territory", str(EXAMPLE), "--check"])
    assert checked.exit_code == 0, checked.output
    assert "9 features checked, nothing written: regions 4 added" in checked.output
    result = runner.invoke(app, ["import-territory", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "9 features stored: regions 4 added, 0 updated" in result.output
    exported = runner.invoke(app, ["export-territory"])
    assert exported.exit_code == 0
    codes = [f["properties"]["code"] for f in json.loads(exported.stdout)["features"]]
    assert codes[:4] == ["990201", "990201001", "990201001001", "990201001002"]  # regions top down
    assert codes[4:] == sorted(f["properties"]["code"] for f in small_territory()["features"][4:])
    out = tmp_path / "t.zip"
    zipped = runner.invoke(app, ["export-territory", "--out", str(out), "--format", "shapefile"])
    assert zipped.exit_code == 0 and "9 regions and grids" in zipped.output
    again = runner.invoke(app, ["import-territory", str(out)])
    assert "regions 0 added, 0 updated, 4 unchanged" in again.output


def test_a_refused_file_exits_1_naming_each_fault(database: str, tmp_path: Path) -> None:
    path = write(tmp_path, spoiled(4, parent="nowhere", kind="special"))
    result = runner.invoke(app, ["import-territory", path])
    assert result.exit_code == 1
    assert f"{path}: error: feature 4 (990201001001-01): unknown kind 'special'" in result.output
    assert f"{path}: error: feature 4 (990201001001-01): unknown parent 'nowhere'" in result.output
    assert "refused: 2 errors in 9 features; nothing was changed" in result.output
    exported = runner.invoke(app, ["export-territory"])
    assert json.loads(exported.stdout)["features"] == []


def test_repairs_and_warnings_are_printed(database: str, tmp_path: Path) -> None:
    from tests.geo.territory_data import box

    document = spoiled(5, geometry=box(121.409, 31.20, 121.42, 31.21))
    result = runner.invoke(
        app, ["import-territory", write(tmp_path, document), "--repair", "--tolerance", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "repaired feature 4 (990201001001-01): overlap with '990201001001-02'" not in result.output
    assert "repaired feature 5 (990201001001-02): overlap with '990201001001-01'" in result.output
    assert "warning: feature 2 (990201001001): its comprehensive grids leave" in result.output


def test_a_malformed_file_exits_1(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cut.geojson"
    path.write_bytes(encoded(small_territory())[:200])
    result = runner.invoke(app, ["import-territory", str(path)])
    assert (
        result.exit_code == 1
        and "not valid JSON at line 1" in result.output
        and "nothing imported" in result.output
    )
    monkeypatch.setenv("CIVICGRID_TERRITORY_MAX_BYTES", "1024")
    get_settings.cache_clear()
    result = runner.invoke(app, ["import-territory", write(tmp_path, small_territory())])
    assert result.exit_code == 1 and "more than CIVICGRID_TERRITORY_MAX_BYTES (1024)" in result.output


@pytest.mark.parametrize("which", list(malformed_files()))
def test_a_malformed_file_exits_1_naming_the_fault_and_changes_nothing(
    database: str, tmp_path: Path, which: str
) -> None:
    assert runner.invoke(app, ["import-territory", str(EXAMPLE)]).exit_code == 0
    before = runner.invoke(app, ["export-territory"]).stdout
    malformed = malformed_files()[which]
    path = tmp_path / malformed.name
    path.write_bytes(malformed.data)
    result = runner.invoke(app, ["import-territory", str(path)])
    assert result.exit_code == 1
    assert malformed.expected in result.output and "nothing imported" in result.output
    assert runner.invoke(app, ["export-territory"]).stdout == before


def test_a_shapefile_export_needs_a_file(database: str) -> None:
    result = runner.invoke(app, ["export-territory", "--format", "shapefile"])
    assert result.exit_code == 1 and "give --out FILE" in result.output


# --- first users ----------------------------------------------------------------------------


def test_the_first_admin_is_created_after_the_territory(database: str) -> None:
    runner.invoke(app, ["import-territory", str(EXAMPLE)])
    result = runner.invoke(
        app,
        [
            "create-user",
            "chief",
            "--role",
            "admin",
            "--region",
            "990201",
            "--full-name",
            "王主任",
            "--password-stdin",
        ],
        input="Centre-2026-secret\n",
    )
    assert result.exit_code == 0, result.output
    assert "created admin chief (scope: 990201)" in result.output
    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        chief = user_by_username(session, "chief")
        assert chief is not None and chief.full_name == "王主任" and chief.region is not None
        assert password_matches(chief.password_hash, "Centre-2026-secret")
    engine.dispose()
    again = runner.invoke(
        app,
        ["create-user", "chief", "--role", "admin", "--region", "990201", "--password-stdin"],
        input="Another-pw-1\n",
    )
    assert again.exit_code == 1 and "username 'chief' is taken; no user created" in again.output


def test_the_password_is_asked_twice_at_the_prompt(database: str) -> None:
    runner.invoke(app, ["import-territory", str(EXAMPLE)])
    result = runner.invoke(
        app,
        [
            "create-user",
            "inspector1",
            "--role",
            "inspector",
            "--region",
            "990201001001",
            "--grid",
            "990201001001-01",
        ],
        input="Patrol-2026-ok\nPatrol-2026-ok\n",
    )
    assert result.exit_code == 0, result.output
    assert "created inspector inspector1 (scope: 990201001001)" in result.output


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Short-1", "at least 10 characters"),
        ("abcdefghijkl", "two classes"),
        ("123456789012", "two classes"),
    ],
)
def test_a_weak_password_is_refused(database: str, password: str, expected: str) -> None:
    result = runner.invoke(
        app, ["create-user", "x1", "--role", "citizen", "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code == 1 and expected in result.output and "no user created" in result.output


def test_a_wrong_placement_or_name_is_refused(database: str) -> None:
    result = runner.invoke(
        app,
        ["create-user", "chief", "--role", "admin", "--region", "nowhere", "--password-stdin"],
        input="Good-password-1\n",
    )
    assert result.exit_code == 1 and "unknown region code 'nowhere'" in result.output
    result = runner.invoke(
        app, ["create-user", "bad name!", "--role", "citizen", "--password-stdin"], input="Good-password-1\n"
    )
    assert result.exit_code == 1 and "error: username:" in result.output
    result = runner.invoke(
        app, ["create-user", "citizen1", "--role", "citizen", "--password-stdin"], input="Good-password-1\n"
    )
    assert result.exit_code == 0 and "created citizen citizen1 (scope: none)" in result.output


def test_a_handler_is_created_in_a_department(database: str) -> None:
    runner.invoke(app, ["import-territory", str(EXAMPLE)])
    engine = make_engine(database)
    with make_session_factory(engine)() as session:
        street = session.scalars(select(Region).where(Region.code == "990201001")).one()
        session.add(
            Department(
                code="D-SZ",
                name="江滨市政所",
                function=DepartmentFunction.MUNICIPAL,
                level=DepartmentLevel.STREET,
                region=street,
            )
        )
        session.commit()
    arguments = ["create-user", "handler1", "--role", "handler", "--region", "990201001", "--password-stdin"]
    result = runner.invoke(app, [*arguments, "--department", "D-SZ"], input="Pipes-2026-fixed\n")
    assert result.exit_code == 0, result.output
    with make_session_factory(engine)() as session:
        handler = user_by_username(session, "handler1")
        assert handler is not None and handler.department is not None and handler.department.code == "D-SZ"
    unknown = runner.invoke(
        app, [arguments[0], "handler2", *arguments[2:], "--department", "D-XX"], input="Pipes-2026-fixed\n"
    )
    assert unknown.exit_code == 1 and "unknown department code 'D-XX'" in unknown.output
    engine.dispose()


@pytest.mark.parametrize("file_format", ["geojson", "shapefile"])
def test_the_demo_territory_exports_and_imports_back_unchanged(
    database: str, tmp_path: Path, file_format: str
) -> None:
    demo = runner.invoke(app, ["demo", "--cases", "5"])
    assert demo.exit_code == 0, demo.output
    out = tmp_path / ("demo.zip" if file_format == "shapefile" else "demo.geojson")
    exported = runner.invoke(app, ["export-territory", "--out", str(out), "--format", file_format])
    assert exported.exit_code == 0, exported.output
    result = runner.invoke(app, ["import-territory", str(out)])
    assert result.exit_code == 0, result.output
    assert "regions 0 added, 0 updated, 8 unchanged" in result.output, result.output
    assert "grids 0 added, 0 updated, 47 unchanged" in result.output, result.output
    again = runner.invoke(
        app, ["export-territory", "--out", str(tmp_path / "again"), "--format", file_format]
    )
    assert again.exit_code == 0, again.output
    assert (tmp_path / "again").read_bytes() == out.read_bytes()
