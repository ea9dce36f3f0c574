"""The ``civicgrid`` command: serve, worker, demo, init-db, import-territory,
export-territory, create-user, import-categories, import-calendar, export-calendar,
import-orders, partner, report (briefings), backup, restore, maintain, archive-events,
api-key."""

from __future__ import annotations

import copy
import importlib.util
import logging.config
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from civicgrid.catalog import CatalogError, default_categories_path, load_categories
from civicgrid.domain.briefings import BRIEFING_KIND_LABELS, FORMAT_TYPES, BriefingFormat, BriefingKind
from civicgrid.domain.vocabulary import Role
from civicgrid.settings import Settings, get_settings
from civicgrid.store.db import is_memory_sqlite, make_engine, make_session_factory, session_scope
from civicgrid.store.maintenance import optimize
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case, Partner, Region
from civicgrid.store.partitions import maintain as maintain_partitions


class TerritoryFormat(StrEnum):
    """The file formats of export-territory."""

    GEOJSON = "geojson"
    SHAPEFILE = "shapefile"


if TYPE_CHECKING:
    from civicgrid.services.territory import TerritoryReport


app = typer.Typer(help="civicgrid: command centre for grid-based urban governance (网格化综合管理).")


def _settings() -> Settings:
    """The settings; when they are refused, one line per problem and exit 1 (no traceback)."""
    try:
        return get_settings()
    except ValidationError as error:
        for problem in error.errors():
            typer.echo(f"error: {_settings_problem(problem)}", err=True)
        raise typer.Exit(code=1) from None


def _settings_problem(problem: ErrorDetails) -> str:
    message = problem["msg"].removeprefix("Value error, ")
    if not problem["loc"]:  # a rule across fields: its message names the variable
        return message
    variable = f"CIVICGRID_{str(problem['loc'][0]).upper()}"
    return f"{variable}: {message}; set it in the environment or in .env"


def _migrated_engine(settings: Settings) -> Engine:
    engine = make_engine(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        synchronous=settings.sqlite_synchronous,
    )
    upgrade(engine)
    return engine


def _warn_if_calendar_runs_out(settings: Settings, engine: Engine, today: date | None = None) -> None:
    """Say so when the known holidays end within CIVICGRID_CALENDAR_WARNING_DAYS: deadlines
    beyond count Monday to Friday only until the next year's arrangement is loaded."""
    from civicgrid.services.calendar import centre_calendar, running_out

    with session_scope(make_session_factory(engine, read_only=True)) as session:
        calendar = centre_calendar(session, settings)
    warning = running_out(
        calendar, today or datetime.now(calendar.timezone).date(), settings.calendar_warning_days
    )
    if warning:
        typer.echo(f"warning: {warning}", err=True)


@app.command("init-db")
def init_db() -> None:
    """Create or migrate the database (CIVICGRID_DATABASE_URL) and load the default categories
    if it has none."""
    from civicgrid.services.categories import import_categories
    from civicgrid.store.models import Category

    settings = _settings()
    engine = _migrated_engine(settings)
    with session_scope(make_session_factory(engine)) as session:
        if session.scalar(select(func.count()).select_from(Category)) == 0:
            result = import_categories(session, load_categories(default_categories_path()))
            typer.echo(f"loaded the default category tree: {result.added} classes")
    maintain_partitions(engine)
    optimize(engine, after_bulk_load=True)
    typer.echo(f"database ready: {settings.database_url}")


@app.command("import-categories")
def import_categories_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="a category CSV")],
) -> None:
    """Add or update the category tree from a CSV file (columns as in the shipped default)."""
    from civicgrid.services.categories import import_categories

    settings = _settings()
    try:
        specs = load_categories(file)
    except CatalogError as error:
        typer.echo(f"{file}: {error}", err=True)
        raise typer.Exit(code=1) from None
    engine = _migrated_engine(settings)
    with session_scope(make_session_factory(engine)) as session:
        result = import_categories(session, specs)
    optimize(engine, after_bulk_load=True)
    typer.echo(
        f"{file}: {len(specs)} small classes read; {result.added} classes added, {result.updated} updated"
    )


