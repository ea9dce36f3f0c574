"""Find the centre's reference objects by their printable codes, or say clearly which is missing."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.domain.errors import Conflict, InvalidInput, NotFound
from civicgrid.store.models import Category, Department, Grid, Region, User

Coded = TypeVar("Coded", Region, Grid, Department, Category)

_WORDS = {Region: "region", Grid: "grid", Department: "department", Category: "category"}
_WORDS_ZH = {Region: "区域", Grid: "网格", Department: "部门", Category: "分类"}


def by_code(session: Session, model: type[Coded], code: str) -> Coded:
    """The ``model`` row with ``code``, or InvalidInput naming the unknown code."""
    found = session.scalar(select(model).where(model.code == code))
    if found is None:
        raise InvalidInput(
            f"unknown {_WORDS[model]} code '{code}'", zh=f"没有编码为「{code}」的{_WORDS_ZH[model]}"
        )
    return found


def edited_by_code(session: Session, model: type[Coded], code: str) -> Coded:
    """The ``model`` row a request edits (named in its path), or NotFound."""
    found = session.scalar(select(model).where(model.code == code))
    if found is None:
        raise NotFound(f"no {_WORDS[model]} '{code}'")
    return found


def require_unused_code(session: Session, model: type[Coded], code: str) -> None:
    """Refuse a new ``model`` row whose code is taken."""
    if session.scalar(select(model.id).where(model.code == code)) is not None:
        raise Conflict(f"{_WORDS[model]} code '{code}' exists already")


def optional_by_code(session: Session, model: type[Coded], code: str | None) -> Coded | None:
    """Like ``by_code``, passing None through."""
    return None if code is None else by_code(session, model, code)


def user_by_username(session: Session, username: str) -> User | None:
    """The user signing in as ``username``, if any."""
    return session.scalar(select(User).where(User.username == username))
