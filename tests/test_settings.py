"""Settings refuse what is unsafe or malformed, and say which variable is at fault."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from civicgrid.settings import Settings

SECRET = "x" * 40


def test_development_runs_on_defaults() -> None:
    settings = Settings(environment="development")
    assert settings.database_url.startswith("sqlite") and settings.calendar().workday_seconds == 27000


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"environment": "production", "database_url": "postgresql+psycopg://db/cg"}, "CIVICGRID_SECRET_KEY"),
        ({"environment": "test", "secret_key": "short"}, "CIVICGRID_SECRET_KEY"),
        ({"environment": "production", "secret_key": SECRET}, "PostgreSQL"),
        ({"working_periods": "13:00-12:00"}, "13:00-12:00"),
        ({"timezone": "Mars/Olympus"}, "Mars/Olympus"),
        ({"warning_ratio": 1.5}, "warning_ratio"),
        ({"case_number_prefix": "jd-1"}, "case_number_prefix"),
        ({"max_body_bytes": 100}, "max_body_bytes"),
        ({"working_periods": "8-12"}, "CIVICGRID_WORKING_PERIODS"),
        ({"max_extension_days": 0}, "max_extension_days"),
        ({"calendar_warning_days": -1}, "calendar_warning_days"),
        ({"login_max_failures": 0}, "login_max_failures"),
        ({"login_lockout_minutes": 0}, "login_lockout_minutes"),
        ({"sms_backend": "http"}, "CIVICGRID_SMS_HTTP_URL"),
        ({"sms_backend": "pigeon"}, "sms_backend"),
        ({"outbox_retry_base_seconds": 0}, "outbox_retry_base_seconds"),
        ({"portal_code_length": 3}, "portal_code_length"),
        ({"portal_code_attempts": 0}, "portal_code_attempts"),
        ({"map_tile_url": "https://tile.example/{z}/{x}.png"}, "lacks"),
        ({"map_tile_url": "ftp://tile.example/{z}/{x}/{y}.png"}, "path on this server"),
        ({"map_tile_url": "//tile.example/{z}/{x}/{y}.png"}, "path on this server"),
        ({"map_tile_url": "https://tile.example/{z}/{x}/{y}.png; script-src *"}, "no place in a tile URL"),
        ({"map_tile_crs": "bd09"}, "map_tile_crs"),
        ({"web_max_photos": 0}, "web_max_photos"),
    ],
)
def test_unsafe_or_malformed_settings_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**fields)  # type: ignore[arg-type]


def test_production_on_postgresql_with_a_real_secret_is_accepted() -> None:
    settings = Settings(
        environment="production", secret_key=SECRET, database_url="postgresql+psycopg://db/cg"
    )
    assert settings.environment == "production"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICGRID_WORKING_PERIODS", "09:00-12:00,14:00-18:00")
    monkeypatch.setenv("CIVICGRID_CASE_NUMBER_PREFIX", "WG")
    monkeypatch.setenv("CIVICGRID_LOGIN_MAX_FAILURES", "3")
    settings = Settings()
    assert settings.case_number_prefix == "WG" and settings.calendar().workday_seconds == 7 * 3600
    assert (settings.login_max_failures, settings.login_max_failures_per_address) == (3, 20)


def test_a_bad_evaluation_scheme_stops_the_server_at_start(tmp_path: Path) -> None:
    from civicgrid.api.app import create_app
    from civicgrid.domain.evaluation import SchemeError

    path = tmp_path / "scheme.toml"
    path.write_text('name = "x"\nversion = "1"\n[grades]\nA = 0\n', encoding="utf-8")
    settings = Settings(
        environment="test",
        database_url="sqlite://",
        secret_key="test-only-secret-" * 3,
        evaluation_scheme=str(path),
    )
    with pytest.raises(SchemeError, match="evaluates nothing"):
        create_app(settings)


def test_a_briefing_logo_must_be_an_image_file(tmp_path: Path) -> None:
    from civicgrid.api.app import create_app
    from civicgrid.domain.errors import UnsupportedFile

    with pytest.raises(ValidationError, match="is not a file"):
        Settings(briefing_logo=str(tmp_path / "missing.png"))
    notes = tmp_path / "logo.png"
    notes.write_text("our logo", encoding="utf-8")
    settings = Settings(
        environment="test",
        database_url="sqlite://",
        secret_key="test-only-secret-" * 3,
        briefing_logo=str(notes),
    )
    with pytest.raises(UnsupportedFile, match="not a photo"):
        create_app(settings)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"database_url": "sqlite:////srv/civicgrid/civicgrid.db"}, "/srv/civicgrid/civicgrid-files"),
        ({"database_url": "sqlite:///civicgrid.db"}, "civicgrid-files"),
        ({"database_url": "sqlite://"}, "civicgrid-files"),
        ({"database_url": "postgresql+psycopg://db/cg"}, "civicgrid-files"),
        ({"upload_dir": "/data/files"}, "/data/files"),
    ],
)
def test_uploaded_files_are_kept_beside_the_sqlite_database_unless_told(
    fields: dict[str, str], expected: str
) -> None:
    assert str(Settings(**fields).files_path) == expected


def test_a_tile_url_is_kept_as_given() -> None:
    url = "https://webrd0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}"
    settings = Settings(map_tile_url=f" {url} ", map_tile_crs="gcj02", map_tile_subdomains="1234")
    assert settings.map_tile_url == url and Settings(map_tile_url="/tiles/{z}/{x}/{y}.png").map_tile_url
