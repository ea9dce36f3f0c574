"""Column types shared by the models: aware UTC times and enums stored by value."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Dialect, Enum, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware time, stored as UTC; naive times are refused (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: civicgrid stores timezone-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_by_value(enum_class: type[StrEnum], name: str | None = None, **kwargs: Any) -> Enum:
    """An enum column stored as its value (e.g. 'in_progress'), checked by a constraint
    named after ``name`` (default: the enum), which must be unique within its table."""
    return Enum(
        enum_class,
        native_enum=False,
        values_callable=lambda members: [member.value for member in members],
        length=max(len(member.value) for member in enum_class),
        validate_strings=True,
        create_constraint=True,
        name=name or enum_class.__name__.lower(),
        **kwargs,
    )