@app.command("import-calendar")
def import_calendar_command(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="a calendar CSV: date,type,name"),
    ],
    by: Annotated[str, typer.Option(help="who loads it, as recorded with the days")] = "command line",
) -> None:
    """Load a year's holidays and adjusted workdays (调休) from a CSV file, replacing any loaded
    before for that year, and recompute the deadlines of open cases. Years the chinesecalendar
    package knows must agree with it."""
    from civicgrid.calendar_file import CalendarFileError, load_calendar
    from civicgrid.domain.errors import InvalidInput
    from civicgrid.services.calendar import store_year

    try:
        arrangement = load_calendar(file)
    except CalendarFileError as error:
        typer.echo(f"{file}: {error}; nothing loaded", err=True)
        raise typer.Exit(code=1) from None
    settings = get_settings()
    engine = _migrated_engine(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            result = store_year(session, arrangement, settings, datetime.now(UTC), loaded_by=by[:100])
    except InvalidInput as error:
        typer.echo(f"{file}: {error.detail}; nothing loaded", err=True)
        raise typer.Exit(code=1) from None
    replacing = " (replacing the earlier arrangement)" if result.replaced else ""
    typer.echo(
        f"{file}: {result.year} loaded, {result.days} days{replacing}; {result.recomputed} open cases "
        f"recomputed, {result.changed} of them with a new warning or deadline"
    )
    if result.status.known_through is not None:
        typer.echo(f"the working calendar is known until {result.status.known_through}")
    if result.status.warning:
        typer.echo(f"warning: {result.status.warning}", err=True)


@app.command("check-scheme")
def check_scheme_command(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="an evaluation scheme (TOML)")],
) -> None:
    """Check an evaluation scheme (考核方案) before the server uses it: known indicators,
    weights adding up to 100 %, step tables without overlaps or gaps, grade bands."""
    from civicgrid.domain.evaluation import SchemeError
    from civicgrid.evaluation_file import load_scheme

    try:
        scheme = load_scheme(file)
    except SchemeError as error:
        typer.echo(f"refused: {error}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"{file}: {scheme.name} (version {scheme.version}) evaluates {', '.join(scheme.targets)}")


@app.command("stats-rebuild")
def stats_rebuild_command(
    apply: Annotated[
        bool, typer.Option("--apply", help="write the recomputed facts (default: a dry run)")
    ] = False,
) -> None:
    """Recompute the statistics facts cached on every case (deadlines in force, completion
    times) from its events: after an upgrade, after loading cases by bulk, or to check that
    the cache agrees with the history. A dry run unless --apply is given."""
    from civicgrid.services.calendar import centre_rules
    from civicgrid.services.statistics import rebuild_facts

    settings = _settings()
    engine = _migrated_engine(settings)
    with session_scope(make_session_factory(engine)) as session:
        rules = centre_rules(session, settings)
        read, changed = rebuild_facts(session, rules, apply=apply)
    outcome = "rewritten" if apply else "would be rewritten (dry run: pass --apply)"
    typer.echo(f"{read} cases read; {changed} with out-of-date statistics facts {outcome}")


@app.command("export-calendar")
def export_calendar_command(
    year: Annotated[int, typer.Argument(min=2000, max=2099, help="the year, e.g. 2026")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="write here instead of to the screen"),
    ] = None,
) -> None:
    """Write a year's holidays and adjusted workdays as a calendar CSV: the arrangement loaded
    for it, else the chinesecalendar package's. An example of the format to load a new year."""
    from civicgrid.calendar_file import format_calendar
    from civicgrid.services.calendar import year_arrangement

    engine = _migrated_engine(get_settings())
    with session_scope(make_session_factory(engine)) as session:
        days = year_arrangement(session, year)
    if days is None:
        typer.echo(
            f"no arrangement of {year} is known: neither loaded nor in the chinesecalendar package", err=True
        )
        raise typer.Exit(code=1)
    if output is None:
        typer.echo(format_calendar(days), nl=False)
    else:
        output.write_text(format_calendar(days), encoding="utf-8")
        typer.echo(f"{output}: {year}, {len(days)} days")


@app.command("import-territory")
def import_territory_command(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="GeoJSON, or a zipped Shapefile"),
    ],
    check: Annotated[bool, typer.Option("--check", help="check and report only; write nothing")] = False,
    repair: Annotated[
        bool,
        typer.Option("--repair", help="fix invalid polygons and overlaps between neighbours, reporting each"),
    ] = False,
    tolerance: Annotated[
        float, typer.Option("--tolerance", min=0, max=1000, help="metres a feature may stray from its parent")
    ] = 1.0,
) -> None:
    """Load the territory (district, streets, communities, grids) from a file, updating in
    place by code; what the file no longer has is retired (if cases refer to it) or deleted.
    Any error refuses the whole file (see docs/territory.md)."""
    from civicgrid.geo.territory_file import TerritoryFileError, read_territory
    from civicgrid.services.territory import TerritoryRefused, import_territory

    settings = _settings()
    try:
        if file.stat().st_size > settings.territory_max_bytes:
            raise TerritoryFileError(
                f"the file is {file.stat().st_size} bytes, more than CIVICGRID_TERRITORY_MAX_BYTES "
                f"({settings.territory_max_bytes})"
            )
        features = read_territory(file.read_bytes(), file.name, settings.territory_max_bytes)
    except TerritoryFileError as error:
        typer.echo(f"{file}: {error}; nothing imported", err=True)
        raise typer.Exit(code=1) from None
    engine = _migrated_engine(settings)
    report: TerritoryReport
    try:
        with session_scope(make_session_factory(engine)) as session:
            report = import_territory(
                session, features, datetime.now(UTC), tolerance_m=tolerance, repair=repair, check_only=check
            )
    except TerritoryRefused as refused:
        _print_report(file, refused.report)
        raise typer.Exit(code=1) from None
    _print_report(file, report)
    if report.written:
        optimize(engine, after_bulk_load=True)


