"""The category tree (大类 → 小类, with closure standard, handling department and stage
limits) read from a centre's CSV file into plain objects. No database here: the store
imports these specs.

The file has one row per small class, its big class repeated on each row; see the
shipped ``civicgrid/data/categories.csv`` (modelled on GB/T 30428.2) for the columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from civicgrid.csvfile import CsvFileError, records
from civicgrid.domain.limits import parse_limit
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
    """Read a UTF-8 category file (a leading BOM, as Excel writes, is accepted) and parse it."""
    return parse_categories(Path(path).read_text(encoding="utf-8-sig"))


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
