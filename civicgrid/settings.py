"""The centre's settings, read from ``CIVICGRID_*`` environment variables or a ``.env`` file
(see ``civicgrid.env.example``). Insecure defaults are refused outside development."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from civicgrid.domain.calendar import WorkCalendar

DEVELOPMENT_SECRET = "development-only-secret-change-me"


class Settings(BaseSettings):
    """Everything that differs between one centre's installation and another's."""

    model_config = SettingsConfigDict(env_prefix="CIVICGRID_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///civicgrid.db"
    secret_key: str = DEVELOPMENT_SECRET
    token_hours: int = Field(default=12, ge=1, le=24 * 30)
    case_number_prefix: str = Field(default="JD", pattern=r"^[A-Z]{1,6}$")
    timezone: str = "Asia/Shanghai"
    working_periods: str = "08:30-12:00,13:30-17:30"
    warning_ratio: float = Field(default=0.8, gt=0, lt=1)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0, le=60_000)
    #: FULL: an acknowledged write is on disk. NORMAL: faster; a power cut may lose the last commits.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    #: Read replicas (streaming standbys of the PostgreSQL primary), comma-separated URLs.
    database_replica_urls: str = ""
    #: A replica further behind than this is not read from (the primary answers instead).
    replica_max_lag_seconds: float = Field(default=5.0, gt=0, le=3600)

    @property
    def replica_urls(self) -> list[str]:
        """The read replicas' URLs, in order."""
        return [url.strip() for url in self.database_replica_urls.split(",") if url.strip()]

    #: The evaluation scheme (考核方案), a TOML file; empty: the shipped default.
    evaluation_scheme: str = ""

    #: Requests one server process works on at once (0: no limit); the others wait their
    #: turn, at most ``admission_wait_ms`` (see ``civicgrid.api.admission``).
    admitted_requests: int = Field(default=2, ge=0, le=1000)
    admission_wait_ms: int = Field(default=250, ge=0, le=60_000)

    #: Requests with a larger body are refused (413) before it is read.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: A territory file (GeoJSON or zipped Shapefile, unpacked) may be at most this large; the
    #: API's territory import takes bodies up to it in place of ``max_body_bytes``.
    territory_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    #: Uploaded photos and files larger than this are refused (413) while they stream in.
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, le=1024**3)
    #: Where uploaded files are kept (named by their SHA-256, never by the name a user gave);
    #: empty: the folder ``civicgrid-files`` beside the SQLite database (or in the working
    #: directory with PostgreSQL).
    upload_dir: str = ""
    #: The longer side of a photo's thumbnail, in pixels.
    thumbnail_pixels: int = Field(default=400, ge=32, le=2000)
    #: The duplicate hint at intake: open cases of the same category in the same grid or
    #: within this distance, registered in the last so many days.
    duplicate_radius_m: float = Field(default=100, gt=0, le=10_000)
    duplicate_days: int = Field(default=7, ge=1, le=366)

    @property
    def files_path(self) -> Path:
        """The folder of uploaded files (see ``upload_dir``)."""
        if self.upload_dir:
            return Path(self.upload_dir)
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(url.database).parent / "civicgrid-files"
        return Path("civicgrid-files")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA timezone name such as 'Asia/Shanghai'") from None
        return value

    max_extension_days: int = Field(default=365, ge=1, le=3660)
    calendar_warning_days: int = Field(default=60, ge=0, le=366)
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_address: int = Field(default=20, ge=1, le=100_000)
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    #: How long the audit of sign-in attempts is kept; older rows are deleted a few at a time.
    login_audit_days: int = Field(default=365, ge=1, le=10 * 366)
    #: A case whose point lies outside every grid and region: ``refuse`` it (422, give a
    #: region), or put it in the queue of the ``district`` nearest to it.
    outside_territory: Literal["refuse", "district"] = "refuse"
    #: The most case points one map request returns (the newest first; more is flagged truncated).
    map_case_limit: int = Field(default=5000, ge=1, le=100_000)
    #: A page session unused this long is signed out (its token lives at most token_hours).
    web_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    #: Where ``npm ci`` installed the pages' front-end libraries; empty: ``node_modules``
    #: beside the source tree (a checkout installed with ``pip install -e .``).
    web_assets_dir: str = ""
    #: How many photos one form of the pages (intake, an action) may carry at most.
    web_max_photos: int = Field(default=9, ge=1, le=50)
    #: The small maps' background tiles: a URL template with {z}, {x}, {y} (and optionally
    #: {s}), absolute (http/https) or a path on this server; empty: the grids' polygons on a
    #: plain background, and nothing is fetched from elsewhere.
    map_tile_url: str = Field(default="", max_length=500)
    #: How the tiles are drawn: wgs84 (OpenStreetMap, 天地图's _w layers) or gcj02 (高德,
    #: 腾讯). Points and polygons are shifted to the tiles' system before they are drawn.
    map_tile_crs: Literal["wgs84", "gcj02"] = "wgs84"
    #: What {s} in the tile URL takes, one character each (e.g. "1234" for 高德).
    map_tile_subdomains: str = Field(default="abc", max_length=20, pattern=r"^[0-9A-Za-z]*$")
    #: The credit the tile provider asks for, shown in a corner of the map (HTML allowed).
    map_tile_attribution: str = Field(default="", max_length=300)

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        if not (
            value.startswith(("https://", "http://"))
            or (value.startswith("/") and not value.startswith("//"))
        ):
            raise ValueError(
                f"{value!r}: give an http(s) URL or a path on this server, e.g. https://tile.example/{{z}}/{{x}}/{{y}}.png"
            )
        missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
        if missing:
            raise ValueError(
                f"{value!r} lacks {', '.join(missing)}: the tile URL needs {{z}}, {{x}} and {{y}}"
            )
        if any(c in value for c in " \"'<>;"):
            raise ValueError(f"{value!r}: spaces, quotes, angle brackets and ';' have no place in a tile URL")
        return value

    #: Open311: the requests one API key may make per minute (per server process).
    open311_rate_limit: int = Field(default=600, ge=1, le=1_000_000)
    #: Open311: this centre's jurisdiction_id; a request naming another is refused (404).
    open311_jurisdiction_id: str = Field(default="civicgrid.local", min_length=1, max_length=100)
    #: Open311: who to contact about the endpoint, as the discovery document says.
    open311_contact: str = Field(default="网格化综合管理中心", max_length=300)

    #: The outbox sender: first retry after this many seconds, doubling up to the maximum.
    outbox_retry_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    outbox_retry_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 24 * 3600)
    #: How often an idle sender looks for new messages, and a standby one for the lock.
    outbox_poll_seconds: float = Field(default=2.0, gt=0, le=600)
    #: How long one delivery (an HTTP call, an SMTP session) may take.
    outbox_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    #: SMS: ``log`` writes each message to the log; ``http`` posts it to an SMS gateway.
    sms_backend: Literal["log", "http"] = "log"
    sms_http_url: str = ""
    sms_http_token: str = ""
    #: E-mail: ``log`` writes each message to the log; ``smtp`` sends it through a server.
    email_backend: Literal["log", "smtp"] = "log"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    email_from: str = "civicgrid@localhost"
    #: A partner's signed request is refused when its timestamp is further from now than this.
    exchange_max_clock_skew_seconds: int = Field(default=300, ge=1, le=3600)
    #: The masthead of the briefings (日报/周报/月报); a schedule may give its own.
    briefing_title: str = Field(default="网格化综合管理工作简报", min_length=1, max_length=200)
    #: An image file (PNG, JPEG or WebP) printed beside the masthead; empty: no logo.
    briefing_logo: str = ""

    @field_validator("briefing_logo")
    @classmethod
    def _logo_exists(cls, value: str) -> str:
        if value and not Path(value).is_file():
            raise ValueError(f"{value!r} is not a file: give the path of a PNG, JPEG or WebP image")
        return value

    #: The citizens' portal at /portal: report without an account, follow a case, rate it,
    #: the public map of open problems.
    portal_enabled: bool = True
    #: Verification codes sent by SMS: their digits, minutes valid, wrong tries before spent.
    portal_code_length: int = Field(default=6, ge=4, le=8)
    portal_code_minutes: int = Field(default=5, ge=1, le=60)
    portal_code_attempts: int = Field(default=5, ge=1, le=20)
    #: Codes one phone may be sent (one per interval, at most so many an hour), and one
    #: client address may ask for in an hour (all phones together).
    portal_code_interval_seconds: int = Field(default=60, ge=0, le=3600)
    portal_codes_per_phone_hour: int = Field(default=5, ge=1, le=100)
    portal_codes_per_address_hour: int = Field(default=20, ge=1, le=100_000)
    #: How long a verified phone's portal session lasts (not renewed by use).
    portal_session_minutes: int = Field(default=30, ge=5, le=24 * 60)
    #: Failed lookups (number and phone that match no case) per client address, and per case
    #: number, within 15 minutes; one more locks lookups there for 15 minutes.
    portal_lookup_max_failures: int = Field(default=10, ge=1, le=10_000)
    #: Photos one report may carry (each at most max_upload_bytes).
    portal_max_photos: int = Field(default=3, ge=0, le=9)
    #: The region whose system user registers the portal's cases; empty: the only top region.
    portal_region_code: str = Field(default="", max_length=32)
    #: The public map shows each open case at the centre of a square of this many metres.
    portal_map_cell_m: int = Field(default=200, ge=50, le=5000)

    #: The live stream (GET /live/events): a heartbeat comment this often, so that proxies
    #: keep an idle connection open.
    live_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    #: How long one connection lasts; the browser then reconnects with its Last-Event-ID
    #: (a revoked or expired sign-in, or a new scope, takes effect at the latest then).
    live_connection_seconds: float = Field(default=300.0, gt=0, le=24 * 3600)
    #: SQLite: how often each server process reads the journal for changes that other
    #: processes wrote (its own it reads at once). PostgreSQL uses LISTEN/NOTIFY instead.
    live_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    #: How many journal entries a reconnecting client may have missed before it is told to
    #: reload (``event: reset``) rather than replay them.
    live_replay_limit: int = Field(default=2000, ge=1, le=100_000)
    #: How long journal entries are kept (the minute job deletes older ones).
    live_journal_hours: float = Field(default=24.0, gt=0, le=24 * 31)
    #: The minute job: re-evaluates the lights of open cases this often and notifies the
    #: users concerned of each that turned yellow or red (one job across all processes).
    light_job_seconds: float = Field(default=60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.environment != "development" and (
            self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "CIVICGRID_SECRET_KEY must be 32+ random characters outside development: set it to the "
                "output of python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.environment == "production" and self.database_url.startswith("sqlite"):
            raise ValueError(
                "production runs on PostgreSQL: set CIVICGRID_DATABASE_URL to a postgresql+psycopg:// URL"
            )
        if self.replica_urls and not self.database_url.startswith("postgresql"):
            raise ValueError("CIVICGRID_DATABASE_REPLICA_URLS needs a PostgreSQL CIVICGRID_DATABASE_URL")
        if any(not url.startswith("postgresql") for url in self.replica_urls):
            raise ValueError("CIVICGRID_DATABASE_REPLICA_URLS: each must be a postgresql+psycopg:// URL")
        if self.sms_backend == "http" and not self.sms_http_url.startswith(("http://", "https://")):
            raise ValueError(
                "CIVICGRID_SMS_BACKEND=http needs CIVICGRID_SMS_HTTP_URL, the gateway's http(s) URL"
            )
        try:
            WorkCalendar.from_text(self.working_periods, self.timezone)
        except ValueError as error:
            raise ValueError(f"CIVICGRID_WORKING_PERIODS: {error}") from None
        return self

    def calendar(self, days: Mapping[date, bool] | None = None) -> WorkCalendar:
        """The working calendar these settings describe, with the centre's loaded ``days``
        (date → worked) if given."""
        return replace(WorkCalendar.from_text(self.working_periods, self.timezone), days=days or {})


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