def _print_report(file: Path, report: TerritoryReport) -> None:
    """The report of an import: repairs, warnings and errors (each naming the feature), then
    the summary."""
    for repair in report.repairs:
        typer.echo(f"{file}: repaired {repair}")
    for warning in report.warnings:
        typer.echo(f"{file}: warning: {warning}", err=True)
    for error in report.errors:
        typer.echo(f"{file}: error: {error}", err=True)
    typer.echo(f"{file}: {report.summary()}", err=bool(report.errors))


@app.command("export-territory")
def export_territory_command(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", dir_okay=False, help="write here instead of to the screen")
    ] = None,
    file_format: Annotated[
        TerritoryFormat, typer.Option("--format", help="geojson, or shapefile (a zip; needs --out)")
    ] = TerritoryFormat.GEOJSON,
) -> None:
    """Write the territory in use (retired regions and grids left out) as a file that
    import-territory reads back unchanged."""
    from civicgrid.geo.territory_file import write_geojson, write_shapefile_zip
    from civicgrid.services.territory import export_features

    if file_format is TerritoryFormat.SHAPEFILE and out is None:
        typer.echo("error: a Shapefile is a zip: give --out FILE", err=True)
        raise typer.Exit(code=1)
    engine = _migrated_engine(_settings())
    with session_scope(make_session_factory(engine, read_only=True)) as session:
        features = export_features(session)
    data = (
        write_shapefile_zip(features) if file_format is TerritoryFormat.SHAPEFILE else write_geojson(features)
    )
    if out is None:
        typer.echo(data.decode("utf-8"))
        return
    out.write_bytes(data)
    typer.echo(f"{out}: {len(features)} regions and grids")


@app.command("create-user")
def create_user_command(
    username: Annotated[str, typer.Argument(help="the name to sign in with")],
    role: Annotated[Role, typer.Option(help="the user's role")],
    region: Annotated[
        str | None, typer.Option(help="the code of the region they work in (their scope)")
    ] = None,
    department: Annotated[str | None, typer.Option(help="the code of their department (handlers)")] = None,
    grid: Annotated[str | None, typer.Option(help="the code of their grid (inspectors)")] = None,
    full_name: Annotated[str | None, typer.Option(help="their name as shown (default: the username)")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input, not a prompt")
    ] = False,
) -> None:
    """Create a user, e.g. a centre's first admin after importing its territory. The password
    is typed at a prompt (twice) or read from standard input; a weak one is refused."""
    from civicgrid.domain.errors import DomainError
    from civicgrid.schemas import UserIn
    from civicgrid.services.auth import hash_password, weak_password
    from civicgrid.services.directory import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    problem = weak_password(password)
    if problem:
        typer.echo(f"error: {problem}; no user created", err=True)
        raise typer.Exit(code=1)
    try:
        data = UserIn(
            username=username,
            full_name=full_name or username,
            password=password,
            role=role,
            region_code=region,
            department_code=department,
            grid_code=grid,
        )
    except ValidationError as error:
        for found in error.errors():
            typer.echo(f"error: {'.'.join(map(str, found['loc']))}: {found['msg']}", err=True)
        raise typer.Exit(code=1) from None
    password_hash = hash_password(password)
    engine = _migrated_engine(_settings())
    try:
        with session_scope(make_session_factory(engine)) as session:
            user = create_user(session, None, data, password_hash)
            scope = user.department.code if user.department else user.region.code if user.region else "none"
    except DomainError as error:
        typer.echo(f"error: {error.detail}; no user created", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"created {role.value} {username} (scope: {scope})")


#: The import string of the app factory that each server worker process calls.
APP_FACTORY = "civicgrid.api.app:create_app_from_environment"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="server processes (default: one per CPU core; 1: a single process)"),
    ] = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker",
            help="no background jobs here (outbox, minute job, scheduled briefings): run civicgrid worker instead",
        ),
    ] = False,
) -> None:
    """Start the API server (migrating the database first) and, unless --no-worker, the
    background jobs beside it: the outbox sender, the minute job (lights and alerts) and the
    scheduled briefings."""
    settings = _settings()
    engine = _migrated_engine(settings)
    _serve_with_jobs(settings, engine, host, port, workers, jobs_wanted=not no_worker)


def _serve_with_jobs(
    settings: Settings, engine: Engine, host: str, port: int, workers: int | None, jobs_wanted: bool
) -> None:
    """Serve, with the background jobs (outbox sender, minute job, scheduled briefings) beside the server
    if asked; they stop with the server."""
    from civicgrid import jobs

    started = jobs.start_all(engine, settings) if jobs_wanted else []
    try:
        _serve(settings, engine, host, port, workers)
    finally:  # the server has stopped: so do its jobs
        jobs.stop_all(started, settings)


