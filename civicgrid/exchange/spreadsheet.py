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
from civicgrid.exchange.orders import Prepared, prepare, received_numbers, store
from civicgrid.exchange.schemas import InboundOrder
from civicgrid.geo.crs import to_wgs84
from civicgrid.geo.index import GridShape, Placement, territory_index
from civicgrid.services.cases import CentreRules
from civicgrid.store.geo import territory_mark
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
    refused before it writes anything, so the rows after it are still checked. The rows'
    points are placed in their grids in one batch."""
    report = ImportReport()
    cache: dict[str, str] = {}
    rows = list(read_orders(path, column_map))
    # Order number → case number of the orders received before, and then of this file's.
    known = received_numbers(
        session, partner, sorted({v["order_number"] for _, v in rows if "order_number" in v})
    )
    checked = [
        (line, values, _check_row(session, partner, values, known, rules, cache)) for line, values in rows
    ]
    placements = _placements(session, [c for _, _, c in checked if isinstance(c, Prepared)])
    for line, values, row in checked:
        if isinstance(row, Prepared):
            outcome = _store_row(session, partner, line, row, known, rules, now, placements)
        elif isinstance(row, InboundOrder):
            outcome = RowOutcome(line, row.order_number, "duplicate", known[row.order_number])
        else:
            outcome = RowOutcome(line, values.get("order_number", ""), "error", detail=row)
        report.rows.append(outcome)
    session.flush()
    return report


def _check_row(
    session: Session,
    partner: Partner,
    values: dict[str, str],
    known: dict[str, str],
    rules: CentreRules,
    cache: dict[str, str],
) -> Prepared | InboundOrder | str:
    """A row checked and translated into a new case; the order alone if it was received
    before (``known``: it is not checked again); or why it cannot be."""
    try:
        order = InboundOrder.model_validate(values)
        if order.order_number in known:
            return order
        return prepare(session, partner, order, rules.calendar.timezone, cache)
    except ValidationError as error:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in error.errors())
    except DomainError as error:
        return error.detail


def _placements(session: Session, checked: list[Prepared]) -> dict[int, Placement[GridShape]]:
    """The grids at each checked row's point (by the row's ``id``), found in one batch."""
    located = [row for row in checked if row.case.lng is not None and row.case.lat is not None]
    if not located:
        return {}
    points = [to_wgs84(row.case.lng, row.case.lat, row.case.crs) for row in located]  # type: ignore[arg-type]
    lngs, lats = zip(*points, strict=True)
    placed = territory_index(session, territory_mark(session)).grids.place_many(lngs, lats)
    return {id(row): placement for row, placement in zip(located, placed, strict=True)}


def _store_row(
    session: Session,
    partner: Partner,
    line: int,
    prepared: Prepared,
    known: dict[str, str],
    rules: CentreRules,
    now: datetime,
    placements: dict[int, Placement[GridShape]],
) -> RowOutcome:
    number = prepared.order.order_number
    if number in known:
        return RowOutcome(line, number, "duplicate", known[number])
    try:
        case = store(session, partner, prepared, rules, now, flush=False, placed=placements.get(id(prepared)))
    except DomainError as error:
        return RowOutcome(line, number, "error", detail=error.detail)
    known[number] = case.number
    return RowOutcome(line, number, "created", case.number)
