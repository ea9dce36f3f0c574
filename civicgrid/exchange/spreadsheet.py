"""Work orders from the spreadsheets 12345 platforms export (xlsx or CSV), imported all or
nothing: every row is checked and stored in one transaction, and one bad row — named with
its line and reason — leaves the store as it was. Columns are found by their Chinese
headers through a column map the centre can edit (``civicgrid/data/order_columns.csv``:
``field,headers`` with the accepted headers of each field separated by ``|``)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.orm import Session

from civicgrid.domain.errors import DomainError
from civicgrid.exchange.orders import prepare, received_numbers, store
from civicgrid.exchange.schemas import InboundOrder
from civicgrid.services.cases import CentreRules
from civicgrid.store.models import Partner

#: Fields an order cannot do without.
REQUIRED = ("order_number", "content", "category")
FIELDS = tuple(name for name in InboundOrder.model_fields if name not in {"crs", "urgency"})


class SpreadsheetError(Exception):
    """The file or its column map cannot be read as work orders at all."""


def default_column_map_path() -> Path:
    """The column map shipped with civicgrid."""
    return Path(__file__).resolve().parent.parent / "data" / "order_columns.csv"


def load_column_map(path: Path) -> dict[str, list[str]]:
    """Field → the headers it may have, from a ``field,headers`` CSV."""
    mapping: dict[str, list[str]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or {"field", "headers"} - set(reader.fieldnames):
            raise SpreadsheetError(f"{path}: a column map has the columns field,headers")
        for line, row in enumerate(reader, start=2):
            name = (row["field"] or "").strip()
            if name not in FIELDS:
                raise SpreadsheetError(
                    f"{path}, line {line}: unknown field '{name}' (known: {', '.join(FIELDS)})"
                )
            mapping[name] = [header.strip() for header in (row["headers"] or "").split("|") if header.strip()]
    missing = [name for name in REQUIRED if not mapping.get(name)]
    if missing:
        raise SpreadsheetError(f"{path}: the column map names no header for {', '.join(missing)}")
    return mapping


Cell = str | int | float | datetime | date | time | None


def _rows(path: Path) -> Iterator[list[Cell]]:
    """The rows of the first sheet of an xlsx file, or of a CSV file (UTF-8, else GB18030)."""
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a file that is no workbook
            raise SpreadsheetError(f"{path}: not a readable xlsx workbook ({error})") from None
        try:
            for row in book.worksheets[0].iter_rows(values_only=True):
                yield list(row)
        finally:
            book.close()
        return
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise SpreadsheetError(f"{path}: neither UTF-8 nor GB18030 text")
    yield from csv.reader(text.splitlines())


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float) and value.is_integer() and abs(value) > 1000:
        return str(int(value))  # an order number Excel stored as a number
    return str(value).strip()


@dataclass
class RowOutcome:
    """What happened (or, in a dry run, would happen) to one row."""

    line: int
    order_number: str
    outcome: str  # created, duplicate, error
    case_number: str = ""
    detail: str = ""


@dataclass
class ImportReport:
    """Every row's outcome, in file order."""

    rows: list[RowOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """How many rows had ``outcome``."""
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def errors(self) -> list[RowOutcome]:
        """The bad rows."""
        return [row for row in self.rows if row.outcome == "error"]


def read_orders(path: Path, column_map: dict[str, list[str]]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, field → text) for each non-empty row under the header row."""
    rows = _rows(path)
    header = next(rows, None)
    if header is None:
        raise SpreadsheetError(f"{path}: the file is empty")
    names = [_text(cell) for cell in header]
    columns: dict[str, int] = {}
    for name, headers in column_map.items():
        found = next((names.index(h) for h in headers if h in names), None)
        if found is not None:
            columns[name] = found
    missing = [f"{column_map[name][0]} ({name})" for name in REQUIRED if name not in columns]
    if missing:
        raise SpreadsheetError(
            f"{path}: missing column {', '.join(missing)}; the header row has {', '.join(n for n in names if n)}"
        )
    for line, row in enumerate(rows, start=2):
        values = {name: _text(row[index]) if index < len(row) else "" for name, index in columns.items()}
        if any(values.values()):
            yield line, {name: value for name, value in values.items() if value}


def import_orders(
    session: Session,
    partner: Partner,
    path: Path,
    column_map: dict[str, list[str]],
    rules: CentreRules,
    now: datetime,
) -> ImportReport:
    """Check and store every row of ``path`` in the session's transaction; the caller
    commits only when the report has no errors (and it is not a dry run). A bad row is
    refused before it writes anything, so the rows after it are still checked."""
    report = ImportReport()
    cache: dict[str, str] = {}
    rows = list(read_orders(path, column_map))
    # Order number → case number of the orders received before, and then of this file's.
    known = received_numbers(
        session, partner, sorted({v["order_number"] for _, v in rows if "order_number" in v})
    )
    for line, values in rows:
        report.rows.append(_import_row(session, partner, line, values, known, rules, now, cache))
    session.flush()
    return report


def _import_row(
    session: Session,
    partner: Partner,
    line: int,
    values: dict[str, str],
    known: dict[str, str],
    rules: CentreRules,
    now: datetime,
    cache: dict[str, str],
) -> RowOutcome:
    number = values.get("order_number", "")
    try:
        order = InboundOrder.model_validate(values)
        if order.order_number in known:
            return RowOutcome(line, number, "duplicate", known[order.order_number])
        prepared = prepare(session, partner, order, rules.calendar.timezone, cache)
        case = store(session, partner, prepared, rules, now, flush=False)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in error.errors()
        )
        return RowOutcome(line, number, "error", detail=problems)
    except DomainError as error:
        return RowOutcome(line, number, "error", detail=error.detail)
    known[order.order_number] = case.number
    return RowOutcome(line, number, "created", case.number)
