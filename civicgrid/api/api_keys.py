"""API keys of outside systems (admin): issue, list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Request

from civicgrid.api.deps import Actor, DbSession, Now, get_settings
from civicgrid.api.errors import ERROR_RESPONSES
from civicgrid.schemas import ApiKeyIn, ApiKeyIssued, ApiKeyOut
from civicgrid.services import api_keys
from civicgrid.store.models import ApiKey

router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"], responses=ERROR_RESPONSES)


def api_key_out(row: ApiKey) -> ApiKeyOut:
    """A key without its secret."""
    return ApiKeyOut(
        name=row.name,
        prefix=row.prefix,
        region_code=row.region.code,
        channel=row.channel,
        actor_username=row.user.username,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
    )


@router.post(
    "", status_code=201, response_model=ApiKeyIssued, summary="Issue an API key (admin); shown this once"
)
def issue_key(data: ApiKeyIn, session: DbSession, actor: Actor, request: Request, now: Now) -> ApiKeyIssued:
    row, key = api_keys.issue_key(
        session,
        actor,
        data.name,
        region_code=data.region_code,
        channel=data.channel,
        secret_key=get_settings(request).secret_key,
        now=now,
    )
    return ApiKeyIssued(**api_key_out(row).model_dump(), key=key)


@router.get("", response_model=list[ApiKeyOut], summary="The API keys of your region (admin)")
def list_keys(session: DbSession, actor: Actor) -> list[ApiKeyOut]:
    return [api_key_out(row) for row in api_keys.list_keys(session, actor)]


@router.post("/{name}/revoke", response_model=ApiKeyOut, summary="Revoke an API key (admin)")
def revoke_key(name: str, session: DbSession, actor: Actor, now: Now) -> ApiKeyOut:
    return api_key_out(api_keys.revoke_key(session, actor, name, now))
