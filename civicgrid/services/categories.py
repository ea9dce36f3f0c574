"""The category tree in the store: import a centre's file, add or edit a class by hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicgrid.catalog import CategorySpec
from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.limits import parse_limit
from civicgrid.domain.questions import checked_questions
from civicgrid.domain.vocabulary import Stage, Urgency
from civicgrid.schemas import CategoryIn, CategoryPatch, QuestionIn
from civicgrid.services.directory import apply_changes, require_top_admin
from civicgrid.store.lookups import by_code, edited_by_code, require_unused_code
from civicgrid.store.models import Category, User


@dataclass(frozen=True)
class ImportResult:
    """What an import changed."""

    added: int
    updated: int


def import_categories(session: Session, specs: Sequence[CategorySpec]) -> ImportResult:
    """Add or update every class of ``specs`` (matched by code); classes absent from the
    file stay as they are, so cases filed under them keep their category."""
    existing = {category.code: category for category in session.scalars(select(Category))}
    added = updated = 0
    for spec in specs:
        big = existing.get(spec.big_code)
        if big is None:
            big = Category(code=spec.big_code, kind=spec.kind, closure_standard="", limits={})
            session.add(big)
            existing[spec.big_code] = big
            added += 1
        big.name = spec.big_name
        small = existing.get(spec.code)
        if small is None:
            small = Category(code=spec.code)
            session.add(small)
            existing[spec.code] = small
            added += 1
        else:
            updated += 1
        small.name = spec.name
        small.kind = spec.kind
        small.parent = big
        small.department_function = spec.department_function
        small.closure_standard = spec.closure_standard
        small.limits = {urgency: dict(stages) for urgency, stages in spec.limits.items()}
        small.is_active = True
        if spec.questions is not None:
            small.questions = [question.to_dict() for question in spec.questions]
    session.flush()
    return ImportResult(added=added, updated=updated)


def _checked_limits(limits: dict[Urgency, dict[Stage, str]]) -> dict[str, dict[str, str]]:
    checked: dict[str, dict[str, str]] = {}
    for urgency, stages in limits.items():
        for stage, text in stages.items():
            try:
                parse_limit(text)
            except ValueError as error:
                raise InvalidInput(f"limits.{urgency.value}.{stage.value}: {error}") from None
        checked[urgency.value] = {stage.value: text.strip() for stage, text in stages.items()}
    return checked


def _checked_questions(questions: list[QuestionIn]) -> list[dict[str, Any]]:
    return [question.to_dict() for question in checked_questions([q.question() for q in questions])]


def create_category(session: Session, actor: User, data: CategoryIn) -> Category:
    """Add a big class, or a small class under an existing big class (the category tree is
    district-wide: admins of the top region edit it)."""
    require_top_admin(actor, "the category tree")
    require_unused_code(session, Category, data.code)
    parent = None
    if data.parent_code is not None:
        parent = by_code(session, Category, data.parent_code)
        if parent.parent_id is not None:
            raise InvalidInput(f"'{data.parent_code}' is a small class; a class goes under a big class")
    elif data.limits:
        raise InvalidInput("limits belong to small classes; give parent_code")
    category = Category(
        code=data.code,
        name=data.name,
        kind=data.kind,
        parent=parent,
        department_function=data.department_function,
        closure_standard=data.closure_standard,
        limits=_checked_limits(data.limits),
        is_active=True,
        questions=_checked_questions(data.questions),
    )
    session.add(category)
    session.flush()
    return category


def update_category(session: Session, actor: User, code: str, data: CategoryPatch) -> Category:
    """Edit a class; new limits apply to each open case from its next change on."""
    require_top_admin(actor, "the category tree")
    category = edited_by_code(session, Category, code)
    changes = data.model_dump(exclude_unset=True)
    if "limits" in changes:
        if data.limits is None:
            raise InvalidInput("limits cannot be empty")
        category.limits = _checked_limits(data.limits)
        changes.pop("limits")
    if "questions" in changes:
        category.questions = _checked_questions(data.questions or [])
        changes.pop("questions")
    apply_changes(category, changes, nullable=frozenset({"department_function"}))
    session.flush()
    return category


def list_categories(session: Session) -> list[Category]:
    """The whole tree, big classes before their small classes, by code."""
    return list(session.scalars(select(Category).order_by(Category.code)))
