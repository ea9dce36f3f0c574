"""The questions a category asks of a report (Open311's service attributes) and the check of
a report's answers against them. Pure: the store keeps questions as plain dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from civicgrid.domain.errors import InvalidInput


class Datatype(StrEnum):
    """How a question is answered (the names are Open311's)."""

    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


DATATYPE_LABELS: dict[Datatype, str] = {
    Datatype.STRING: "单行文字",
    Datatype.NUMBER: "数字",
    Datatype.DATETIME: "日期时间",
    Datatype.TEXT: "多行文字",
    Datatype.SINGLEVALUELIST: "单选",
    Datatype.MULTIVALUELIST: "多选",
}

LISTS = frozenset({Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST})
#: The longest answer kept to a question.
MAX_ANSWER = 2000


@dataclass(frozen=True)
class Choice:
    """One option of a list question: the key sent, the name shown."""

    key: str
    name: str


@dataclass(frozen=True)
class Question:
    """One question of a category, shown in ``order`` (1 first)."""

    code: str
    datatype: Datatype
    description: str
    order: int
    required: bool = False
    values: tuple[Choice, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Question:
        """A question as the store keeps it."""
        return cls(
            code=str(data["code"]),
            datatype=Datatype(data["datatype"]),
            description=str(data.get("description", "")),
            order=int(data["order"]),
            required=bool(data.get("required", False)),
            values=tuple(Choice(str(v["key"]), str(v["name"])) for v in data.get("values", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        """The question as the store keeps it."""
        return {
            "code": self.code,
            "datatype": self.datatype.value,
            "description": self.description,
            "order": self.order,
            "required": self.required,
            "values": [{"key": c.key, "name": c.name} for c in self.values],
        }


def checked_questions(questions: list[Question]) -> list[Question]:
    """``questions`` in order, or InvalidInput naming what is wrong: codes and orders must be
    unique, orders positive, and exactly the list questions have options (unique keys)."""
    codes = [q.code for q in questions]
    orders = [q.order for q in questions]
    if len(set(codes)) != len(codes):
        raise InvalidInput(f"question codes must be unique: {', '.join(codes)}")
    if len(set(orders)) != len(orders) or any(o < 1 for o in orders):
        raise InvalidInput("question orders must be distinct positive numbers")
    for question in questions:
        keys = [c.key for c in question.values]
        if (question.datatype in LISTS) != bool(keys):
            raise InvalidInput(
                f"question {question.code}: only list questions have values, and they need some"
            )
        if len(set(keys)) != len(keys):
            raise InvalidInput(f"question {question.code}: value keys must be unique")
    return sorted(questions, key=lambda q: q.order)


def check_answers(questions: list[Question], answers: dict[str, list[str]]) -> dict[str, Any]:
    """The answers to keep (a list for multivaluelist, else one value) for the raw
    ``answers`` (each code with the values sent), or InvalidInput naming the first problem:
    an unknown code, a required question unanswered, a value not among a list's keys, a
    number or time that does not parse, several values for a single-value question."""
    by_code = {q.code: q for q in questions}
    unknown = sorted(set(answers) - set(by_code))
    if unknown:
        raise InvalidInput(f"unknown attribute(s): {', '.join(unknown)}")
    kept: dict[str, Any] = {}
    for question in sorted(questions, key=lambda q: q.order):
        values = [v.strip() for v in answers.get(question.code, []) if v.strip()]
        if not values:
            if question.required:
                raise InvalidInput(f"attribute {question.code} is required ({question.description})")
            continue
        if question.datatype is not Datatype.MULTIVALUELIST and len(values) > 1:
            raise InvalidInput(f"attribute {question.code} takes one value, got {len(values)}")
        if any(len(v) > MAX_ANSWER for v in values):
            raise InvalidInput(f"attribute {question.code}: at most {MAX_ANSWER} characters")
        for value in values:
            _check_value(question, value)
        kept[question.code] = values if question.datatype is Datatype.MULTIVALUELIST else values[0]
    return kept


def _check_value(question: Question, value: str) -> None:
    if question.datatype in LISTS:
        keys = [c.key for c in question.values]
        if value not in keys:
            raise InvalidInput(f"attribute {question.code}: {value!r} is not one of {', '.join(keys)}")
    elif question.datatype is Datatype.NUMBER:
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(f"attribute {question.code}: {value!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidInput(f"attribute {question.code}: {value!r} is not a finite number")
    elif question.datatype is Datatype.DATETIME:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"attribute {question.code}: {value!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise InvalidInput(f"attribute {question.code}: {value!r} needs a timezone (Z or +08:00)")
    elif question.datatype is Datatype.STRING and ("\n" in value or "\r" in value):
        raise InvalidInput(f"attribute {question.code}: a string answer has no line breaks")