def log_config() -> dict[str, Any]:
    """uvicorn's logging, and beside it the application's own log (``civicgrid.*``, INFO and
    up) on stderr: the outbox's logging SMS and e-mail senders (the default, and the demo's)
    write each message there, the portal's verification codes included."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["civicgrid"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@app.command()
def worker() -> None:
    """Deliver the outbox (webhooks, SMS, e-mail), run the minute job (lights turning yellow
    or red, and their alerts) and make the scheduled briefings until stopped (Ctrl-C or
    SIGTERM). One sender and one minute job are active at a time; a second worker waits on
    standby and takes over when the first stops."""
    import signal
    import threading

    from civicgrid import jobs

    settings = _settings()
    engine = _migrated_engine(settings)
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    typer.echo(
        f"civicgrid worker: delivering the outbox of {engine.url.render_as_string(hide_password=True)}"
        f" and re-evaluating lights every {settings.light_job_seconds:g} s"
    )
    logging.config.dictConfig(log_config())
    started = jobs.start_all(engine, settings, stop, daemon=False)
    try:
        while not stop.wait(1.0):
            ended = [thread.name for thread, _ in started if not thread.is_alive()]
            if ended:  # a job failed: the others stop with it, and so does the worker
                typer.echo(f"civicgrid worker: {', '.join(ended)} ended unexpectedly", err=True)
                raise typer.Exit(1)
    finally:
        jobs.stop_all(started, settings)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    typer.echo("civicgrid worker: stopped")


@app.command("import-orders")
def import_orders_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="a work-order spreadsheet: xlsx or CSV"
        ),
    ],
    partner: Annotated[
        str | None, typer.Option(help="the partner's code (default: the only partner configured)")
    ] = None,
    column_map: Annotated[
        Path | None,
        typer.Option(
            "--map", exists=True, dir_okay=False, help="a column map CSV (default: the shipped one)"
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="a dry run: say what each row would do, store nothing")
    ] = False,
) -> None:
    """Import the work orders of a 12345 platform's spreadsheet, all or nothing: each row
    becomes a case (or is recognised as one received before, by its order number); any bad
    row is named with its line and reason, and then nothing is stored."""
    from civicgrid.exchange.spreadsheet import (
        SpreadsheetError,
        default_column_map_path,
        import_orders,
        load_column_map,
    )
    from civicgrid.services.calendar import centre_rules

    settings = _settings()
    engine = _migrated_engine(settings)
    session = make_session_factory(engine)()
    try:
        found = _partner(session, partner)
        report = import_orders(
            session,
            found,
            file,
            load_column_map(column_map or default_column_map_path()),
            centre_rules(session, settings),
            datetime.now(UTC),
        )
        for row in report.rows:
            where = f"line {row.line}" + (f" ({row.order_number})" if row.order_number else "")
            if row.outcome == "error":
                typer.echo(f"{file}, {where}: {row.detail}", err=True)
            elif check:
                verb = (
                    "would become a new case"
                    if row.outcome == "created"
                    else f"is case {row.case_number} already"
                )
                typer.echo(f"{where}: {verb}")
        summary = (
            f"{len(report.rows)} rows: {report.count('created')} new, {report.count('duplicate')} received before, "
            f"{len(report.errors)} bad"
        )
        if report.errors:
            session.rollback()
            typer.echo(f"{file}: {summary}; nothing imported", err=True)
            raise typer.Exit(code=1)
        if check:
            session.rollback()
            typer.echo(f"{file}: {summary} (dry run: nothing stored)")
            return
        session.commit()
        typer.echo(f"{file}: {summary}; imported for partner {found.code}")
    except SpreadsheetError as error:
        session.rollback()
        typer.echo(f"error: {error}; nothing imported", err=True)
        raise typer.Exit(code=1) from None
    finally:
        session.close()
    optimize(engine, after_bulk_load=True)


def _partner(session: Session, code: str | None) -> Partner:
    """The partner named, or the only one configured; one line and exit 1 otherwise."""
    partners = list(session.scalars(select(Partner).order_by(Partner.code)))
    chosen = [p for p in partners if code is None or p.code == code]
    if len(chosen) != 1:
        known = ", ".join(p.code for p in partners) or "none (add one with civicgrid partner add)"
        problem = f"no partner '{code}'" if code is not None else "name the partner with --partner"
        typer.echo(f"error: {problem}; partners: {known}", err=True)
        raise typer.Exit(code=1)
    return chosen[0]


partner_app = typer.Typer(
    help="Partners: the 12345 platform and upper-level systems that exchange work orders."
)
app.add_typer(partner_app, name="partner")


@partner_app.command("add")
def partner_add(
    code: Annotated[str, typer.Argument(help="a short code, e.g. 12345-city")],
    name: Annotated[str, typer.Argument(help="the name, e.g. 市12345政务服务便民热线")],
    webhook_url: Annotated[str | None, typer.Option(help="where reports of its cases go")] = None,
    secret: Annotated[
        str | None, typer.Option(help="the shared secret (32+ characters; default: generated)")
    ] = None,
    channel: Annotated[str, typer.Option(help="hotline_12345 or upper_level")] = "hotline_12345",
    region: Annotated[str | None, typer.Option(help="region code of its unplaceable orders' queue")] = None,
    category_map: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="CSV name,category_code: its categories → small classes"
        ),
    ] = None,
) -> None:
    """Add a partner and print its shared secret (shown this once)."""
    import csv

    from civicgrid.domain.errors import DomainError
    from civicgrid.exchange.partners import create_partner
    from civicgrid.exchange.schemas import PartnerIn

    mapping: dict[str, str] = {}
    if category_map is not None:
        with category_map.open(encoding="utf-8-sig", newline="") as handle:
            mapping = {
                row[0].strip(): row[1].strip()
                for row in csv.reader(handle)
                if len(row) >= 2 and row[0].strip()
            }
        mapping.pop("name", None)
    settings = _settings()
    try:
        data = PartnerIn(
            code=code,
            name=name,
            webhook_url=webhook_url,
            secret=secret,
            channel=channel,  # type: ignore[arg-type]
            region_code=region,
            category_map=mapping,
        )
    except ValidationError as error:
        for problem in error.errors():
            typer.echo(f"error: {'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}", err=True)
        raise typer.Exit(code=1) from None
    engine = _migrated_engine(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            created = create_partner(session, None, data, datetime.now(UTC))
    except DomainError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"partner {created.code} ({created.name}) added; its orders enter on {created.channel.value}")
    typer.echo(f"shared secret (shown once): {created.secret}")


@partner_app.command("list")
def partner_list() -> None:
    """The partners: code, name, channel, webhook, whether active."""
    from civicgrid.exchange.partners import list_partners

    engine = _migrated_engine(_settings())
    with session_scope(make_session_factory(engine, read_only=True)) as session:
        for found in list_partners(session, None):
            state = "active" if found.is_active else "inactive"
            typer.echo(
                f"{found.code}\t{found.name}\t{found.channel.value}\t{found.webhook_url or '-'}\t{state}"
            )


def _worker_count(engine: Engine, workers: int | None) -> int:
    """``workers``, by default one per CPU core; one for an in-memory SQLite database, which
    each process would have to itself."""
    if is_memory_sqlite(engine.url):
        return 1
    return workers or os.cpu_count() or 1


def _fast_loop_options() -> dict[str, str]:
    """uvloop's event loop and the httptools parser where they are installed (not Windows)."""
    options: dict[str, str] = {}
    if importlib.util.find_spec("uvloop"):
        options["loop"] = "uvloop"
    if importlib.util.find_spec("httptools"):
        options["http"] = "httptools"
    return options


