"""The ``civicgrid evaluation`` and ``civicgrid export`` commands: publish, list and show
published evaluations; write a case list, a statistics table or an evaluation as a CSV or
xlsx file. Each runs as a named user, with that user's role and scope, as the API does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session

from civicgrid.domain.errors import DomainError
from civicgrid.domain.indicators import Period, PeriodKind
from civicgrid.exports.formats import Column, ExportFormat, Value, write
from civicgrid.store.models import User

if TYPE_CHECKING:
    from civicgrid.domain.evaluation import Scheme
    from civicgrid.services.cases import CentreRules

evaluation_app = typer.Typer(help="Publish (freeze) evaluations and read the published versions.")
export_app = typer.Typer(help="Write a case list, a statistics table or an evaluation as CSV or xlsx.")

By = Annotated[str, typer.Option("--by", help="the publishing leader's username (recorded as publisher)")]
As = Annotated[str, typer.Option("--as", help="run as this user: their role and scope apply")]
RegionOption = Annotated[str | None, typer.Option("--region", help="the region's code (default: the user's)")]
FormatOption = Annotated[ExportFormat, typer.Option("--format", help="csv or xlsx")]
OutOption = Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help="the file to write")]


@contextmanager
def _session(*, write_access: bool = False) -> Iterator[Session]:
    """A session on the migrated database; a refusal ends the command with its reason."""
    from civicgrid.cli import _migrated_engine, _settings
    from civicgrid.store.db import make_session_factory, session_scope

    engine = _migrated_engine(_settings())
    try:
        with session_scope(make_session_factory(engine, read_only=not write_access)) as session:
            yield session
    except DomainError as error:
        typer.echo(
            f"refused: {error.detail}; {'nothing stored' if write_access else 'nothing written'}", err=True
        )
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()


def _user(session: Session, username: str) -> User:
    from civicgrid.store.lookups import user_by_username

    user = user_by_username(session, username)
    if user is None or not user.is_active:
        typer.echo(f"refused: no active user '{username}'", err=True)
        raise typer.Exit(code=1)
    return user


def _context(session: Session) -> tuple[Scheme, CentreRules]:
    """The centre's scheme and rules, as the server loads them."""
    from civicgrid.cli import _settings
    from civicgrid.evaluation_file import default_scheme_path, load_scheme
    from civicgrid.services.calendar import centre_rules

    settings = _settings()
    scheme = load_scheme(
        Path(settings.evaluation_scheme) if settings.evaluation_scheme else default_scheme_path()
    )
    return scheme, centre_rules(session, settings)


def _now() -> datetime:
    """The time a command runs at."""
    return datetime.now(UTC)


# --- civicgrid evaluation ----------------------------------------------------------------


@evaluation_app.command("publish")
def publish_command(
    kind: Annotated[
        str, typer.Argument(help="department, street, community, dispatcher, inspector, operator")
    ],
    period: Annotated[str, typer.Argument(help="a finished period: 2026-10, 2026-Q4 or 2026")],
    by: By,
    region: RegionOption = None,
    note: Annotated[str, typer.Option(help="why this version is published")] = "",
) -> None:
    """Publish (freeze) the evaluation of a finished period as its next version. Only a
    leader publishes, within their region; a later version lists what changed."""
    from civicgrid.services.publication import publish

    with _session(write_access=True) as session:
        scheme, rules = _context(session)
        done = publish(
            session,
            _user(session, by),
            scheme,
            kind,
            period,
            region,
            _now(),
            rules.calendar.timezone,
            note[:500],
        )
        row = done.row
        typer.echo(
            f"published {row.kind} {row.period_key} ({row.period_label}) for {row.region.code} "
            f"{row.region.name}: version {row.version}, {len(row.result)} ranked, "
            f"scheme {row.scheme_name} {row.scheme_version} ({row.scheme_digest[:12]})"
        )
        if done.changes is not None:
            _print_changes(done.changes)


def _print_changes(changes: object) -> None:
    from civicgrid.domain.publication import Changes

    assert isinstance(changes, Changes)
    if changes.scheme_changed:
        typer.echo("the scheme differs from the version before")
    for unit in changes.units:
        delta = f" ({unit.value_delta:+.2f})" if unit.value_delta is not None else ""
        typer.echo(
            f"  {unit.change} {unit.key} {unit.label}: rank {unit.rank_before} → {unit.rank_after}, "
            f"value {unit.value_before} → {unit.value_after}{delta}, grade {unit.grade_before} → {unit.grade_after}"
        )
        for item in unit.items:
            typer.echo(
                f"    {item.label}: {item.figure_before} → {item.figure_after}, "
                f"score {item.score_before} → {item.score_after}"
            )
    typer.echo(f"  {changes.unchanged} unchanged")


