"""The notification pages: the user's alerts, unread first (opening one marks it read), and
their settings for receiving alerts by SMS or e-mail while signed out. The navigation's
unread badge is counted with the page's sign-in (``civicgrid.web.pages.page_user``) and kept
up to date by live.js."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi import Path as FastApiPath
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from civicgrid.api.deps import DbSession, Now
from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.vocabulary import ALERT_KIND_LABELS, AlertKind
from civicgrid.schemas import NotificationSettingsIn
from civicgrid.services import notifications
from civicgrid.web.pages import Csrf, PageRoute, PageUser, render

router = APIRouter(prefix="/notifications", route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 30
SAVED_NOTE = "已保存。"


@router.get("", response_class=HTMLResponse)
def notifications_page(
    request: Request,
    session: DbSession,
    user: PageUser,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    found = notifications.page_of(session, user, page, PAGE_SIZE)
    context = {
        "rows": found.rows,
        "total": found.total,
        "page_unread": found.unread,
        "page": page,
        "next_page": page + 1 if page * PAGE_SIZE < found.total else None,
        "kind_labels": ALERT_KIND_LABELS,
    }
    return render(request, "notifications.html", context)


@router.post("/read-all")
def read_all(session: DbSession, user: PageUser, now: Now, _csrf: Csrf) -> Response:
    notifications.mark_all_read(session, user, now)
    return RedirectResponse("/notifications", status_code=303)


@router.post("/{notification_id}/read")
def read_one(
    session: DbSession,
    user: PageUser,
    now: Now,
    _csrf: Csrf,
    notification_id: Annotated[int, FastApiPath(ge=1, le=2**31 - 1)],
    open_case: Annotated[str, Form(alias="open", max_length=1)] = "",
) -> Response:
    """Mark it read; with ``open``, go on to the case file."""
    found = notifications.mark_read(session, user, notification_id, now)
    target = f"/cases/{found.case.number}" if open_case else "/notifications"
    return RedirectResponse(target, status_code=303)


def _settings_page(
    request: Request, values: dict[str, object], note: str = "", problem: str = "", status: int = 200
) -> HTMLResponse:
    context = {
        "values": values,
        "kinds": list(AlertKind),
        "kind_labels": ALERT_KIND_LABELS,
        "note": note,
        "problem": problem,
    }
    return render(request, "notification_settings.html", context, status_code=status)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, session: DbSession, user: PageUser, saved: str = "") -> HTMLResponse:
    found = notifications.settings_of(session, user)
    values = {
        "sms_phone": found.sms_phone or "",
        "email": found.email or "",
        "kinds": list(found.kinds or []),
    }
    return _settings_page(request, values, SAVED_NOTE if saved else "")


@router.post("/settings", response_class=HTMLResponse)
async def save_settings(
    request: Request, session: DbSession, user: PageUser, now: Now, _csrf: Csrf
) -> Response:
    form = await request.form()
    values = {
        "sms_phone": str(form.get("sms_phone", "")).strip(),
        "email": str(form.get("email", "")).strip(),
        "kinds": [str(kind) for kind in form.getlist("kinds")],
    }
    try:
        data = NotificationSettingsIn.model_validate(
            {
                "sms_phone": values["sms_phone"] or None,
                "email": values["email"] or None,
                "kinds": values["kinds"],
            }
        )
    except ValidationError as error:
        problem = "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        return _settings_page(request, values, problem=problem, status=422)
    if data.kinds and not (data.sms_phone or data.email):
        raise InvalidInput("选择了提醒类别，请同时填写手机号码或电子邮箱")
    notifications.save_settings(session, user, data, now)
    return RedirectResponse("/notifications/settings?saved=1", status_code=303)
