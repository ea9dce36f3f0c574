"""The companion file of a category file: each small class's questions."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicgrid.catalog import (
    CatalogError,
    default_categories_path,
    load_categories,
    parse_questions,
    questions_path,
)
from civicgrid.domain.questions import Datatype

HEADER = "category_code,code,datatype,required,order,description,values\n"


def test_the_shipped_file_asks_questions_of_some_classes() -> None:
    specs = {spec.code: spec for spec in load_categories(default_categories_path())}
    fault = specs["C0108"].questions
    assert fault is not None and [q.code for q in fault] == ["lamp_number", "fault"]
    assert fault[1].datatype is Datatype.MULTIVALUELIST and fault[1].required
    assert specs["E0105"].questions == ()


def test_a_category_file_without_companion_leaves_questions_alone(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(default_categories_path().read_text(encoding="utf-8"), encoding="utf-8")
    assert questions_path(path) == tmp_path / "mine_questions.csv"
    assert all(spec.questions is None for spec in load_categories(path))
    (tmp_path / "mine_questions.csv").write_text(HEADER + "C0101,q,text,false,1,说明,\n", encoding="utf-8")
    asked = {spec.code: spec.questions for spec in load_categories(path)}
    assert asked["C0101"] is not None and asked["C0101"][0].code == "q" and asked["C0102"] == ()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("C9999,q,text,false,1,说明,\n", "line 2: column 'category_code': no small class 'C9999'"),
        ("C0101,q,colour,false,1,说明,\n", "line 2: 'colour' is not a valid Datatype"),
        ("C0101,q,text,yes,1,说明,\n", "line 2: required is true or false"),
        ("C0101,q,text,false,one,说明,\n", "line 2: invalid literal"),
        ("C0101,,text,false,1,说明,\n", "line 2: code and description must not be empty"),
        ("C0101,q,singlevaluelist,false,1,说明,a=甲;b\n", "line 2: a value is written key=name"),
        ("C0101,q,singlevaluelist,false,1,说明,\n", "line 2: question q: only list questions"),
        ("C0101,q,text,false,1,说明,\nC0101,q,text,false,2,说明,\n", "line 3: question codes must be unique"),
    ],
)
def test_a_bad_questions_file_names_the_line(body: str, reason: str) -> None:
    with pytest.raises(CatalogError, match=reason):
        parse_questions(HEADER + body, {"C0101"})


def test_a_questions_file_needs_its_columns() -> None:
    with pytest.raises(CatalogError, match="the columns must be"):
        parse_questions("category_code,code\n", {"C0101"})
