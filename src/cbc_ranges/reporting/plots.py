"""The report's plots: matplotlib figures written as SVG text, ready to inline in HTML.

matplotlib is the ``report`` extra (``pip install 'cbc-ranges[report]'``) and
is imported here only, on first use, never through pyplot: the figures are
drawn on matplotlib's SVG canvas, so a notebook's own backend is left alone.
Without matplotlib, :func:`available` is False and the report keeps its
tables (it says the plots need the extra).

Colours are the Okabe–Ito palette, which people with the common kinds of
colour blindness can tell apart; every flag also has its own marker shape.
Each SVG has its XML prolog and doctype removed and every ``id`` prefixed, so
that several plots (and several reports) can share one HTML page.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cbc_ranges.reporting.tally import AGE_GROUPS, SampledRow

if TYPE_CHECKING:
    from cbc_ranges.ranges import RangeTable

__all__ = [
    "EXTRA",
    "FLAG_COLOURS",
    "FLAG_MARKERS",
    "age_plot",
    "available",
    "band_steps",
    "group_bars",
    "histogram",
    "inline_svg",
]

#: what to install for the plots
EXTRA = "pip install 'cbc-ranges[report]'"

#: Okabe–Ito colours, one per category of :data:`~cbc_ranges.rows.CATEGORIES`
FLAG_COLOURS: dict[str, str] = {
    "low": "#0072B2",  # blue
    "normal": "#009E73",  # bluish green
    "high": "#D55E00",  # vermillion
    "indeterminate": "#CC79A7",  # reddish purple
    "error": "#7F7F7F",  # grey
}
#: a marker shape per flag, so colour is never the only cue
FLAG_MARKERS: dict[str, str] = {"low": "v", "normal": "o", "high": "^", "indeterminate": "D"}
#: the band of each sex (fill colour of the shaded reference band)
BAND_COLOUR = "#56B4E9"  # sky blue
SEX_LINES: dict[str, str] = {"female": "-", "male": "--", "sex not known": ":"}

_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<!--.*?-->\s*", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')


def available() -> bool:
    """Whether matplotlib (the ``report`` extra) can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG document as an element to inline: no prolog, doctype or comment; ids prefixed.

    >>> inline_svg('<?xml version="1.0"?>\\n<!DOCTYPE svg>\\n<svg><g id="a"/>'
    ...            '<use xlink:href="#a" style="fill: url(#a)"/></svg>', "p1")
    '<svg><g id="p1-a"/><use xlink:href="#p1-a" style="fill: url(#p1-a)"/></svg>'
    """
    svg = _PROLOG.sub("", svg).strip()
    names = set(_ID.findall(svg))
    if not names:
        return svg

    def renamed(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{prefix}-{name}" if name in names else match.group(0)

    svg = re.sub(r'(\bid=")([^"]+)', renamed, svg)
    svg = re.sub(r'(href="#)([^"]+)', renamed, svg)
    return re.sub(r"(url\(#)([^)]+)", renamed, svg)


def _figure(width: float, height: float, left: float = 0.9) -> Any:
    """A figure on matplotlib's SVG canvas, with fixed margins in inches (``left`` for the
    labels): a layout engine would draw every figure twice."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(
        left=left / width,
        right=1 - 0.15 / width,
        bottom=0.6 / height,
        top=1 - 0.35 / height,
        hspace=0.45 * 3 / max(height, 3),
    )
    FigureCanvasSVG(figure)
    return figure


