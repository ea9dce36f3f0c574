"""The publication service (考核结果发布): freeze a finished period's evaluation as a
numbered version, read published versions back as stored, and list what changed between a
version and the one before it.

Who publishes: the **leader** (领导) of the region, for their region or any region within it.
A published ranking is the centre's official verdict on its departments and streets (the
monthly 考核通报 that the leadership signs), so it is the leader's act. Admins run the
system and manage accounts; they do not issue verdicts. Reading published versions follows
the live statistics: every staff member reads those of regions within their own scope.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from civicgrid.domain.errors import Conflict, InvalidInput, NotFound, RoleNotAllowed
from civicgrid.domain.evaluation import TARGETS, Scheme
from civicgrid.domain.publication import (
    Changes,
    compare,
    period_of_key,
    require_finished,
    scheme_content,
    scheme_digest,
)
from civicgrid.domain.vocabulary import ROLE_LABELS, Role
from civicgrid.schemas_statistics import EvaluationRow
from civicgrid.services import evaluation
from civicgrid.store import publications as queries
from civicgrid.store.lookups import by_code
from civicgrid.store.models import PublishedEvaluation, Region, User
from civicgrid.store.scoping import region_in_scope

#: The audit of publications: one line per version published, besides the stored row.
audit = logging.getLogger("civicgrid.audit")

#: The roles that publish an evaluation (within their own region).
PUBLISHERS = frozenset({Role.LEADER})


@dataclass(frozen=True)
class Published:
    """A version just stored, and its differences from the one before (None for version 1)."""

    row: PublishedEvaluation
    changes: Changes | None


def _require_kind(kind: str) -> str:
    if kind not in TARGETS:
        raise InvalidInput(f"unknown kind of evaluation '{kind}'; known: {', '.join(TARGETS)}")
    return kind


def _scope(session: Session, actor: User | None, region_code: str | None) -> Region:
    """The region asked for (default: the actor's own), which must lie in the actor's scope."""
    if actor is not None and actor.role is Role.CITIZEN:
        raise RoleNotAllowed("evaluations are for the centre's staff")
    if region_code is None:
        if actor is None or actor.region is None:
            raise InvalidInput("say which region the evaluation is for (its code)")
        return actor.region
    region = by_code(session, Region, region_code)
    if actor is not None and not region_in_scope(region, actor):
        raise RoleNotAllowed(f"region {region.code} ({region.name}) is outside your scope")
    return region


def publish(
    session: Session,
    actor: User,
    scheme: Scheme,
    kind: str,
    period_key: str,
    region_code: str | None,
    now: datetime,
    zone: ZoneInfo,
    note: str = "",
) -> Published:
    """Compute the evaluation of ``kind`` for the finished period ``period_key`` in the
    region (default: the actor's) under ``scheme`` and store it as the next version, with
    who published it and when. Refused: a period not over, a kind the scheme does not
    evaluate, a region outside the actor's scope, a role other than leader, and a version
    identical to the last one (same figures, same scheme: nothing new to publish)."""
    if actor.role not in PUBLISHERS:
        raise RoleNotAllowed(
            f"publishing an evaluation is the leader's decision; a {ROLE_LABELS[actor.role]} "
            f"({actor.role.value}) may read published versions, not publish them"
        )
    _require_kind(kind)
    period = period_of_key(period_key, zone)
    region = _scope(session, actor, region_code)
    require_finished(period, now)
    table = evaluation.ranking(session, actor, scheme, kind, period.period, now, region.code)
    result = [row.model_dump(mode="json") for row in table.rows]
    digest = scheme_digest(scheme)
    previous = queries.latest(session, kind, period.key, region.id)
    if previous is not None and previous.result == result and previous.scheme_digest == digest:
        raise Conflict(
            f"version {previous.version} of the {kind} evaluation of {period.period.label} for "
            f"{region.name} already holds these figures under this scheme: nothing new to publish"
        )
    row = PublishedEvaluation(
        kind=kind,
        period_key=period.key,
        period_start=period.period.start,
        period_end=period.period.end,
        period_label=period.period.label,
        region=region,
        version=previous.version + 1 if previous else 1,
        scheme_name=scheme.name,
        scheme_version=scheme.version,
        scheme_digest=digest,
        scheme=scheme_content(scheme),
        published_by=actor,
        published_at=now,
        note=note,
        result=result,
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"version {row.version} of this evaluation was published at the same moment by someone else; "
            "read it, and publish again if it still differs"
        ) from None
    audit.info(
        "published %s evaluation %s for region %s: version %d by %s at %s",
        kind,
        period.key,
        region.code,
        row.version,
        actor.username,
        now.isoformat(),
    )
    changes = None
    if previous is not None:
        changes = compare(previous.result, result, previous.scheme_digest, digest)
    return Published(row, changes)


def read_version(
    session: Session,
    actor: User | None,
    kind: str,
    period_key: str,
    region_code: str | None,
    number: int,
    zone: ZoneInfo,
) -> PublishedEvaluation:
    """Version ``number`` as stored (never recomputed); NotFound if it was not published.
    ``actor`` None: the command line, which reads every region."""
    _require_kind(kind)
    period = period_of_key(period_key, zone)
    region = _scope(session, actor, region_code)
    row = queries.version(session, kind, period.key, region.id, number)
    if row is None:
        raise NotFound(
            f"no version {number} of the {kind} evaluation of {period.period.label} for {region.name}"
        )
    return row


def versions(
    session: Session,
    actor: User | None,
    zone: ZoneInfo,
    kind: str | None = None,
    period_key: str | None = None,
    region_code: str | None = None,
) -> list[PublishedEvaluation]:
    """The published versions ``actor`` may read (of regions within their scope), newest
    first, optionally of one kind, period and region."""
    if actor is not None and actor.role is Role.CITIZEN:
        raise RoleNotAllowed("evaluations are for the centre's staff")
    key = period_of_key(period_key, zone).key if period_key is not None else None
    region = by_code(session, Region, region_code) if region_code is not None else None
    if region is not None and actor is not None and not region_in_scope(region, actor):
        raise RoleNotAllowed(f"region {region.code} ({region.name}) is outside your scope")
    return queries.listed(session, actor, _require_kind(kind) if kind else None, key, region)


def changes(
    session: Session,
    actor: User | None,
    kind: str,
    period_key: str,
    region_code: str | None,
    number: int,
    zone: ZoneInfo,
) -> tuple[PublishedEvaluation, PublishedEvaluation, Changes]:
    """Version ``number``, the version before it, and what changed between them (both as
    stored). NotFound for version 1, which has nothing before it."""
    row = read_version(session, actor, kind, period_key, region_code, number, zone)
    if number == 1:
        raise NotFound("version 1 is the first published: there is no earlier version to compare it with")
    previous = queries.version(session, row.kind, row.period_key, row.region_id, number - 1)
    assert previous is not None, "versions are numbered without gaps"
    return row, previous, compare(previous.result, row.result, previous.scheme_digest, row.scheme_digest)


def stored_rows(row: PublishedEvaluation) -> list[EvaluationRow]:
    """The ranked rows of a published version, as stored."""
    return [EvaluationRow.model_validate(item) for item in row.result]
