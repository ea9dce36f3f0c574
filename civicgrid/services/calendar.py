"""The centre's working calendar: the holiday arrangements (节假日安排) it loads itself for
the years the ``chinesecalendar`` package does not know yet, the rules built on them, and
the warning before the known calendar runs out.

A centre need not wait for a package release: when the State Council publishes next year's
arrangement (usually in November), an admin of the whole centre loads it, and the deadlines
of open cases are recomputed at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ScalarSelect
from sqlalchemy.orm import Session

from civicgrid.calendar_file import CalendarFileError, YearArrangement, parse_calendar
from civicgrid.domain.calendar import ArrangedDay, WorkCalendar, disagreements, official_arrangement
from civicgrid.domain.clock import STAGE_OF_STATE
from civicgrid.domain.errors import InvalidInput, RoleNotAllowed
from civicgrid.domain.vocabulary import Role
from civicgrid.services.cases import CentreRules, refresh_clock, refresh_facts
from civicgrid.settings import Settings
from civicgrid.store import calendar as calendar_queries
from civicgrid.store.calendar import LoadedYear
from civicgrid.store.models import User
from civicgrid.store.scoping import is_top_level

#: Open cases recomputed per query when an arrangement arrives.
BATCH_SIZE = 200
#: Dates named in a refusal, at most; the count says how many more.
_DATES_SHOWN = 10


@dataclass(frozen=True)
class CalendarStatus:
    """What the centre's calendar knows: the years, those it loaded, where the unbroken run of
    known years ends (None when this year is unknown), and the warning if it ends soon."""

    known_years: list[int]
    loaded: list[LoadedYear]
    known_through: date | None
    warning: str | None


@dataclass(frozen=True)
class LoadResult:
    """What loading a year's arrangement did: the days stored, whether an earlier
    arrangement of the year was replaced, the open cases whose clocks were recomputed
    (and how many of those moved), and the calendar's state afterwards."""

    year: int
    days: int
    replaced: bool
    recomputed: int
    changed: int
    status: CalendarStatus


def centre_calendar(session: Session, settings: Settings) -> WorkCalendar:
    """The centre's working calendar: its periods and timezone, its loaded days, the package."""
    return settings.calendar(calendar_queries.stored_days(session))


def calendar_revision_columns() -> tuple[ScalarSelect[int], ScalarSelect[datetime | None]]:
    """A mark of the loaded calendar that changes whenever a year is loaded, as scalar
    subqueries read along with the request's token, so each server process sees when to
    rebuild its rules without a query of its own."""
    return calendar_queries.revision_columns()


def centre_rules(session: Session, settings: Settings) -> CentreRules:
    """The case service's rules on the centre's calendar with its loaded days."""
    return CentreRules.from_settings(settings, calendar_queries.stored_days(session))


def calendar_status(session: Session, settings: Settings, today: date) -> CalendarStatus:
    """What the centre's calendar knows on ``today``, and what to do if it runs out soon."""
    calendar = centre_calendar(session, settings)
    return CalendarStatus(
        known_years=calendar.known_years(),
        loaded=calendar_queries.loaded_years(session),
        known_through=calendar.known_through(today),
        warning=running_out(calendar, today, settings.calendar_warning_days),
    )


def running_out(calendar: WorkCalendar, today: date, days_ahead: int) -> str | None:
    """The warning when ``calendar`` knows no holidays for ``today``'s year, or stops knowing
    them within ``days_ahead`` days; None otherwise."""
    end = calendar.known_through(today)
    if end is None:
        missing = today.year
        what = f"the working calendar knows no holidays or adjusted workdays (调休) for {missing}"
    elif (end - today).days <= days_ahead:
        missing = end.year + 1
        what = (
            f"the working calendar knows holidays and adjusted workdays (调休) only until {end} "
            f"({(end - today).days} days from now)"
        )
    else:
        return None
    example = next((year for year in range(missing - 1, missing - 4, -1) if calendar.knows_year(year)), None)
    fmt = f" (the format: civicgrid export-calendar {example})" if example else ""
    return (
        f"{what}: working-time deadlines in {missing} count Monday to Friday only, holidays missed. "
        f"Load the State Council's {missing} arrangement with civicgrid import-calendar FILE{fmt} "
        f"or PUT /api/v1/calendar/{missing}."
    )


