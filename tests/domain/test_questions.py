"""A category's questions and the check of a report's answers."""

from __future__ import annotations

import pytest

from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.questions import Choice, Datatype, Question, check_answers, checked_questions

COLOUR = Question("colour", Datatype.SINGLEVALUELIST, "颜色", 2, True, (Choice("r", "红"), Choice("g", "绿")))
PARTS = Question("parts", Datatype.MULTIVALUELIST, "部件", 3, False, (Choice("a", "甲"), Choice("b", "乙")))
SIZE = Question("size", Datatype.NUMBER, "面积", 1)
SEEN = Question("seen", Datatype.DATETIME, "发现时间", 4)
NAME = Question("name", Datatype.STRING, "名称", 5)
STORY = Question("story", Datatype.TEXT, "经过", 6)
ALL = [COLOUR, PARTS, SIZE, SEEN, NAME, STORY]


def test_questions_round_trip_and_come_in_order() -> None:
    assert [q.code for q in checked_questions(ALL)] == ["size", "colour", "parts", "seen", "name", "story"]
    assert all(Question.from_dict(q.to_dict()) == q for q in ALL)


@pytest.mark.parametrize(
    ("questions", "reason"),
    [
        ([SIZE, Question("size", Datatype.TEXT, "x", 9)], "codes must be unique"),
        ([SIZE, Question("other", Datatype.TEXT, "x", 1)], "orders must be distinct"),
        ([Question("zero", Datatype.TEXT, "x", 0)], "positive"),
        ([Question("list", Datatype.SINGLEVALUELIST, "x", 1)], "need some"),
        ([Question("text", Datatype.TEXT, "x", 1, values=(Choice("a", "A"),))], "only list questions"),
        (
            [Question("dup", Datatype.MULTIVALUELIST, "x", 1, values=(Choice("a", "A"), Choice("a", "B")))],
            "unique",
        ),
    ],
)
def test_bad_questions_are_refused(questions: list[Question], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        checked_questions(questions)


def test_good_answers_are_kept_in_their_shape() -> None:
    answers = {
        "colour": ["r"],
        "parts": ["a", "b"],
        "size": [" 2.5 "],
        "seen": ["2026-09-30T08:00:00Z"],
        "name": ["灯杆"],
        "story": ["第一行\n第二行"],
    }
    assert check_answers(ALL, answers) == {
        "size": "2.5",
        "colour": "r",
        "parts": ["a", "b"],
        "seen": "2026-09-30T08:00:00Z",
        "name": "灯杆",
        "story": "第一行\n第二行",
    }
    assert check_answers(ALL, {"colour": ["g"], "parts": [""]}) == {"colour": "g"}


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        ({}, "colour is required"),
        ({"colour": ["  "]}, "colour is required"),
        ({"colour": ["x"]}, "'x' is not one of r, g"),
        ({"colour": ["r", "g"]}, "takes one value"),
        ({"colour": ["r"], "parts": ["a", "z"]}, "'z' is not one of a, b"),
        ({"colour": ["r"], "size": ["big"]}, "not a number"),
        ({"colour": ["r"], "size": ["nan"]}, "not a finite number"),
        ({"colour": ["r"], "seen": ["yesterday"]}, "not an ISO 8601 time"),
        ({"colour": ["r"], "seen": ["2026-09-30T08:00:00"]}, "needs a timezone"),
        ({"colour": ["r"], "name": ["a\nb"]}, "no line breaks"),
        ({"colour": ["r"], "story": ["长" * 2001]}, "at most 2000"),
        ({"colour": ["r"], "shoe": ["42"]}, "unknown attribute"),
    ],
)
def test_bad_answers_are_refused(answers: dict[str, list[str]], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        check_answers(ALL, answers)
