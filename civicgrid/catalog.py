"""The category tree (大类 → 小类, with closure standard, handling department and stage
limits) read from a centre's CSV file into plain objects. No database here: the store
imports these specs.

The file has one row per small class, its big class repeated on each row; see the
shipped ``civicgrid/data/categories.csv`` (modelled on GB/T 30428.2) for the columns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from civicgrid.csvfile import CsvFileError, records
from civicgrid.domain.errors import InvalidInput
from civicgrid.domain.limits import parse_limit
from civicgrid.domain.questions import Choice, Datatype, Question, checked_questions
from civicgrid.domain.vocabulary import CaseKind, DepartmentFunction, Stage, Urgency

#: The file's columns, in the order the shipped file writes them.
COLUMNS: tuple[str, ...] = (
    "big_code",
    "big_name",
    "code",
    "name",
    "kind",
    "department_function",
    "closure_standard",
    *(f"{stage.value}_limit" for stage in Stage),
    *(f"urgent_{stage.value}_limit" for stage in Stage),
)


class CatalogError(CsvFileError):
    """A category file that cannot be used; the message names the line and column at fault."""


@dataclass(frozen=True)
class CategorySpec:
    """One small class of the category tree, with its big class, as a centre's file gives it.

    ``limits`` maps urgency (``"normal"``, ``"urgent"``) to stage (``"verify"``, ``"dispatch"``,
    ``"handle"``, ``"check"``) to the limit text (``"2h"``, ``"4wh"``, ``"3wd"``); every
    stage is present, and urgent limits left blank in the file are the normal ones.
    """

    big_code: str
    big_name: str
    code: str
    name: str
    kind: CaseKind
    department_function: DepartmentFunction | None
    closure_standard: str
    limits: dict[str, dict[str, str]]
    line: int
    #: The class's questions from the companion file; None when there is no such file, so
    #: that questions edited through the admin API are kept.
    questions: tuple[Question, ...] | None = None

    def limit(self, stage: Stage, urgency: Urgency = Urgency.NORMAL) -> str:
        """The limit text of ``stage`` at ``urgency``."""
        return self.limits[urgency.value][stage.value]


def parse_categories(text: str) -> list[CategorySpec]:
    """Parse the text of a category file; raise CatalogError at the first fault."""
    specs: list[CategorySpec] = []
    seen_codes: dict[str, int] = {}
    big_names: dict[str, tuple[str, int]] = {}
    for line, row in records(text, _checked_header, CatalogError):
        spec = _parse_row(row, line)
        if spec.code in seen_codes:
            raise CatalogError(
                f"duplicate code {spec.code!r} (first on line {seen_codes[spec.code]})",
                line=line,
                column="code",
            )
        seen_codes[spec.code] = line
        known = big_names.setdefault(spec.big_code, (spec.big_name, line))
        if known[0] != spec.big_name:
            raise CatalogError(
                f"big class {spec.big_code!r} named {spec.big_name!r} here"
                f" but {known[0]!r} on line {known[1]}",
                line=line,
                column="big_name",
            )
        specs.append(spec)
    return specs


def load_categories(path: Path) -> list[CategorySpec]:
    """Read a UTF-8 category file (a leading BOM, as Excel writes, is accepted) and parse it,
    with the questions of its companion file ``<name>_questions.csv`` beside it, if any
    (the shipped ``category_questions.csv`` accompanies ``categories.csv``)."""
    path = Path(path)
    specs = parse_categories(path.read_text(encoding="utf-8-sig"))
    companion = questions_path(path)
    if not companion.exists():
        return specs
    questions = parse_questions(companion.read_text(encoding="utf-8-sig"), {s.code for s in specs})
    return [replace(spec, questions=tuple(questions.get(spec.code, ()))) for spec in specs]


def questions_path(categories: Path) -> Path:
    """The companion file of a category file: ``categories.csv`` → ``category_questions.csv``,
    any other ``NAME.csv`` → ``NAME_questions.csv``."""
    if categories.name == "categories.csv":
        return categories.with_name("category_questions.csv")
    return categories.with_name(f"{categories.stem}_questions.csv")


#: The columns of a questions file; ``values`` lists a list question's options as
#: ``key=name;key=name``.
QUESTION_COLUMNS = ("category_code", "code", "datatype", "required", "order", "description", "values")


def parse_questions(text: str, known: set[str]) -> dict[str, list[Question]]:
    """The questions of each small class of ``known`` that the text of a questions file
    asks, in order; CatalogError at the first fault."""

    def header(names: list[str]) -> list[str]:
        found = [name.strip() for name in names]
        if sorted(found) != sorted(QUESTION_COLUMNS):
            raise CatalogError(f"the columns must be {', '.join(QUESTION_COLUMNS)}", line=1)
        return found

    asked: dict[str, list[Question]] = {}
    for line, row in records(text, header, CatalogError):
        code = row["category_code"]
        if code not in known:
            raise CatalogError(
                f"no small class {code!r} in the category file", line=line, column="category_code"
            )
        try:
            question = _question(row)
            asked[code] = checked_questions([*asked.get(code, []), question])
        except (ValueError, InvalidInput) as error:
            raise CatalogError(str(error), line=line) from None
    return asked


def _question(row: dict[str, str]) -> Question:
    if not row["code"] or not row["description"]:
        raise ValueError("code and description must not be empty")
    if row["required"] not in ("true", "false"):
        raise ValueError(f"required is true or false, not {row['required']!r}")
    choices = []
    for item in filter(None, (part.strip() for part in row["values"].split(";"))):
        key, _, name = item.partition("=")
        if not key.strip() or not name.strip():
            raise ValueError(f"a value is written key=name, not {item!r}")
        choices.append(Choice(key.strip(), name.strip()))
    return Question(
        code=row["code"],
        datatype=Datatype(row["datatype"]),
        description=row["description"],
        order=int(row["order"]),
        required=row["required"] == "true",
        values=tuple(choices),
    )


def default_categories_path() -> Path:
    """The category file shipped with civicgrid."""
    return Path(str(resources.files("civicgrid") / "data" / "categories.csv"))


def _checked_header(names: list[str]) -> list[str]:
    header = [name.strip() for name in names]
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise CatalogError(f"unknown column(s) {', '.join(map(repr, unknown))}", line=1)
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        raise CatalogError(f"column(s) given twice: {', '.join(map(repr, doubled))}", line=1)
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise CatalogError(f"missing column(s) {', '.join(map(repr, missing))}", line=1)
    return header


def _parse_row(row: dict[str, str], line: int) -> CategorySpec:
    for column in ("big_code", "big_name", "code", "name"):
        if not row[column]:
            raise CatalogError("must not be empty", line=line, column=column)
    code, big_code = row["code"], row["big_code"]
    if not code.startswith(big_code) or code == big_code:
        raise CatalogError(
            f"code {code!r} does not extend its big class code {big_code!r}", line=line, column="code"
        )
    try:
        kind = CaseKind(row["kind"])
    except ValueError:
        raise CatalogError(
            f"unknown kind {row['kind']!r} (expected one of {_choices(CaseKind)})", line=line, column="kind"
        ) from None
    function: DepartmentFunction | None = None
    if row["department_function"]:
        try:
            function = DepartmentFunction(row["department_function"])
        except ValueError:
            raise CatalogError(
                f"unknown department function {row['department_function']!r}"
                f" (expected one of {_choices(DepartmentFunction)}, or empty)",
                line=line,
                column="department_function",
            ) from None
    normal = {stage.value: _limit(row, f"{stage.value}_limit", line) for stage in Stage}
    urgent = {
        stage.value: _limit(row, f"urgent_{stage.value}_limit", line, default=normal[stage.value])
        for stage in Stage
    }
    return CategorySpec(
        big_code=big_code,
        big_name=row["big_name"],
        code=code,
        name=row["name"],
        kind=kind,
        department_function=function,
        closure_standard=row["closure_standard"],
        limits={Urgency.NORMAL.value: normal, Urgency.URGENT.value: urgent},
        line=line,
    )


def _limit(row: dict[str, str], column: str, line: int, default: str | None = None) -> str:
    text = row[column]
    if not text:
        if default is not None:
            return default
        raise CatalogError("must not be empty", line=line, column=column)
    try:
        parse_limit(text)
    except ValueError as exc:
        raise CatalogError(f"bad limit {text!r}: {exc}", line=line, column=column) from None
    return text


def _choices(enum: type[CaseKind] | type[DepartmentFunction]) -> str:
    return ", ".join(member.value for member in enum)
