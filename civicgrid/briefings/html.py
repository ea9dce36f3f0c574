"""The briefing as one self-contained HTML page (charts and logo inlined), from the Jinja2
template ``templates/briefing.html``; the PDF is laid out from the same page for A4 print."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from civicgrid.briefings import charts
from civicgrid.briefings.content import Briefing, Column, ColumnKind, Value, rate_text
from civicgrid.domain.vocabulary import GRADE_COLOURS


def cell_text(value: Value, column: Column) -> str:
    """A value as the page writes it in ``column``."""
    if value is None:
        return "—" if column.kind is not ColumnKind.TEXT else ""
    kind = column.kind
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, str):
        return value
    if kind is ColumnKind.COUNT:
        return f"{int(value):,}"
    if kind is ColumnKind.RATE:
        return rate_text(float(value))
    if kind is ColumnKind.CHANGE:
        return f"{float(value) * 100:+.1f}%"
    if kind is ColumnKind.POINTS:
        return f"{float(value):+.2f}"
    if kind is ColumnKind.SCORE:
        return f"{float(value):.2f}"
    return str(value)


def _data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("civicgrid.briefings", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["cell"] = cell_text
    environment.globals["NUMERIC"] = {
        ColumnKind.COUNT,
        ColumnKind.RATE,
        ColumnKind.CHANGE,
        ColumnKind.POINTS,
        ColumnKind.SCORE,
    }
    environment.globals["GRADE"] = ColumnKind.GRADE
    environment.globals["GRADE_COLOURS"] = GRADE_COLOURS
    return environment


def draw_charts(briefing: Briefing) -> dict[str, bytes]:
    """Each chart of the briefing as a PNG image, by its key."""
    return {chart.key: charts.render(chart) for chart in briefing.charts}


def render(briefing: Briefing, images: Mapping[str, bytes] | None = None, *, for_print: bool = False) -> str:
    """The page; ``images`` are the charts drawn already (drawn here if not given).
    ``for_print`` lays it out for A4 paper, with page numbers."""
    drawn = images if images is not None else draw_charts(briefing)
    template = _environment().get_template("briefing.html")
    return template.render(
        b=briefing,
        charts={key: _data_uri(data) for key, data in drawn.items()},
        logo=_data_uri(briefing.logo) if briefing.logo else None,
        for_print=for_print,
    )