@evaluation_app.command("list")
def list_command(
    kind: Annotated[str | None, typer.Option(help="only this kind")] = None,
    period: Annotated[str | None, typer.Option(help="only this period, e.g. 2026-10")] = None,
    region: Annotated[str | None, typer.Option(help="only this region's")] = None,
) -> None:
    """List the published versions, newest first."""
    from civicgrid.services.publication import versions

    with _session() as session:
        _, rules = _context(session)
        rows = versions(session, None, rules.calendar.timezone, kind, period, region)
        for row in rows:
            typer.echo(
                f"{row.kind}\t{row.period_key}\t{row.region.code}\tv{row.version}\t"
                f"{row.published_at.isoformat(timespec='seconds')}\t{row.published_by.username}\t{row.note}"
            )
        if not rows:
            typer.echo("no published evaluation")


@evaluation_app.command("show")
def show_command(
    kind: Annotated[str, typer.Argument(help="the kind evaluated")],
    period: Annotated[str, typer.Argument(help="the period, e.g. 2026-10")],
    version: Annotated[int, typer.Argument(min=1, help="the version number")],
    region: Annotated[str, typer.Option("--region", help="the region's code")],
    changes: Annotated[
        bool, typer.Option("--changes", help="list what changed from the version before")
    ] = False,
) -> None:
    """Show a published version as stored: each object's rank, composite value and grade."""
    from civicgrid.services import publication

    with _session() as session:
        _, rules = _context(session)
        zone = rules.calendar.timezone
        row = publication.read_version(session, None, kind, period, region, version, zone)
        typer.echo(
            f"{row.kind} {row.period_key} ({row.period_label}) {row.region.code} {row.region.name} "
            f"version {row.version}: published {row.published_at.isoformat(timespec='seconds')} "
            f"by {row.published_by.username}; scheme {row.scheme_name} {row.scheme_version} "
            f"({row.scheme_digest[:12]})"
        )
        for item in publication.stored_rows(row):
            typer.echo(f"{item.rank}\t{item.group.key}\t{item.group.label}\t{item.value:.2f}\t{item.grade}")
        if changes:
            _, _, found = publication.changes(session, None, kind, period, region, version, zone)
            _print_changes(found)


# --- civicgrid export --------------------------------------------------------------------


def _write(
    out: Path,
    file_format: ExportFormat,
    columns: list[Column],
    rows: Iterator[tuple[Value, ...]],
    zone: ZoneInfo,
    sheet: str,
) -> int:
    """Write the file chunk by chunk, under a temporary name until it is complete (a failed
    export leaves no half file behind); the number of bytes written."""
    size = 0
    partial = out.with_name(out.name + ".part")
    try:
        with partial.open("wb") as file:
            for chunk in write(file_format, columns, rows, zone, sheet):
                file.write(chunk)
                size += len(chunk)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return size


def _period(
    session: Session, kind: PeriodKind | None, day: date | None, first: date | None, last: date | None
) -> Period:
    _, rules = _context(session)
    zone = rules.calendar.timezone
    if kind is not None and first is None and last is None:
        return Period.containing(kind, day or _now().astimezone(zone).date(), zone)
    if kind is None and first is not None and last is not None and day is None:
        return Period.between(first, last, zone)
    typer.echo("error: say which period: --period (with --date), or --from and --to", err=True)
    raise typer.Exit(code=1)


