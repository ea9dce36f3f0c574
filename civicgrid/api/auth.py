"""Sign in and out; who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request

from civicgrid.api import read_your_writes
from civicgrid.api.deps import Actor, DbSession, Now, Token, get_settings
from civicgrid.api.errors import ERROR_RESPONSES, THROTTLE_RESPONSES
from civicgrid.api.present import user_out
from civicgrid.schemas import LoginRequest, TokenOut, UserOut
from civicgrid.services import auth
from civicgrid.services.throttle import Limits

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in with username and password",
    responses=THROTTLE_RESPONSES,
)
def sign_in(data: LoginRequest, request: Request, now: Now) -> TokenOut:
    settings = get_settings(request)
    token, expires_at = auth.sign_in(
        request.app.state.read_session_factory,
        request.app.state.session_factory,
        data.username,
        data.password,
        address=request.client.host if request.client else "unknown",
        limits=Limits.from_settings(settings),
        secret_key=settings.secret_key,
        hours=settings.token_hours,
        now=now,
    )
    if request.app.state.replicas is not None:
        # The new token must authenticate at once: its reads stay on the primary until a replica has it.
        read_your_writes.note_write(request, request.app.state.replicas, token=token)
    return TokenOut(access_token=token, expires_at=expires_at)


@router.post("/logout", status_code=204, summary="Revoke the token of this request")
def sign_out(session: DbSession, token: Token, request: Request, now: Now) -> None:
    auth.logout(session, token, secret_key=get_settings(request).secret_key, now=now)


@router.get("/me", response_model=UserOut, summary="The signed-in user")
def me(actor: Actor) -> UserOut:
    return user_out(actor)
