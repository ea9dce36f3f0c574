"""Published evaluations (考核结果发布): publish a finished period's ranking as a numbered
version, list the versions, read one as stored, see what changed from the version before,
and download one as a file."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import StreamingResponse

from civicgrid.api.deps import Actor, DbSession, Now, Rules
from civicgrid.api.downloads import DOWNLOAD_RESPONSES, FormatParam, download
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.domain.evaluation import TARGET_LABELS, Scheme
from civicgrid.domain.publication import Changes
from civicgrid.exports.tables import evaluation_columns, evaluation_rows
from civicgrid.schemas import CodeRef
from civicgrid.schemas_statistics import (
    EvaluationChangesOut,
    ItemChangeOut,
    PublicationOut,
    PublishedEvaluationOut,
    PublishIn,
    PublishOut,
    UnitChangeOut,
)
from civicgrid.services import publication as service
from civicgrid.store.models import PublishedEvaluation

router = APIRouter(prefix="/api/v1/evaluations", tags=["evaluations"], responses=ERROR_RESPONSES)


class EvaluationKind(StrEnum):
    """What a published evaluation ranks."""

    DEPARTMENT = "department"
    STREET = "street"
    COMMUNITY = "community"
    DISPATCHER = "dispatcher"
    INSPECTOR = "inspector"
    OPERATOR = "operator"


PeriodKey = Annotated[
    str,
    Path(
        max_length=10, description='a finished period: a month "2026-10", a quarter "2026-Q4", a year "2026"'
    ),
]
Version = Annotated[int, Path(ge=1, le=1_000_000)]
ScopeParam = Annotated[
    CodeRef | None, Query(description="the region evaluated (its code); default: your own region")
]


def publication_out(row: PublishedEvaluation, zone: ZoneInfo) -> PublicationOut:
    """A version's description, without its rows; times in the centre's timezone (as the
    statistics give a period), the same whether just stored or read back."""
    return PublicationOut(
        kind=row.kind,
        period_key=row.period_key,
        period_label=row.period_label,
        period_start=row.period_start.astimezone(zone),
        period_end=row.period_end.astimezone(zone),
        region_code=row.region.code,
        region_name=row.region.name,
        version=row.version,
        scheme_name=row.scheme_name,
        scheme_version=row.scheme_version,
        scheme_digest=row.scheme_digest,
        published_by=row.published_by.username,
        published_by_name=row.published_by.full_name,
        published_at=row.published_at.astimezone(zone),
        note=row.note,
    )


def published_out(row: PublishedEvaluation, zone: ZoneInfo) -> PublishedEvaluationOut:
    """A version with its rows as stored."""
    return PublishedEvaluationOut(
        **publication_out(row, zone).model_dump(), rows=service.stored_rows(row), scheme=row.scheme
    )


def changes_out(row: PublishedEvaluation, previous: int, changes: Changes) -> EvaluationChangesOut:
    return EvaluationChangesOut(
        kind=row.kind,
        period_key=row.period_key,
        region_code=row.region.code,
        version=row.version,
        previous_version=previous,
        scheme_changed=changes.scheme_changed,
        units=[
            UnitChangeOut(
                key=unit.key,
                label=unit.label,
                change=unit.change,
                rank_before=unit.rank_before,
                rank_after=unit.rank_after,
                value_before=unit.value_before,
                value_after=unit.value_after,
                value_delta=unit.value_delta,
                grade_before=unit.grade_before,
                grade_after=unit.grade_after,
                items=[ItemChangeOut(**vars(item)) for item in unit.items],
            )
            for unit in changes.units
        ],
        unchanged=changes.unchanged,
    )


@router.get(
    "",
    response_model=list[PublicationOut],
    summary="The published evaluations you may read (regions within your scope), newest first",
)
def list_publications(
    session: DbSession,
    actor: Actor,
    rules: Rules,
    kind: Annotated[EvaluationKind | None, Query(description="only this kind")] = None,
    period: Annotated[
        str | None, Query(max_length=10, description='only this period, e.g. "2026-10"')
    ] = None,
    region: Annotated[CodeRef | None, Query(description="only this region's (not its subtree's)")] = None,
) -> list[PublicationOut]:
    rows = service.versions(
        session, actor, rules.calendar.timezone, kind.value if kind else None, period, region
    )
    return [publication_out(row, rules.calendar.timezone) for row in rows]


@router.post(
    "/{kind}/{period}",
    status_code=201,
    response_model=PublishOut,
    summary="Publish (freeze) the evaluation of a finished period as its next version (leaders, within "
    "their region); a version after the first lists what changed",
)
def publish(
    kind: EvaluationKind,
    period: PeriodKey,
    request: Request,
    session: DbSession,
    actor: Actor,
    rules: Rules,
    now: Now,
    data: Annotated[PublishIn, Body(default_factory=PublishIn)],
    region: ScopeParam = None,
) -> PublishOut:
    scheme: Scheme = request.app.state.scheme
    zone = rules.calendar.timezone
    done = service.publish(session, actor, scheme, kind.value, period, region, now, zone, data.note)
    changes = changes_out(done.row, done.row.version - 1, done.changes) if done.changes else None
    return PublishOut(**published_out(done.row, zone).model_dump(), changes=changes)


@router.get(
    "/{kind}/{period}/{version}",
    response_model=PublishedEvaluationOut,
    summary="One published version, with its figures as stored (never recomputed)",
)
def read_version(
    kind: EvaluationKind,
    period: PeriodKey,
    version: Version,
    session: DbSession,
    actor: Actor,
    rules: Rules,
    region: ScopeParam = None,
) -> PublishedEvaluationOut:
    zone = rules.calendar.timezone
    return published_out(
        service.read_version(session, actor, kind.value, period, region, version, zone), zone
    )


@router.get(
    "/{kind}/{period}/{version}/changes",
    response_model=EvaluationChangesOut,
    summary="What changed from the version before: per object, its rank, value, grade and each "
    "indicator's figure, score and points",
)
def version_changes(
    kind: EvaluationKind,
    period: PeriodKey,
    version: Version,
    session: DbSession,
    actor: Actor,
    rules: Rules,
    region: ScopeParam = None,
) -> EvaluationChangesOut:
    zone = rules.calendar.timezone
    row, previous, changes = service.changes(session, actor, kind.value, period, region, version, zone)
    return changes_out(row, previous.version, changes)


@router.get(
    "/{kind}/{period}/{version}/export",
    response_class=StreamingResponse,
    responses=DOWNLOAD_RESPONSES,
    summary="One published version as a CSV or xlsx file, its figures as stored",
)
def export_version(
    kind: EvaluationKind,
    period: PeriodKey,
    version: Version,
    session: DbSession,
    actor: Actor,
    rules: Rules,
    file_format: FormatParam,
    region: ScopeParam = None,
) -> StreamingResponse:
    zone = rules.calendar.timezone
    row = service.read_version(session, actor, kind.value, period, region, version, zone)
    rows = service.stored_rows(row)
    return download(
        file_format,
        f"考核结果-{TARGET_LABELS[row.kind]}-{row.period_label}-{row.region.name}-第{row.version}版",
        f"evaluation-{row.kind}-{row.period_key}-{row.region.code}-v{row.version}",
        evaluation_columns(rows),
        evaluation_rows(rows),
        zone,
        row.period_label,
    )