#: How long a stopping server waits for open requests (live streams among them).
SHUTDOWN_GRACE_SECONDS = 10


def _serve(settings: Settings, engine: Engine, host: str, port: int, workers: int | None = 1) -> None:
    import uvicorn

    from civicgrid.api.app import create_app

    _warn_if_calendar_runs_out(settings, engine)
    maintain_partitions(engine)
    optimize(engine)
    count = _worker_count(engine, workers)
    typer.echo(
        f"civicgrid on http://{host}:{port}  (API docs: http://{host}:{port}/docs), "
        f"{count} worker process{'es' if count > 1 else ''}"
    )
    options: dict[str, object] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "log_config": log_config(),
        # Live streams stay open until the client or the server ends them: at shutdown they
        # are cut after this long (browsers reconnect to the next server and catch up).
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_SECONDS,
        **_fast_loop_options(),
    }
    if count == 1:
        uvicorn.run(create_app(settings, engine), **options)
        return
    # Each worker is a fresh process that builds its own settings and engine from the
    # environment; the schema was migrated here, once.
    engine.dispose()
    uvicorn.run(APP_FACTORY, factory=True, workers=count, **options)


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve", help="start the server once loaded")] = False,
    cases: Annotated[int, typer.Option(min=0, max=5000, help="how many demo cases")] = 300,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same district)")] = 20261124,
    host: Annotated[str, typer.Option(help="address to listen on with --serve")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on with --serve")] = 8000,
    with_published_passwords: Annotated[
        bool,
        typer.Option(
            "--with-published-passwords",
            help="load the demo outside development all the same, with its published password",
        ),
    ] = False,
) -> None:
    """Load the demo district (江滨街道: communities, 20+25 grids, departments, users of every
    role, a few hundred cases in every state and light), unless the database has cases.
    Outside development it refuses unless --with-published-passwords is given."""
    from civicgrid.demo import DEMO_PASSWORD, load_demo
    from civicgrid.services.calendar import centre_rules

    settings = _settings()
    if settings.environment != "development" and not with_published_passwords:
        typer.echo(
            f"refused: CIVICGRID_ENVIRONMENT is {settings.environment}, and the demo creates staff "
            f"accounts (admin included) whose password '{DEMO_PASSWORD}' is published; "
            "pass --with-published-passwords to load it anyway",
            err=True,
        )
        raise typer.Exit(code=1)
    engine = _migrated_engine(settings)
    with session_scope(make_session_factory(engine)) as session:
        if session.scalar(select(func.count()).select_from(Case)):
            typer.echo("the database already holds cases: demo data not loaded again")
        else:
            summary = load_demo(session, centre_rules(session, settings), datetime.now(UTC), cases, seed)
            typer.echo(summary)
            typer.echo(
                f"demo users sign in with password '{DEMO_PASSWORD}' (e.g. dispatcher, operator, handler_cg)"
            )
    maintain_partitions(engine)
    optimize(engine, after_bulk_load=True)
    if serve_after:
        # With the background jobs, as `civicgrid serve`: the demo's SMS (the portal's
        # verification codes) are written to the log.
        _serve_with_jobs(settings, engine, host, port, 1, jobs_wanted=True)