def _svg(figure: Any, prefix: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return inline_svg(buffer.getvalue(), prefix)


def _style() -> Any:
    return {
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.family": "sans-serif",
    }


def histogram(
    sample: Sequence[SampledRow],
    bands: dict[str, list[tuple[float, float]]],
    bin_width: float,
    upper: float,
    prefix: str,
) -> str:
    """The values of the sample by sex, one panel each, with the sex's bands shaded."""
    import matplotlib

    sexes = [sex for sex in ("female", "male", "sex not known") if any(
        row.sex == sex for row in sample)]  # fmt: skip
    with matplotlib.rc_context(_style()):
        figure = _figure(6.4, 1.2 + 1.5 * max(1, len(sexes)))
        axes = figure.subplots(max(1, len(sexes)), 1, sharex=True, squeeze=False)[:, 0]
        edges = [bin_width * step for step in range(math.ceil(upper / bin_width) + 1)]
        for ax, sex in zip(axes, sexes, strict=False):
            values = [min(row.value, upper) for row in sample if row.sex == sex]
            for low, high in bands.get(sex, []):
                ax.axvspan(low, high, color=BAND_COLOUR, alpha=0.25, lw=0)
            ax.hist(values, bins=edges, color="#444444")
            ax.set_ylabel("rows")
            ax.set_title(f"{sex} ({len(values):,} rows of the sample)", loc="left", fontsize=9)
        axes[-1].set_xlabel("count (× 10⁹/L); the last bar holds every higher value")
        return _svg(figure, prefix)


def band_steps(
    table: RangeTable, analyte: str, sex: str
) -> tuple[list[float], list[float | None], list[float | None]]:
    """The table's reference limits by age for a sex: (age edges in years, lows, highs).

    One entry per age band of the table (the children's bands included), from
    birth to 100 years; a band with no range gives None.
    """
    from cbc_ranges.people import Age

    code = {"female": "female", "male": "male"}.get(sex, "unknown")
    edges = {0.0, 100.0}
    for row in table.rows:
        if row.analyte != analyte or row.kind != "reference_interval":
            continue
        for edge in (row.population.age_from, row.population.age_to):
            if edge is not None and 0 < edge < 100:
                edges.add(edge)
    ages = sorted(edges)
    lows: list[float | None] = []
    highs: list[float | None] = []
    for start, end in itertools.pairwise(ages):
        middle = Age.of_years((start + end) / 2)
        reference = table.select(age=middle, sex=code, analyte=analyte).reference  # type: ignore[arg-type]
        lows.append(None if reference is None else reference.low)
        highs.append(None if reference is None else reference.high)
    return ages, lows, highs


def age_plot(
    sample: Sequence[SampledRow],
    steps: dict[str, tuple[list[float], list[float | None], list[float | None]]],
    upper: float,
    prefix: str,
) -> str:
    """The sample's values against age (square-root age axis), a colour and marker per flag,
    and the band limits of each sex drawn as steps."""
    import matplotlib

    from cbc_ranges.rows import CATEGORIES

    with matplotlib.rc_context(_style()):
        figure = _figure(6.4, 3.8)
        ax = figure.subplots()
        ax.set_xscale("function", functions=(_sqrt, _square))
        for sex, (ages, lows, highs) in steps.items():
            style = SEX_LINES.get(sex, "-")
            for limits in (lows, highs):
                ys = [math.nan if y is None else y for y in limits]
                ax.step(ages, [*ys, ys[-1]], where="post", color="#000000", ls=style, lw=1,
                        label=f"{sex}: range limits" if limits is lows else None)  # fmt: skip
        for index, flag in enumerate(CATEGORIES[:4]):
            points = [row for row in sample if row.category == index and row.age_years is not None]
            if not points:
                continue
            ax.scatter(
                [row.age_years for row in points],
                [min(row.value, upper) for row in points],
                s=9,
                marker=FLAG_MARKERS[flag],
                color=FLAG_COLOURS[flag],
                alpha=0.7,
                linewidths=0,
                label=f"{flag} ({len(points):,})",
            )
        ax.set_xticks([0, 1, 2, 5, 11, 18, 30, 50, 70, 100])
        ax.set_xlim(0, 100)
        ax.set_ylim(0, upper)
        ax.set_xlabel("age (years; the axis stretches childhood)")
        ax.set_ylabel("count (× 10⁹/L)")
        ax.legend(fontsize=7, loc="upper right", frameon=False, ncols=2)
        return _svg(figure, prefix)


def _sqrt(values: Any) -> Any:
    import numpy

    return numpy.sqrt(numpy.clip(values, 0, None))


def _square(values: Any) -> Any:
    import numpy

    return numpy.square(values)


def group_bars(
    groups: dict[str, list[tuple[str, list[int]]]], flags: Sequence[str], prefix: str
) -> str:
    """Counts by flag for each group of each dimension: horizontal stacked bars."""
    import matplotlib

    shown = [(name, rows) for name, rows in groups.items() if rows]
    heights = [len(rows) for _, rows in shown]
    with matplotlib.rc_context(_style()):
        figure = _figure(6.4, 0.9 + 0.28 * sum(heights) + 0.5 * len(shown), left=1.4)
        axes = figure.subplots(len(shown), 1, squeeze=False,
                               gridspec_kw={"height_ratios": heights})[:, 0]  # fmt: skip
        for ax, (name, rows) in zip(axes, shown, strict=True):
            labels = [label for label, _ in rows][::-1]
            counts = [counts for _, counts in rows][::-1]
            left = [0] * len(labels)
            for index, flag in enumerate(flags):
                widths = [row[index] for row in counts]
                if not any(widths):
                    continue
                ax.barh(labels, widths, left=left, color=FLAG_COLOURS[flag], label=flag,
                        edgecolor="white", linewidth=0.5)  # fmt: skip
                left = [a + b for a, b in zip(left, widths, strict=True)]
            ax.set_title(f"by {name}", loc="left", fontsize=9)
            ax.tick_params(axis="y", labelsize=8)
        axes[0].legend(fontsize=7, loc="lower right", frameon=False, ncols=len(flags))
        axes[-1].set_xlabel("rows")
        return _svg(figure, prefix)


#: the age groups in the order the report lists them
AGE_ORDER = [label for label, _, _ in AGE_GROUPS]
