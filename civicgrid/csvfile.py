"""The centre's CSV files (the category tree, a year's calendar): UTF-8 text, a header line,
one record a line; every fault is reported with the line (and column) at fault, so that
staff who edit the file in a spreadsheet can find it."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator


class CsvFileError(ValueError):
    """A file that cannot be used; the message names the line and column at fault."""

    def __init__(self, message: str, *, line: int | None = None, column: str | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        what = f"column {column!r}: " if column is not None else ""
        super().__init__(f"{where}{what}{message}")
        self.line = line
        self.column = column


def records(
    text: str, header: Callable[[list[str]], list[str]], error: type[CsvFileError]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Each non-blank record of ``text`` as (line number, {column: stripped value}), its
    columns named by the header line, which ``header`` checks (raising ``error``). A leading
    BOM, as Excel writes, is skipped."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), strict=True)
    try:
        names = header(next(reader))
    except StopIteration:
        raise error("empty file: expected the header line", line=1) from None
    except csv.Error as exc:
        raise error(f"malformed CSV: {exc}", line=1) from None
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise error(f"malformed CSV: {exc}", line=line) from None
        if not any(field.strip() for field in row):
            continue
        if len(row) != len(names):
            raise error(
                f"{len(row)} fields where the header has {len(names)}"
                " (a missing comma, or a field with a comma left unquoted?)",
                line=line,
            )
        yield line, dict(zip(names, (field.strip() for field in row), strict=True))
