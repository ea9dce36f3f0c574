"""Who may see which case, and whom an admin manages: the one place where region and
department scope is applied.

Every query for cases on behalf of a user goes through ``scoped``; a test walks the code
and fails when a case query bypasses it. Every query for users on behalf of an admin goes
through ``managed_users``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select

from civicgrid.domain.vocabulary import Role
from civicgrid.store.models import Case, CaseTask, Department, PublishedEvaluation, Region, User


def region_subtree(path: str) -> Select[tuple[int]]:
    """Ids of the regions at or below the region with ``path``."""
    return select(Region.id).where(Region.path.startswith(path, autoescape=True))


def in_region(region: Region, *, by_time: bool = False) -> ColumnElement[bool]:
    """Cases in ``region``'s subtree.

    The subtree of the only root region (the district) holds every case, and testing each
    row against it keeps the list off the time index; so for a root the test is skipped
    when no other root exists, which the database checks once per query, not per row.

    ``by_time``: the query finds its rows through a time index (the statistics of a day or
    a week); the region is then tested on each row found and never used to find them: an
    expression of the column keeps SQLite off the region's index, through which it would
    read the region's whole history."""
    column = Case.region_id + 0 if by_time else Case.region_id
    subtree = column.in_(region_subtree(region.path))
    if region.parent_id is not None:
        return subtree
    another_root = exists().where(Region.parent_id.is_(None), Region.id != region.id)
    return or_(~another_root, subtree)


def scoped(query: Select[tuple[Case]], actor: User, *, by_time: bool = False) -> Select[tuple[Case]]:
    """``query`` narrowed to the cases ``actor`` may see.

    Staff see their region's subtree; a handler sees the cases of their department (as the
    responsible one or a joint-handling partner); a citizen sees what they reported.
    ``by_time``: the query finds its rows by time, and scope only sifts them (see ``in_region``).
    """
    if actor.role is Role.CITIZEN:
        return query.where(Case.reporter_user_id == actor.id)
    if actor.role is Role.HANDLER:
        if actor.department_id is None:
            return query.where(false())
        partner = exists().where(CaseTask.case_id == Case.id, CaseTask.department_id == actor.department_id)
        department = Case.department_id + 0 if by_time else Case.department_id
        return query.where(or_(department == actor.department_id, partner))
    if actor.region is None:
        return query.where(false())
    return query.where(in_region(actor.region, by_time=by_time))


@dataclass(frozen=True, slots=True)
class CaseScope:
    """``scoped``'s rule for a case already in memory (a change on the live stream), held
    per connection so that each change is checked without a query: a region subtree (by its
    path), a department (responsible or joint-handling), a reporter (a citizen), or nothing.
    Equal scopes compare equal, so connections of one scope are checked once per change."""

    kind: str
    path: str = ""
    ident: int = 0

    @classmethod
    def of(cls, actor: User) -> CaseScope:
        """The scope ``scoped`` applies for ``actor`` (their region must be loaded)."""
        if actor.role is Role.CITIZEN:
            return cls("reporter", ident=actor.id)
        if actor.role is Role.HANDLER:
            return cls("department", ident=actor.department_id) if actor.department_id else cls("none")
        if actor.region is None:
            return cls("none")
        # The only root's subtree holds every case; a prefix test says the same for it.
        return cls("region", path=actor.region.path)

    def sees(
        self, region_path: str | None, department_ids: Collection[int], reporter_user_id: int | None
    ) -> bool:
        """Whether a case in the region with ``region_path``, handled by ``department_ids``
        and reported by ``reporter_user_id`` is in this scope."""
        if self.kind == "region":
            return region_path is not None and region_path.startswith(self.path)
        if self.kind == "department":
            return self.ident in department_ids
        if self.kind == "reporter":
            return reporter_user_id == self.ident
        return False


def region_in_scope(region: Region, actor: User) -> bool:
    """Whether ``actor`` may act in ``region`` (create a case there, manage it)."""
    if actor.role is Role.CITIZEN:
        return True
    if actor.region is None:
        return False
    return region.path.startswith(actor.region.path)


def regions_in_scope(column: ColumnElement[int], actor: User) -> ColumnElement[bool]:
    """Rows whose region (``column``, a region id) ``actor`` reads region-wide documents of,
    such as stored briefings: staff of a region see those of its subtree. A handler's figures
    are their department's and a citizen has none, so neither sees a region's."""
    if actor.role in (Role.CITIZEN, Role.HANDLER) or actor.region is None:
        return false()
    return column.in_(region_subtree(actor.region.path))


def is_top_level(actor: User) -> bool:
    """Whether ``actor`` is scoped to a root of the region tree (the district): the level
    that owns what is district-wide, such as the category tree and citizens' accounts."""
    return actor.region is not None and actor.region.parent_id is None


def managed_users(query: Select[tuple[User]], actor: User) -> Select[tuple[User]]:
    """``query`` narrowed to the users ``actor`` (an admin) manages: staff whose region and
    department (if any) both lie in the admin's subtree, since a handler acts for their
    whole department; citizens, who have no region, only for an admin of the top level."""
    if actor.region is None:
        return query.where(false())
    subtree = region_subtree(actor.region.path)
    departments = select(Department.id).where(Department.region_id.in_(subtree))
    staff = and_(
        User.region_id.in_(subtree),
        or_(User.department_id.is_(None), User.department_id.in_(departments)),
    )
    if is_top_level(actor):
        return query.where(or_(staff, User.region_id.is_(None)))
    return query.where(staff)


def scoped_publications(
    query: Select[tuple[PublishedEvaluation]], actor: User | None
) -> Select[tuple[PublishedEvaluation]]:
    """``query`` narrowed to the published evaluations ``actor`` may read: those of regions in
    their own subtree, as for live statistics (None: the command line, which sees all)."""
    if actor is None:
        return query
    if actor.role is Role.CITIZEN or actor.region is None:
        return query.where(false())
    return query.where(PublishedEvaluation.region_id.in_(region_subtree(actor.region.path)))
