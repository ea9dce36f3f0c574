"""The territory as a whole: import a file of regions and grids in one transaction, export it.

A re-import updates regions and grids in place by code. What the file no longer has is
deleted when nothing refers to it, and retired otherwise (a grid or region with cases,
users, departments or regions under it), so no case ever loses its grid.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.vocabulary import GridDuty, GridKind, RegionLevel
from civicgrid.geo.territory_checks import LEVELS, Checked, Problem, check_territory
from civicgrid.geo.territory_file import TerritoryFeature, rounded
from civicgrid.services.places import staff_problem
from civicgrid.store.models import (
    Case,
    Department,
    Grid,
    GridStaff,
    Region,
    User,
    case_overlay_grids,
    territory_changed,
)


@dataclass
class Counts:
    """What an import did (or, checked only, would do) to regions or grids."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    deleted: int = 0


@dataclass
class TerritoryReport:
    """The answer to an import: problems found, repairs made, and what changed."""

    features: int
    errors: list[Problem]
    warnings: list[Problem]
    repairs: list[Problem]
    regions: Counts = field(default_factory=Counts)
    grids: Counts = field(default_factory=Counts)
    #: Whether the territory was stored (False for a check or a refusal).
    written: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON data."""
        return {
            "features": self.features,
            "written": self.written,
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
            "repairs": [p.as_dict() for p in self.repairs],
            "regions": vars(self.regions),
            "grids": vars(self.grids),
        }

    def summary(self) -> str:
        """One line on what happened."""
        if self.errors:
            return f"refused: {len(self.errors)} errors in {self.features} features; nothing was changed"
        verb = "stored" if self.written else "checked, nothing written"

        def counts(c: Counts) -> str:
            return (
                f"{c.added} added, {c.updated} updated, {c.unchanged} unchanged, "
                f"{c.retired} retired, {c.deleted} deleted"
            )

        return (
            f"{self.features} features {verb}: regions {counts(self.regions)}; grids {counts(self.grids)}; "
            f"{len(self.warnings)} warnings, {len(self.repairs)} repairs"
        )


class TerritoryRefused(InvalidInput):
    """The file has errors: nothing was stored. ``detail`` is the whole report."""

    code = "territory_refused"

    def __init__(self, report: TerritoryReport) -> None:
        super().__init__(report.summary())
        self.report = report
        self.detail = report.as_dict()  # type: ignore[assignment]  # the report, as the API answers it


def import_territory(
    session: Session,
    features: Sequence[TerritoryFeature],
    now: datetime,
    *,
    tolerance_m: float = 1.0,
    repair: bool = False,
    check_only: bool = False,
) -> TerritoryReport:
    """Check ``features`` and store them as the territory, in the session's transaction;
    raise ``TerritoryRefused`` (nothing written) on any error. With ``check_only`` the
    changes are worked out in a savepoint and rolled back, so the report says what an
    import would do."""
    checked = check_territory(features, tolerance_m, repair)
    report = TerritoryReport(len(features), checked.errors, checked.warnings, checked.repairs)
    if report.errors:
        raise TerritoryRefused(report)
    # A savepoint, so that a refusal found while writing (a grid's staff) or a check
    # leaves the caller's transaction exactly as it was.
    savepoint = session.begin_nested()
    _apply(session, checked, report, now)
    if report.errors or check_only:
        savepoint.rollback()
        if report.errors:
            raise TerritoryRefused(report)
        return report
    savepoint.commit()
    report.written = not check_only
    return report


def _apply(session: Session, checked: Checked, report: TerritoryReport, now: datetime) -> None:
    regions = {row.code: row for row in session.scalars(select(Region))}
    grids = {row.code: row for row in session.scalars(select(Grid).options(selectinload(Grid.staff)))}
    in_file = {f.code for f in checked.features}
    placed: dict[str, Region] = {}
    region_features = sorted(
        (f for f in checked.features if not f.is_grid), key=lambda f: LEVELS.index(f.level)
    )
    for feature in region_features:
        parent = placed.get(feature.parent or "")
        row = regions.get(feature.code) or Region(code=feature.code)
        values = {
            "name": feature.name,
            "level": RegionLevel(feature.level),
            "parent": parent,
            "path": f"{parent.path if parent else '/'}{feature.code}/",
            "boundary": _json(feature.geometry),
            "retired_at": None,
        }
        _set(session, row, values, report.regions)
        placed[feature.code] = row
    staff = _staff_users(session, checked.features)
    for feature in (f for f in checked.features if f.is_grid):
        row = grids.get(feature.code) or Grid(code=feature.code)
        region = placed[feature.parent or ""]
        values = {
            "name": feature.name,
            "kind": GridKind(feature.kind),
            "region": region,
            "boundary": _json(feature.geometry),
            "overlay_group": feature.overlay_group,
            "retired_at": None,
        }
        changed = _set(session, row, values, report.grids)
        # A file without inspectors or leader keeps the grid's staff as stored.
        names_staff = feature.inspectors is not None or feature.leader is not None
        if names_staff and _set_staff(row, feature, region, staff, report) and not changed:
            report.grids.unchanged -= 1
            report.grids.updated += 1
    session.flush()
    _remove_absent(session, [g for code, g in grids.items() if code not in in_file], report.grids, now)
    absent = sorted((r for code, r in regions.items() if code not in in_file), key=lambda r: -len(r.path))
    _remove_absent(session, absent, report.regions, now)
    territory_changed(session)


def _json(geometry: Any) -> dict[str, Any] | None:
    """A geometry as the store keeps it: GeoJSON with lists, 7 decimals."""
    found = rounded(geometry)
    return None if found is None else json.loads(json.dumps(found))


def _set(session: Session, row: Region | Grid, values: dict[str, Any], counts: Counts) -> bool:
    """Give ``row`` the values (a new row is added); count it; whether anything changed."""
    if row.id is None:
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)  # flushed with the rest: the rows below it refer to it as an object
        counts.added += 1
        return True
    changed = {name: value for name, value in values.items() if not _same(name, getattr(row, name), value)}
    for name, value in changed.items():
        setattr(row, name, value)
    if changed:
        counts.updated += 1
    else:
        counts.unchanged += 1
    return bool(changed)


def _same(name: str, stored: Any, given: Any) -> bool:
    """Whether a stored value equals the file's: rows as the same row, boundaries as the same
    shape, whatever the ring's first vertex or direction (a Shapefile turns rings clockwise)."""
    if isinstance(stored, Region | None) and isinstance(given, Region | None):
        return stored is given
    if name != "boundary" or stored is None or given is None:
        return bool(stored == given)
    return bool(shapely.equals_exact(shapely.normalize(shape(stored)), shapely.normalize(shape(given)), 1e-9))


