"""The ``civicgrid`` command: serve, demo, init-db, import-categories, import-calendar,
export-calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine, func, select

from civicgrid.catalog import CatalogError, default_categories_path, load_categories
from civicgrid.settings import Settings, get_settings
from civicgrid.store.db import make_engine, make_session_factory, session_scope
from civicgrid.store.migrate import upgrade
from civicgrid.store.models import Case

app = typer.Typer(help="civicgrid: command centre for grid-based urban governance (网格化综合管理).")


def _migrated_engine(settings: Settings) -> Engine:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine


def _warn_if_calendar_runs_out(settings: Settings, engine: Engine, today: date | None = None) -> None:
    """Say so when the known holidays end within CIVICGRID_CALENDAR_WARNING_DAYS: deadlines
    beyond count Monday to Friday only until the next year's arrangement is loaded."""
    from civicgrid.services.calendar import centre_calendar, running_out

    with session_scope(make_session_factory(engine)) as session:
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

    settings = get_settings()
    engine = _migrated_engine(settings)
    with session_scope(make_session_factory(engine)) as session:
        if session.scalar(select(func.count()).select_from(Category)) == 0:
            result = import_categories(session, load_categories(default_categories_path()))
            typer.echo(f"loaded the default category tree: {result.added} classes")
    typer.echo(f"database ready: {settings.database_url}")


@app.command("import-categories")
def import_categories_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="a category CSV")],
) -> None:
    """Add or update the category tree from a CSV file (columns as in the shipped default)."""
    from civicgrid.services.categories import import_categories

    try:
        specs = load_categories(file)
    except CatalogError as error:
        typer.echo(f"{file}: {error}", err=True)
        raise typer.Exit(code=1) from None
    engine = _migrated_engine(get_settings())
    with session_scope(make_session_factory(engine)) as session:
        result = import_categories(session, specs)
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Start the API server (migrating the database first)."""
    settings = get_settings()
    _serve(settings, _migrated_engine(settings), host, port)


def _serve(settings: Settings, engine: Engine, host: str, port: int) -> None:
    import uvicorn

    from civicgrid.api.app import create_app

    _warn_if_calendar_runs_out(settings, engine)
    typer.echo(f"civicgrid on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="info")


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve", help="start the server once loaded")] = False,
    cases: Annotated[int, typer.Option(min=0, max=5000, help="how many demo cases")] = 300,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same district)")] = 20261124,
    host: Annotated[str, typer.Option(help="address to listen on with --serve")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on with --serve")] = 8000,
) -> None:
    """Load the demo district (江滨街道: communities, 20+25 grids, departments, users of every
    role, a few hundred cases in every state and light), unless the database has cases."""
    from civicgrid.demo import DEMO_PASSWORD, load_demo
    from civicgrid.services.calendar import centre_rules

    settings = get_settings()
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
    if serve_after:
        _serve(settings, engine, host, port)


if __name__ == "__main__":
    app()