def _month_option(option: str, value: str | None) -> date | None:
    """A YYYY-MM option as its first day; exit 1 with the reason when it is no month."""
    from civicgrid.store.partitions import parse_month

    try:
        return None if value is None else parse_month(value)
    except ValueError as error:
        typer.echo(f"error: {option}: {error}", err=True)
        raise typer.Exit(code=1) from None


@app.command()
def maintain(
    since: Annotated[
        str | None,
        typer.Option(help="PostgreSQL: also create the partitions of every month from this one, YYYY-MM"),
    ] = None,
) -> None:
    """Upkeep to run monthly (cron): on PostgreSQL create the coming months' partitions of
    the case history and move events out of the default partition; refresh the planner's
    statistics. --since brings archived months back (then pg_restore --data-only their dumps)."""
    settings = _settings()
    first = _month_option("--since", since)
    engine = _migrated_engine(settings)
    try:
        done = maintain_partitions(engine, since=first)
        optimize(engine, after_bulk_load=True)
    finally:
        engine.dispose()
    if engine.dialect.name == "postgresql":
        created = ", ".join(done.created) or "none"
        typer.echo(
            f"history partitions created: {created}; events moved out of the default partition: {done.moved}"
        )
    typer.echo("planner statistics refreshed")


@app.command("archive-events")
def archive_events(
    before: Annotated[str, typer.Option(help="archive every month before this one, YYYY-MM")],
    folder: Annotated[
        Path, typer.Option("--to", exists=True, file_okay=False, writable=True, help="folder for the dumps")
    ],
) -> None:
    """PostgreSQL: move whole months of case history out of the live database: each month's
    partition is dumped with pg_dump -Fc to FOLDER/case_events_YYYY_MM.dump, then detached
    and dropped. Refused while a case with events in that month is still open."""
    from civicgrid.store.archive import archive_months

    settings = _settings()
    month = _month_option("--before", before)
    engine = _migrated_engine(settings)
    with _one_line_errors():
        try:
            archived = archive_months(engine, month, folder)
        finally:
            engine.dispose()
    for item in archived:
        typer.echo(f"{item.month:%Y-%m}: {item.events} events archived to {item.dump}")
    if not archived:
        typer.echo(f"no month before {before} left to archive")


report_app = typer.Typer(
    help="Briefings (日报/周报/月报): make one now as PDF, xlsx or HTML, or the scheduled ones that are due."
)
app.add_typer(report_app, name="report")

DayOption = Annotated[
    str | None,
    typer.Option(
        "--date", help="a day in the period, e.g. 2026-11-25 (default: yesterday; not in the future)"
    ),
]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="the region's code (default: the district, the top region)")
]
FormatOption = Annotated[
    BriefingFormat | None,
    typer.Option("--format", help="pdf, xlsx or html (default: from the ending of --out, else pdf)"),
]
OutOption = Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help="the file to write")]
TitleOption = Annotated[
    str | None, typer.Option("--title", help="a masthead other than CIVICGRID_BRIEFING_TITLE")
]


@report_app.command("daily")
def report_daily(
    out: OutOption,
    day: DayOption = None,
    region: RegionOption = None,
    file_format: FormatOption = None,
    title: TitleOption = None,
) -> None:
    """The daily briefing (日报) of a day: by default yesterday."""
    _report(BriefingKind.DAILY, day, region, file_format, out, title)


@report_app.command("weekly")
def report_weekly(
    out: OutOption,
    day: DayOption = None,
    region: RegionOption = None,
    file_format: FormatOption = None,
    title: TitleOption = None,
) -> None:
    """The weekly briefing (周报) of the week (Monday to Sunday) that holds the day."""
    _report(BriefingKind.WEEKLY, day, region, file_format, out, title)