@export_app.command("cases")
def export_cases_command(
    user: As,
    out: OutOption,
    file_format: FormatOption = ExportFormat.CSV,
    state: Annotated[list[str] | None, typer.Option(help="a state (repeat for several)")] = None,
    region: Annotated[str | None, typer.Option(help="a region's code (its subtree)")] = None,
    grid: Annotated[str | None, typer.Option(help="a grid's code")] = None,
    department: Annotated[str | None, typer.Option(help="a department's code")] = None,
    category: Annotated[
        str | None, typer.Option(help="a category's code (a big class includes its small ones)")
    ] = None,
    channel: Annotated[list[str] | None, typer.Option(help="a channel (repeat for several)")] = None,
    created_from: Annotated[datetime | None, typer.Option("--from", help="created at or after")] = None,
    created_to: Annotated[datetime | None, typer.Option("--to", help="created before")] = None,
    q: Annotated[str | None, typer.Option(help="text in the number, title or address")] = None,
) -> None:
    """Write the cases the user may see that match the case list's filters, newest first,
    read from the store a few thousand at a time."""
    from pydantic import ValidationError

    from civicgrid.exports.tables import CASE_COLUMNS, case_rows
    from civicgrid.schemas import CaseFilters
    from civicgrid.store import cases as case_queries

    with _session() as session:
        _, rules = _context(session)
        zone = rules.calendar.timezone
        try:
            filters = CaseFilters(
                state=state or [],
                region_code=region,
                grid_code=grid,
                department_code=department,
                category_code=category,
                channel=channel or [],
                created_from=created_from.replace(tzinfo=created_from.tzinfo or zone)
                if created_from
                else None,
                created_to=created_to.replace(tzinfo=created_to.tzinfo or zone) if created_to else None,
                q=q,
            )
        except ValidationError as error:
            for problem in error.errors():
                typer.echo(f"error: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", err=True)
            raise typer.Exit(code=1) from None
        now = _now()
        query = case_queries.filtered(session, _user(session, user), filters, now)
        count = 0

        def counted() -> Iterator[tuple[Value, ...]]:
            nonlocal count
            for row in case_rows(session, query, now):
                count += 1
                yield row

        size = _write(out, file_format, list(CASE_COLUMNS), counted(), zone, "案件")
    typer.echo(f"{out}: {count} cases, {size:,} bytes")


@export_app.command("table")
def export_table_command(
    user: As,
    out: OutOption,
    file_format: FormatOption = ExportFormat.CSV,
    period: Annotated[PeriodKind | None, typer.Option(help="day, week, month, quarter or year")] = None,
    day: Annotated[datetime | None, typer.Option("--date", formats=["%Y-%m-%d"], help="a day in it")] = None,
    first: Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="first day")] = None,
    last: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="last day")] = None,
    group_by: Annotated[
        str, typer.Option("--group-by", help="what the rows are (as the API's group_by)")
    ] = "none",
    indicators: Annotated[str | None, typer.Option(help="comma-separated indicator keys")] = None,
    region: RegionOption = None,
) -> None:
    """Write a statistics table: one row per group and the total, each rate with its parts."""
    from civicgrid.api.statistics import DEFAULT_INDICATORS
    from civicgrid.exports.tables import statistics_columns, statistics_rows
    from civicgrid.services import statistics
    from civicgrid.services.statistics import GroupBy

    with _session() as session:
        _, rules = _context(session)
        span = _period(session, period, *(moment.date() if moment else None for moment in (day, first, last)))
        try:
            grouping = GroupBy(group_by)
        except ValueError:
            typer.echo(f"error: --group-by must be one of {', '.join(g.value for g in GroupBy)}", err=True)
            raise typer.Exit(code=1) from None
        keys = [key.strip() for key in (indicators or DEFAULT_INDICATORS).split(",") if key.strip()]
        query = statistics.Query(span, grouping, keys, region)
        table = statistics.table(session, _user(session, user), query, _now())
        rows = list(statistics_rows(table))
        zone = rules.calendar.timezone
        size = _write(out, file_format, statistics_columns(table), iter(rows), zone, table.period_label)
    typer.echo(f"{out}: {len(rows) - 1} groups and the total, {size:,} bytes")


@export_app.command("evaluation")
def export_evaluation_command(
    kind: Annotated[
        str, typer.Argument(help="department, street, community, dispatcher, inspector, operator")
    ],
    period: Annotated[str, typer.Argument(help="a period: 2026-10, 2026-Q4 or 2026")],
    user: As,
    out: OutOption,
    file_format: FormatOption = ExportFormat.CSV,
    version: Annotated[
        int | None, typer.Option(min=1, help="a published version (default: the live figures)")
    ] = None,
    region: RegionOption = None,
) -> None:
    """Write an evaluation ranking: a published version as stored, or the live figures."""
    from civicgrid.domain.publication import period_of_key
    from civicgrid.exports.tables import evaluation_columns, evaluation_rows
    from civicgrid.services import evaluation, publication

    with _session() as session:
        scheme, rules = _context(session)
        zone = rules.calendar.timezone
        actor = _user(session, user)
        if version is not None:
            row = publication.read_version(session, actor, kind, period, region, version, zone)
            rows, label = publication.stored_rows(row), row.period_label
        else:
            span = period_of_key(period, zone).period
            table = evaluation.ranking(session, actor, scheme, kind, span, _now(), region)
            rows, label = table.rows, table.period_label
        size = _write(out, file_format, evaluation_columns(rows), evaluation_rows(rows), zone, label)
    typer.echo(f"{out}: {len(rows)} ranked, {size:,} bytes")