def _staff_users(session: Session, features: Sequence[TerritoryFeature]) -> dict[str, User]:
    names = {name for f in features for name in (f.inspectors or [])}
    names |= {f.leader for f in features if f.leader}
    if not names:
        return {}
    rows = session.scalars(select(User).where(User.username.in_(names)).options(selectinload(User.region)))
    return {user.username: user for user in rows}


def _set_staff(
    grid: Grid, feature: TerritoryFeature, region: Region, users: dict[str, User], report: TerritoryReport
) -> bool:
    """Make the grid's staff exactly the file's; whether that changed anything."""
    wanted: set[tuple[int, GridDuty]] = set()
    duties = [(name, GridDuty.INSPECTOR) for name in feature.inspectors or []]
    duties += [(feature.leader, GridDuty.LEADER)] if feature.leader else []
    for name, duty in duties:
        problem = staff_problem(users.get(name), name, duty, region)
        if problem:
            report.errors.append(Problem(problem, feature.index, feature.code))
            continue
        wanted.add((users[name].id, duty))
    have = {(s.user_id, s.duty): s for s in grid.staff}
    for key, row in have.items():
        if key not in wanted:
            grid.staff.remove(row)
    for user_id, duty in sorted(wanted - have.keys()):
        grid.staff.append(GridStaff(user_id=user_id, duty=duty))
    return wanted != have.keys()


def _remove_absent(session: Session, rows: Sequence[Region | Grid], counts: Counts, now: datetime) -> None:
    """Delete what nothing refers to; retire the rest (once)."""
    for row in rows:
        if row.retired_at is not None:
            continue
        if _referenced(session, row):
            row.retired_at = now
            counts.retired += 1
        else:
            session.delete(row)
            counts.deleted += 1
        session.flush()


def _referenced(session: Session, row: Region | Grid) -> bool:
    if isinstance(row, Grid):
        checks = [
            select(Case.id).where(Case.grid_id == row.id),
            select(case_overlay_grids.c.case_id).where(case_overlay_grids.c.grid_id == row.id),
            select(User.id).where(User.grid_id == row.id),
        ]
    else:
        checks = [
            select(Case.id).where(Case.region_id == row.id),
            select(User.id).where(User.region_id == row.id),
            select(Department.id).where(Department.region_id == row.id),
            select(Grid.id).where(Grid.region_id == row.id),
            select(Region.id).where(Region.parent_id == row.id),
        ]
    return any(session.execute(query.limit(1)).first() is not None for query in checks)


def export_features(session: Session) -> list[TerritoryFeature]:
    """The territory in use (nothing retired) as file features: regions top down, then grids."""
    regions = list(
        session.scalars(
            select(Region).where(Region.retired_at.is_(None)).options(selectinload(Region.parent))
        )
    )
    regions.sort(key=lambda r: (LEVELS.index(r.level.value), r.path))
    features = [
        TerritoryFeature(
            index=i,
            code=r.code,
            name=r.name,
            level=r.level.value,
            parent=r.parent.code if r.parent else None,
            geometry=shape(r.boundary) if r.boundary else None,
        )
        for i, r in enumerate(regions)
    ]
    query = (
        select(Grid)
        .where(Grid.retired_at.is_(None))
        .options(selectinload(Grid.region), selectinload(Grid.staff).selectinload(GridStaff.user))
        .order_by(Grid.code)
    )
    for grid in session.scalars(query):
        people = sorted(grid.staff, key=lambda s: s.user.username)
        features.append(
            TerritoryFeature(
                index=len(features),
                code=grid.code,
                name=grid.name,
                level="grid",
                parent=grid.region.code,
                kind=grid.kind.value,
                overlay_group=grid.overlay_group,
                inspectors=[s.user.username for s in people if s.duty is GridDuty.INSPECTOR],
                leader=next((s.user.username for s in people if s.duty is GridDuty.LEADER), None),
                geometry=shape(grid.boundary) if grid.boundary else None,
            )
        )
    return features