@report_app.command("monthly")
def report_monthly(
    out: OutOption,
    day: DayOption = None,
    region: RegionOption = None,
    file_format: FormatOption = None,
    title: TitleOption = None,
) -> None:
    """The monthly briefing (月报) of the month that holds the day."""
    _report(BriefingKind.MONTHLY, day, region, file_format, out, title)


def _report(
    kind: BriefingKind,
    day_text: str | None,
    region_code: str | None,
    file_format: BriefingFormat | None,
    out: Path,
    title: str | None,
) -> None:
    """Make a briefing with the whole view of its region (the command line is the centre's
    own) and write it to ``out``; nothing is stored."""
    from civicgrid.briefings.content import BriefingRequest
    from civicgrid.briefings.pdf import PdfUnavailable
    from civicgrid.domain.errors import DomainError
    from civicgrid.evaluation_file import default_scheme_path, load_scheme
    from civicgrid.services.briefings import generate, masthead, system_reader
    from civicgrid.services.calendar import centre_rules

    try:
        day = date.fromisoformat(day_text) if day_text else None
    except ValueError:
        typer.echo(f"error: --date {day_text!r} is not a day like 2026-11-25; nothing written", err=True)
        raise typer.Exit(code=1) from None
    chosen = file_format or next(
        (kind for kind, (_, ending) in FORMAT_TYPES.items() if out.suffix.lower() == ending),
        BriefingFormat.PDF,
    )
    settings = _settings()
    engine = _migrated_engine(settings)
    try:
        scheme = load_scheme(
            Path(settings.evaluation_scheme) if settings.evaluation_scheme else default_scheme_path()
        )
        with session_scope(make_session_factory(engine, read_only=True)) as session:
            region = _briefing_region(session, region_code)
            document = generate(
                session,
                system_reader(region),
                BriefingRequest(kind, day, region.code, title),
                chosen,
                datetime.now(UTC),
                zone=centre_rules(session, settings).calendar.timezone,
                scheme=scheme,
                heading=masthead(settings),
            )
            name = region.name
        out.write_bytes(document.data)
    except DomainError as error:
        typer.echo(f"error: {error.detail}; nothing written", err=True)
        raise typer.Exit(code=1) from None
    except (PdfUnavailable, OSError) as error:
        typer.echo(f"error: {error}; nothing written", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"{out}: {name}{BRIEFING_KIND_LABELS[kind]} ({chosen.value}, {len(document.data):,} bytes)")


def _briefing_region(session: Session, code: str | None) -> Region:
    """The region named, or the only top region (the district)."""
    from civicgrid.domain.errors import InvalidInput
    from civicgrid.store.lookups import by_code

    if code is not None:
        return by_code(session, Region, code)
    roots = session.scalars(select(Region).where(Region.parent_id.is_(None)).limit(2)).all()
    if len(roots) != 1:
        raise InvalidInput(
            "the territory has no region yet"
            if not roots
            else "there are several districts: say --region CODE"
        )
    return roots[0]


@report_app.command("run-due")
def report_run_due(
    at: Annotated[
        str | None,
        typer.Option("--at", help="run as if it were this moment (ISO 8601 with a zone; default: now)"),
    ] = None,
) -> None:
    """Make and store the scheduled briefings that are due (each once, even when several
    processes run this at the same time): for cron, e.g. every 10 minutes, or a worker."""
    from civicgrid.briefings.runner import run_due_briefings

    try:
        now = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError:
        now = None
    if now is None or now.tzinfo is None:
        typer.echo(f"error: --at {at!r} is not a moment with its zone, like 2026-12-01T08:00+08:00", err=True)
        raise typer.Exit(code=1)
    settings = _settings()
    report = run_due_briefings(now, settings, _migrated_engine(settings))
    for made in report.made:
        typer.echo(
            f"schedule {made.schedule_id}: {made.region_code} {BRIEFING_KIND_LABELS[made.kind]} "
            f"{made.period_label} stored as briefing {made.briefing_id} ({', '.join(made.formats)})"
        )
    for schedule_id, label, reason in report.failed:
        typer.echo(f"schedule {schedule_id}: {label} failed: {reason}", err=True)
    typer.echo(report.summary())
    if report.failed:
        raise typer.Exit(code=1)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Refusals and file-system errors end the command with one line, not a traceback."""
    from civicgrid.store.backup import BackupError

    try:
        yield
    except (BackupError, OSError, sqlite3.Error) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="the backup file to write")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace FILE if it exists")] = False,
) -> None:
    """Back up the database while the server keeps running. SQLite: a consistent snapshot,
    checked with integrity_check. PostgreSQL: pg_dump -Fc (pg_dump must be on PATH)."""
    from civicgrid.store.backup import backup_sqlite, dump_postgresql, sqlite_file

    url = _settings().database_url
    with _one_line_errors():
        if not url.startswith("sqlite"):
            size = dump_postgresql(url, file, overwrite=overwrite)
            typer.echo(f"pg_dump -Fc wrote {file} ({size} bytes); restore it with pg_restore")
            return
        snapshot = backup_sqlite(sqlite_file(url), file, overwrite=overwrite)
    typer.echo(
        f"backed up to {file}: integrity ok, schema {snapshot.revision}, "
        f"{snapshot.cases} cases, {snapshot.events} events"
    )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="a backup made by civicgrid backup")],
    force: Annotated[bool, typer.Option("--force", help="replace a database that holds cases")] = False,
) -> None:
    """Replace the SQLite database with a backup (stop the server first): check the file,
    move it into place in one rename, migrate it, and replay every case's history."""
    from civicgrid.store.backup import restore_sqlite, sqlite_file
    from civicgrid.store.history import check_history

    settings = _settings()
    if not settings.database_url.startswith("sqlite"):
        typer.echo("error: restore works on SQLite; restore PostgreSQL with pg_restore", err=True)
        raise typer.Exit(code=1)
    with _one_line_errors():
        database = sqlite_file(settings.database_url)
        snapshot = restore_sqlite(file, database, force=force)
    engine = make_engine(settings.database_url)
    with make_session_factory(engine, read_only=True)() as session:
        check = check_history(session)
    engine.dispose()
    typer.echo(f"restored {file} into {database}: {check.cases} cases, {check.events} events")
    if (check.cases, check.events) != (snapshot.cases, snapshot.events):
        typer.echo(
            f"error: the backup held {snapshot.cases} cases and {snapshot.events} events, "
            f"the restored database {check.cases} and {check.events}",
            err=True,
        )
        raise typer.Exit(code=1)
    for mismatch in check.mismatches:
        typer.echo(f"{mismatch.number}: cached state {mismatch.cached}, its events give {mismatch.replayed}")
    if check.mismatches:
        typer.echo(f"error: {len(check.mismatches)} cases do not replay to their cached state", err=True)
        raise typer.Exit(code=1)
    typer.echo("every case replays to its cached state")