def require_admin(actor: User) -> None:
    """Refuse anyone but an admin (of any region): the calendar's state is an admin's concern."""
    if actor.role is not Role.ADMIN:
        raise RoleNotAllowed("only an admin sees the working calendar's state")


def require_centre_admin(actor: User) -> None:
    """Refuse anyone but an admin of the top region (the district): the calendar is the
    whole centre's, so a street's admin may not change it."""
    if actor.role is not Role.ADMIN or not is_top_level(actor):
        raise RoleNotAllowed("only an admin of the whole centre (the top region) loads the working calendar")


def load_year(
    session: Session, actor: User, year: int, text: str, settings: Settings, now: datetime
) -> LoadResult:
    """An admin of the whole centre loads the arrangement of ``year`` from the text of a
    calendar file (see :mod:`civicgrid.calendar_file` and :func:`store_year`)."""
    require_centre_admin(actor)
    try:
        arrangement = parse_calendar(text)
    except CalendarFileError as error:
        raise InvalidInput(str(error)) from None
    if arrangement.year != year:
        raise InvalidInput(f"the file lists days of {arrangement.year}, not of {year}")
    return store_year(session, arrangement, settings, now, loaded_by=actor.username)


def store_year(
    session: Session, arrangement: YearArrangement, settings: Settings, now: datetime, loaded_by: str
) -> LoadResult:
    """Store ``arrangement`` as its year's whole arrangement (replacing one loaded before) and
    recompute the clocks of the open cases on the new calendar. Refused, with nothing
    written, where it disagrees with the ``chinesecalendar`` package about a year both know."""
    differing = disagreements(arrangement.year, arrangement.days)
    if differing:
        shown = ", ".join(day.isoformat() for day in differing[:_DATES_SHOWN])
        more = f" and {len(differing) - _DATES_SHOWN} more" if len(differing) > _DATES_SHOWN else ""
        raise InvalidInput(
            f"the {arrangement.year} arrangement disagrees with the chinesecalendar package on whether "
            f"these days are worked: {shown}{more}"
        )
    replaced = calendar_queries.replace_year(session, arrangement.year, arrangement.days, now, loaded_by)
    rules = centre_rules(session, settings)
    recomputed, changed = recompute_open_clocks(session, rules)
    return LoadResult(
        year=arrangement.year,
        days=len(arrangement.days),
        replaced=replaced,
        recomputed=recomputed,
        changed=changed,
        status=calendar_status(session, settings, now.astimezone(rules.calendar.timezone).date()),
    )


def recompute_open_clocks(session: Session, rules: CentreRules) -> tuple[int, int]:
    """Recompute the cached clock of every case whose stage clock runs, in batches; no event
    is written. How many were recomputed, and how many of their warning or deadline moved."""
    recomputed = changed = 0
    for batch in calendar_queries.open_case_batches(session, STAGE_OF_STATE.keys(), BATCH_SIZE):
        for case in batch:
            before = (case.warning_at, case.deadline_at)
            refresh_clock(case, rules)
            # The statistics' deadline in force of the running stage moves with the clock.
            refresh_facts(case, rules)
            recomputed += 1
            changed += (case.warning_at, case.deadline_at) != before
        # Flushed cases are only weakly held by the session, so memory stays one batch.
        session.flush()
    return recomputed, changed


def year_arrangement(session: Session, year: int) -> list[ArrangedDay] | None:
    """The arrangement of ``year``: the loaded one, else the package's; None if neither knows it."""
    return calendar_queries.stored_year(session, year) or official_arrangement(year)
