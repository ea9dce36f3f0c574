"""The briefing's charts, drawn on the server as PNG images with Chinese labels: trend lines,
bars (the longest on top) and pies.

Matplotlib's object API only (no pyplot state), so requests in several threads can draw at
once. The labels need a font with Chinese glyphs: Debian's ``fonts-noto-cjk`` (Noto Sans CJK),
or one of the usual others if installed.
"""

from __future__ import annotations

import logging
from functools import cache
from io import BytesIO

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure

from civicgrid.briefings.content import Chart, ChartKind

matplotlib.use("Agg")
log = logging.getLogger(__name__)

#: Fonts with Chinese glyphs, the first one installed is used.
CHINESE_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans CJK JP",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)
PALETTE = ("#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#558b2f", "#6d4c41")
#: Resolution of the images: sharp on an A4 print, small enough for the HTML page.
DPI = 200
#: A pie shows the slices under this share together as 其他.
PIE_MINIMUM = 0.03
WIDTH_INCHES = 7.0


@cache
def chinese_font() -> str | None:
    """The name of an installed font with Chinese glyphs, or None (then labels show boxes)."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    found = next((name for name in CHINESE_FONTS if name in installed), None)
    if found is None:
        log.warning("no font with Chinese glyphs is installed (apt-get install fonts-noto-cjk)")
    return found


def _figure(height: float) -> Figure:
    font = chinese_font()
    matplotlib.rcParams["axes.unicode_minus"] = False
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    if font is not None:
        matplotlib.rcParams["font.family"] = [font, "DejaVu Sans"]
    return figure


def render(chart: Chart) -> bytes:
    """The chart as a PNG image."""
    values = [value for series in chart.series for value in series.values]
    if not chart.categories or not any(values):
        figure = _figure(1.2)
        axes = figure.add_subplot()
        axes.set_axis_off()
        axes.text(
            0.5, 0.5, f"{chart.title}：本期暂无数据", ha="center", va="center", fontsize=11, color="#616161"
        )
    elif chart.kind is ChartKind.LINE:
        figure = _line(chart)
    elif chart.kind is ChartKind.BAR:
        figure = _bars(chart)
    else:
        figure = _pie(chart)
    out = BytesIO()
    figure.savefig(out, format="png", dpi=DPI, facecolor="white")
    return out.getvalue()


def _line(chart: Chart) -> Figure:
    figure = _figure(3.0)
    axes = figure.add_subplot()
    positions = list(range(len(chart.categories)))
    for index, series in enumerate(chart.series):
        axes.plot(
            positions,
            series.values,
            marker="o",
            markersize=3,
            linewidth=1.6,
            color=PALETTE[index % len(PALETTE)],
            label=series.label,
        )
    step = max(1, len(positions) // 12)
    axes.set_xticks(positions[::step], chart.categories[::step], fontsize=8)
    axes.tick_params(axis="y", labelsize=8)
    axes.set_ylabel(chart.unit, fontsize=9)
    axes.set_ylim(bottom=0)
    axes.grid(axis="y", color="#e0e0e0", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(fontsize=8, frameon=False, ncols=len(chart.series), loc="upper left")
    axes.set_title(chart.title, fontsize=11)
    return figure


def _bars(chart: Chart) -> Figure:
    series = chart.series[0]
    figure = _figure(max(1.6, 0.32 * len(chart.categories) + 0.8))
    axes = figure.add_subplot()
    positions = list(range(len(chart.categories)))[::-1]
    colours = series.colours or [PALETTE[0]] * len(series.values)
    bars = axes.barh(positions, series.values, color=colours, height=0.62)
    axes.set_yticks(positions, chart.categories, fontsize=8)
    axes.bar_label(bars, labels=[f"{value:g}" for value in series.values], padding=3, fontsize=8)
    axes.tick_params(axis="x", labelsize=8)
    axes.set_xlabel(chart.unit, fontsize=9)
    axes.set_xlim(0, max(series.values) * 1.15 or 1)
    axes.grid(axis="x", color="#e0e0e0", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(chart.title, fontsize=11)
    return figure


def _pie(chart: Chart) -> Figure:
    values = chart.series[0].values
    total = sum(values)
    kept = [
        (label, value)
        for label, value in zip(chart.categories, values, strict=True)
        if value >= total * PIE_MINIMUM
    ]
    rest = total - sum(value for _, value in kept)
    if rest:
        kept.append(("其他", rest))
    figure = _figure(2.8)
    axes = figure.add_subplot()
    wedges, _texts, autotexts = axes.pie(
        [value for _, value in kept],
        colors=[PALETTE[index % len(PALETTE)] for index in range(len(kept))],
        autopct="%1.1f%%",
        pctdistance=0.75,
        startangle=90,
        counterclock=False,
        wedgeprops={"linewidth": 1, "edgecolor": "white"},
    )
    for text in autotexts:
        text.set_color("white")
        text.set_fontsize(7)
    axes.legend(
        wedges,
        [f"{label} {value:g}{chart.unit}" for label, value in kept],
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize=8,
        frameon=False,
    )
    axes.set_aspect("equal")
    axes.set_title(chart.title, fontsize=11)
    return figure