def _add_report_commands() -> None:
    from civicgrid.cli_reports import evaluation_app, export_app

    app.add_typer(evaluation_app, name="evaluation")
    app.add_typer(export_app, name="export")


_add_report_commands()


if __name__ == "__main__":
    app()


api_key_app = typer.Typer(help="API keys of outside systems (Open311 clients): create, list, revoke.")
app.add_typer(api_key_app, name="api-key")


@contextmanager
def _refusals() -> Iterator[None]:
    """A refusal of the centre's rules ends the command with its reason on one line."""
    from civicgrid.domain.errors import DomainError

    try:
        yield
    except DomainError as error:
        typer.echo(f"error: {error.detail}", err=True)
        raise typer.Exit(code=1) from None


@api_key_app.command("create")
def api_key_create(
    name: Annotated[str, typer.Argument(help="who uses the key, e.g. 随手拍App")],
    region: Annotated[
        str | None, typer.Option(help="the region code it reports in (default: the only top region)")
    ] = None,
    channel: Annotated[str, typer.Option(help="the channel its cases come in by")] = "third_party",
    by: Annotated[str, typer.Option(help="who issues it, as recorded with the key")] = "command line",
) -> None:
    """Issue an API key and print it once: only its hash is stored."""
    from civicgrid.domain.vocabulary import Channel
    from civicgrid.services.api_keys import issue_key

    settings = _settings()
    try:
        chosen = Channel(channel)
    except ValueError:
        typer.echo(f"error: unknown channel {channel!r} ({', '.join(c.value for c in Channel)})", err=True)
        raise typer.Exit(code=1) from None
    engine = _migrated_engine(settings)
    with _refusals(), session_scope(make_session_factory(engine)) as session:
        row, key = issue_key(
            session,
            None,
            name,
            region_code=region,
            channel=chosen,
            secret_key=settings.secret_key,
            now=datetime.now(UTC),
            issued_by=by,
        )
        region_code = row.region.code
    typer.echo(
        f"API key '{name}' for region {region_code}, channel {chosen.value} (shown once, keep it safe):"
    )
    typer.echo(key)


@api_key_app.command("list")
def api_key_list() -> None:
    """The keys issued, newest first (never the keys themselves)."""
    from civicgrid.store.models import ApiKey

    engine = _migrated_engine(_settings())
    with session_scope(make_session_factory(engine, read_only=True)) as session:
        for row in session.scalars(select(ApiKey).order_by(ApiKey.id.desc())):
            state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "live"
            typer.echo(f"{row.name}\t{row.prefix}…\t{row.region.code}\t{row.channel.value}\t{state}")


@api_key_app.command("revoke")
def api_key_revoke(name: Annotated[str, typer.Argument(help="the key's name")]) -> None:
    """Revoke a key: it authenticates no request from now on."""
    from civicgrid.services.api_keys import revoke_key

    engine = _migrated_engine(_settings())
    with _refusals(), session_scope(make_session_factory(engine)) as session:
        revoke_key(session, None, name, datetime.now(UTC))
    typer.echo(f"API key '{name}' revoked")
