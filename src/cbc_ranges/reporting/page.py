"""The report as one self-contained HTML page: text, tables and inline SVG plots.

Nothing is loaded from outside the file: the style sheet is inline, plots are
inline SVG, and the only links are plain ``<a href>`` links to the sources
cited. Every style rule is scoped to ``.cbc-report``, so the same markup can
be shown inside a notebook (:meth:`~cbc_ranges.reporting.Report._repr_html_`)
without restyling the notebook. The page reads on a phone (one column, wide
tables scroll sideways) and prints (no figure split across pages).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from cbc_ranges.reporting import plots
from cbc_ranges.reporting.tally import (
    AGE_GROUPS,
    AGE_NOT_GIVEN,
    ERROR_ROWS_SHOWN,
    NOT_READ,
    AnalyteTally,
    ErrorRow,
)
from cbc_ranges.rows import CATEGORIES

if TYPE_CHECKING:
    from cbc_ranges.batch import BatchSummary
    from cbc_ranges.ranges import RangeTable

__all__ = ["NOT_A_DIAGNOSIS", "STYLE", "Provenance", "render_page"]

#: the statement at the top of every report
NOT_A_DIAGNOSIS = (
    "This report is for learning. It is not a diagnosis. A flag only says how a count "
    "compares with a published range. Only a clinician who knows the person can say what "
    "a result means."
)

STYLE = """
.cbc-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  line-height: 1.5; color: #1a1a1a; background: #fff; max-width: 52rem; margin: 0 auto;
  padding: 1rem; }
.cbc-report h1 { font-size: 1.6rem; line-height: 1.2; margin: 0.5rem 0 1rem; }
.cbc-report h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 2px solid #ddd; }
.cbc-report h3 { font-size: 1.05rem; margin-top: 1.5rem; }
.cbc-report .notice { border-left: 6px solid #E69F00; background: #fff7e6; padding: 0.75rem 1rem;
  font-weight: 600; }
.cbc-report .headline { font-size: 1.1rem; }
.cbc-report .scroll { overflow-x: auto; }
.cbc-report table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
.cbc-report th, .cbc-report td { border: 1px solid #ccc; padding: 0.2rem 0.5rem;
  text-align: left; vertical-align: top; }
.cbc-report td.n, .cbc-report th.n { text-align: right; font-variant-numeric: tabular-nums; }
.cbc-report figure { margin: 1rem 0; break-inside: avoid; page-break-inside: avoid; }
.cbc-report figure svg { width: 100%; height: auto; display: block; }
.cbc-report figcaption { font-size: 0.9rem; color: #333; margin-top: 0.3rem; }
.cbc-report .key span { display: inline-block; width: 0.9em; height: 0.9em;
  vertical-align: middle; margin-right: 0.25em; border: 1px solid #999; }
.cbc-report code { font-size: 0.85rem; word-break: break-all; }
.cbc-report .missing { background: #f3f3f3; padding: 0.5rem 1rem; }
@media print {
  .cbc-report { max-width: none; padding: 0; }
  .cbc-report h2 { break-after: avoid; page-break-after: avoid; }
  .cbc-report a { color: inherit; }
}
""".strip()

_NOT_GIVEN_LABELS = (AGE_NOT_GIVEN, f"age {NOT_READ}", NOT_READ, "not given", "not recognised")


@dataclass(frozen=True)
class Provenance:
    """How the report was made: shown in its last section."""

    version: str
    input_name: str
    checksum: str
    table: RangeTable
    options: dict[str, Any]
    made: str
    plots: bool
    sample_size: int


def _n(number: int) -> str:
    return f"{number:,}"


def _table(
    head: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[bool] | None = None
) -> str:
    numeric = numeric or [False] * len(head)
    cells = "".join(
        f'<th scope="col"{" class=n" if numeric[i] else ""}>{escape(h)}</th>'
        for i, h in enumerate(head)
    )
    body = []
    for row in rows:
        body.append(
            "<tr>"
            + "".join(
                f"<td{' class=n' if numeric[i] else ''}>{_cell(value)}</td>"
                for i, value in enumerate(row)
            )
            + "</tr>"
        )
    return (
        f'<div class="scroll"><table><thead><tr>{cells}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return _n(value)
    if isinstance(value, float) or value is None:
        return _number(value)
    return escape(str(value))


def _age_text(years: float) -> str:
    """An age edge the way people say it.

    >>> _age_text(0), _age_text(1 / 12), _age_text(2), _age_text(100)
    ('birth', '1 month', '2 years', '100 years')
    """
    if years <= 0:
        return "birth"
    if years < 2 and abs(years * 12 - round(years * 12)) < 1e-6:
        months = round(years * 12)
        return f"{months} month{'' if months == 1 else 's'}"
    return f"{round(years, 2):g} year{'' if years == 1 else 's'}"


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    from cbc_ranges.ranges import format_number

    return format_number(value)


def _figure(svg: str | None, caption: str, table: str) -> str:
    if svg is None:
        drawing = (
            '<p class="missing">The plot needs matplotlib, the report extra: '
            f"<code>{escape(plots.EXTRA)}</code>. The numbers behind it are below.</p>"
        )
    else:
        drawing = svg
    return f"<figure>{drawing}<figcaption>{caption}</figcaption></figure>{table}"


def _flags_present(tally: AnalyteTally) -> list[str]:
    return [flag for index, flag in enumerate(CATEGORIES) if tally.flags[index] or index < 3]


def _percent_note(tally: AnalyteTally) -> str:
    """What the section says when some values were percentages of the white cell count."""
    if not tally.from_percent and not tally.percent_alone:
        return ""
    text = (
        f"<p>{_n(tally.from_percent)} of these values were written as a percentage of the "
        "white cells. Each was worked out as a count (× 10⁹/L) from the white cell count of "
        "its panel, and that count is what was compared and drawn."
    )
    if tally.percent_alone:
        text += (
            f" {_n(tally.percent_alone)} could not be worked out: no usable white cell count "
            "was found for them (their panel had none, its counts disagreed, or the file was "
            "read without panel columns). Each row's warning says which. A percentage alone "
            "is not flagged: these rows are counted as indeterminate."
        )
    return text + "</p>"


def _headline(tally: AnalyteTally, summary: BatchSummary, *, panels: bool = False) -> str:
    low, normal, high, indeterminate, errors = tally.flags
    checked = tally.rows
    if not tally.in_summary:  # a differential column of a wide file
        return (
            f"<p class=headline><strong>{_n(checked)}</strong> rows had a value: "
            f"<strong>{_n(low)}</strong> low, <strong>{_n(normal)}</strong> normal, "
            f"<strong>{_n(high)}</strong> high, <strong>{_n(indeterminate)}</strong> "
            f"indeterminate, and <strong>{_n(errors)}</strong> that could not be read. "
            "The file's summary counts the white cell count of each row, not these.</p>"
            + _table(
                ["rows with a value", *CATEGORIES[:4], "could not be read"],
                [[checked, low, normal, high, indeterminate, errors]],
                [True] * 6,
            )
            + _percent_note(tally)
        )
    parts = [
        f"<p class=headline><strong>{_n(checked)}</strong> rows checked: "
        f"<strong>{_n(low)}</strong> low, <strong>{_n(normal)}</strong> normal, "
        f"<strong>{_n(high)}</strong> high, <strong>{_n(indeterminate)}</strong> "
        f"indeterminate (no range could settle it), and <strong>{_n(errors)}</strong> "
        "that could not be read.</p>",
        (
            f"<p>{_n(summary.rows_read)} rows were read from the file. The table at the top "
            "counts every test.</p>"
        )
        if panels
        else f"<p>{_n(summary.rows_read)} rows were read from the file"
        + (
            f"; {_n(summary.skipped)} were left out by the filter you gave (--where)"
            if summary.skipped
            else ""
        )
        + ".</p>",
        _table(
            ["rows read", "rows checked", *CATEGORIES[:4], "could not be read"],
            [[summary.rows_read, checked, low, normal, high, indeterminate, errors]],
            [True] * 7,
        ),
        _percent_note(tally),
    ]
    return "".join(parts)


def _overview(tallies: Sequence[AnalyteTally], summary: BatchSummary, unassigned: int) -> str:
    """The counts of every analyte of whole panels, adding up to the file's summary."""
    rows: list[list[Any]] = []
    for tally in tallies:
        if not tally.in_summary:
            continue
        rows.append([tally.label, tally.rows, *tally.flags, tally.listed])
    if unassigned:
        rows.append(["test not known (row could not be read)", unassigned, 0, 0, 0, 0,
                     unassigned, 0])  # fmt: skip
    listed = sum(tally.listed for tally in tallies if tally.in_summary)
    other = summary.skipped - listed
    checked = summary.low + summary.normal + summary.high + summary.indeterminate
    rows.append(["all rows", checked + summary.errors, summary.low, summary.normal,
                 summary.high, summary.indeterminate, summary.errors, listed])  # fmt: skip
    return (
        "<h2>Every test in the file</h2>"
        f"<p>The file holds whole panels. {_n(summary.rows_read)} rows were read. Each test "
        "has its own section below. "
        + (
            f"{_n(other)} rows were not checked: other tests, or rows left out by a filter. "
            if other
            else ""
        )
        + "The last line is the file's summary: the lines above add up to it.</p>"
        + _table(
            ["test", "rows checked", *CATEGORIES[:4], "could not be read", "listed, not flagged"],
            rows,
            [False, *[True] * 7],
        )
    )


def _listed_section(tally: AnalyteTally, key: str) -> str:
    """Bands: an item with no range of its own, listed and never flagged."""
    return (
        f'<section id="{escape(key)}"><h2>{escape(tally.label)}</h2>'
        f"<p class=headline><strong>{_n(tally.listed)}</strong> rows were read. They are "
        "listed, not flagged.</p>"
        "<p>Bands are young neutrophils. There is no reference range for them on their own "
        "here, so no row gets a flag. A neutrophil percentage of the same panel includes "
        "them.</p>" + _units_section(tally) + "</section>"
    )


def _bands_by_sex(tally: AnalyteTally) -> dict[str, list[tuple[float, float]]]:
    """The bands of at least a tenth of each sex's sampled rows (those the plot shades)."""
    shaded: dict[str, list[tuple[float, float]]] = {}
    for sex in ("female", "male", "sex not known"):
        rows = [row for row in tally.sample if row.sex == sex]
        counts: dict[tuple[float, float], int] = {}
        for row in rows:
            if row.low is not None and row.high is not None:
                counts[row.low, row.high] = counts.get((row.low, row.high), 0) + 1
        shaded[sex] = [band for band, n in counts.items() if n >= max(1, len(rows) / 10)]
    return shaded


def _axis(tally: AnalyteTally) -> tuple[float, float]:
    """(the top of the value axes, the histogram's bin width).

    The top is the 99th centile of the sample, raised to clear the bands and
    held to three times the highest band (a count typed in the wrong unit must
    not squash every other bar); the last bar holds every higher value.
    """
    from cbc_ranges.reporting.tally import nice_step

    values = sorted(row.value for row in tally.sample)
    if not values:
        return 1.0, tally.bin_width
    top = values[min(len(values) - 1, int(len(values) * 0.99))]
    highs = [row.high for row in tally.sample if row.high is not None]
    if highs:
        top = min(max(top, max(highs) * 1.1), max(highs) * 3)
    width = tally.bin_width
    if top / width > 80:
        width = nice_step(top / 60)
    return max(width, math.ceil(top / width) * width), width


def _values_section(tally: AnalyteTally, prefix: str, draw: bool) -> str:
    sample = tally.sample
    if not sample:
        return "<p>No value could be read, so there is nothing to draw.</p>"
    upper, width = _axis(tally)
    bands = _bands_by_sex(tally)
    svg = plots.histogram(sample, bands, width, upper, f"{prefix}-h") if draw else None
    sexes = [sex for sex in ("female", "male", "sex not known") if any(
        row.sex == sex for row in sample)]  # fmt: skip
    bins = math.ceil(upper / width)
    counts = {sex: [0] * bins for sex in sexes}
    for row in sample:
        index = min(bins - 1, int(min(row.value, upper) // width))
        counts[row.sex][index] += 1
    rows = []
    for index in range(bins):
        if not any(counts[sex][index] for sex in sexes):
            continue
        start = index * width
        label = f"{_number(start)} to {_number(start + width)}"
        if index == bins - 1:
            label = f"{_number(start)} and above"
        rows.append([label, *(counts[sex][index] for sex in sexes)])
    band_text = "; ".join(
        f"{sex}: " + ", ".join(f"{_number(low)}–{_number(high)}" for low, high in bands[sex])
        for sex in sexes
        if bands.get(sex)
    )
    caption = (
        f"How the counts are spread, for each sex. Each bar is {_number(width)} × 10⁹/L wide. "
        f"The blue shading is the reference range most of these rows were compared with "
        f"({escape(band_text) or 'none'}). Drawn from a random sample of {_n(len(sample))} "
        f"of the {_n(tally.rows - tally.count('error'))} rows that were read "
        "(the same file always gives the same sample)."
    )
    table = _table(["count (× 10⁹/L)", *sexes], rows, [False, *[True] * len(sexes)])
    return _figure(svg, caption, table)


def _age_section(tally: AnalyteTally, table: RangeTable, prefix: str, draw: bool) -> str:
    sample = [row for row in tally.sample if row.age_years is not None]
    if not sample:
        return "<p>No row gave an age, so values cannot be shown against age.</p>"
    sexes = [sex for sex in ("female", "male") if any(row.sex == sex for row in sample)]
    if any(row.sex == "sex not known" for row in sample):
        sexes.append("sex not known")
    steps = {sex: plots.band_steps(table, tally.analyte, sex) for sex in sexes}
    upper, _ = _axis(tally)
    svg = plots.age_plot(sample, steps, upper, f"{prefix}-a") if draw else None
    rows = []
    for sex, (ages, lows, highs) in steps.items():
        for start, end, low, high in zip(ages, ages[1:], lows, highs, strict=False):
            rows.append([sex, f"{_age_text(start)} to {_age_text(end)}", low, high])
    flags = [
        f"{flag}: {_n(sum(1 for row in sample if row.category == index))}"
        for index, flag in enumerate(CATEGORIES[:4])
    ]
    caption = (
        "Each mark is one row of the sample: its count against the person's age. "
        "Colour and shape show the flag (" + ", ".join(flags) + "). The black steps are the "
        "lower and upper limits of the reference range at each age (solid: female, dashed: "
        "male, dotted: sex not known), so the children's ranges show. The age axis is "
        "stretched at the young end. The table gives the limits drawn."
    )
    limits = _table(
        ["sex", "age", "lower limit (× 10⁹/L)", "upper limit (× 10⁹/L)"],
        rows,
        [False, False, True, True],
    )
    return _figure(svg, caption, limits)


def _group_rows(tally: AnalyteTally, dimension: str, flags: Sequence[str]) -> list[
    tuple[str, list[int]]
]:  # fmt: skip
    counter = tally.groups[dimension]
    labels = {label for label, _ in counter}
    if dimension == "age":
        order = [label for label, _, _ in AGE_GROUPS]
    elif dimension == "sex":
        order = ["female", "male", "sex not known"]
    else:
        order = sorted(
            (label for label in labels if label not in _NOT_GIVEN_LABELS),
            key=lambda label: -sum(n for (name, _), n in counter.items() if name == label),
        )
    order += [label for label in _NOT_GIVEN_LABELS if label not in order]
    indices = [CATEGORIES.index(flag) for flag in flags]
    return [
        (label, [counter[label, index] for index in indices]) for label in order if label in labels
    ]


def _groups_section(tally: AnalyteTally, prefix: str, draw: bool) -> str:
    flags = _flags_present(tally)
    groups = {
        "sex": _group_rows(tally, "sex", flags),
        "age group": _group_rows(tally, "age", flags),
        "ancestry group": _group_rows(tally, "ancestry", flags),
    }
    svg = plots.group_bars(groups, flags, f"{prefix}-g") if draw else None
    tables = []
    for name, rows in groups.items():
        tables.append(f"<h4>By {escape(name)}</h4>")
        tables.append(
            _table(
                [name, *flags, "all"],
                [[label, *counts, sum(counts)] for label, counts in rows],
                [False, *[True] * (len(flags) + 1)],
            )
        )
    caption = (
        "How many rows got each flag, for each sex, age group and ancestry group. "
        "Every row of the file is counted here (not a sample). An ancestry group is "
        "what the ethnicity column was read as; most ranges do not depend on it."
    )
    return _figure(svg, caption, "".join(tables))


def _grades_section(tally: AnalyteTally) -> str:
    if not tally.grades:
        return ""
    from cbc_ranges.interpretation import DEFAULT_GRADING
    from cbc_ranges.ranges import grading_systems

    system = grading_systems().get(DEFAULT_GRADING)
    label = system.label if system is not None else DEFAULT_GRADING
    rows = [[f"grade {grade}", tally.grades[grade]] for grade in sorted(tally.grades)]
    return (
        "<h3>Grades</h3>"
        f"<p>Some counts fall in a band of a grading system ({escape(label)}). Trials use "
        "these grades to describe how far a count is from the usual range. A grade is not a "
        "diagnosis either.</p>" + _table(["grade", "rows"], rows, [False, True])
    )


def _units_section(tally: AnalyteTally) -> str:
    rows = [
        [
            spelling or "(no unit)",
            read_as,
            "—" if factor is None else _number(factor),
            count,
        ]
        for (spelling, read_as, factor), count in tally.units.most_common()
    ]
    parts = [
        "<h3>Units</h3>",
        "<p>Labs write the same unit in many ways. Every value was turned into 10⁹ cells "
        "per litre (× 10⁹/L, the same as K/µL). The factor is what one of the unit is in "
        "10⁹/L."
        + (
            " A percentage (%) has no factor: it is a share of the white cells, not a count."
            if any(read_as == "%" for _, read_as, _ in tally.units)
            else ""
        )
        + "</p>",
        _table(
            ["unit as written", "read as", "factor to 10⁹/L", "rows"],
            rows,
            [False, False, True, True],
        ),
    ]
    if tally.implausible:
        total = sum(tally.implausible.values())
        parts.append(
            f"<p><strong>{_n(total)}</strong> values were far outside what a count can be. "
            "Most often the unit was wrong (cells/µL typed as 10⁹/L, or the reverse). "
            "These rows were not flagged.</p>"
        )
        parts.append(
            _table(
                ["line", "warning"],
                [[line, warning] for line, warning in tally.implausible_examples],
                [True, False],
            )
        )
    else:
        parts.append("<p>No value was far outside what a count can be.</p>")
    return "".join(parts)


def _errors_section(error_rows: Sequence[ErrorRow], errors: int, row_word: str) -> str:
    if not errors:
        return "<h2>Rows that could not be read</h2><p>Every row could be read.</p>"
    rows = [[row.line, " | ".join(row.cells), row.message] for row in error_rows]
    more = errors - len(error_rows)
    return (
        "<h2>Rows that could not be read</h2>"
        f"<p>{_n(errors)} rows could not be read. They got no flag. "
        f"The first {min(errors, ERROR_ROWS_SHOWN)} are listed here"
        + (f"; {_n(more)} more are not." if more > 0 else ".")
        + "</p>"
        + _table([row_word, "cells", "why"], rows, [True, False, False])
    )


def _sources_section(tallies: Sequence[AnalyteTally], table: RangeTable) -> str:
    from cbc_ranges.interpretation import LAB_SOURCE

    counts: dict[str, int] = {}
    for tally in tallies:
        for source, rows in tally.sources.items():
            counts[source] = counts.get(source, 0) + rows
    known = {**table.sources, LAB_SOURCE.id: LAB_SOURCE}
    items = []
    for source_id, rows in sorted(counts.items(), key=lambda item: -item[1]):
        cited = known.get(source_id)
        if cited is None:
            items.append(f"<li>{escape(source_id)} ({_n(rows)} rows)</li>")
            continue
        title = escape(cited.title)
        if cited.url and cited.url.startswith(("https://", "http://")):
            title = f'<a href="{escape(cited.url)}">{title}</a>'
        where = escape(cited.publisher) + (f", {escape(cited.date)}" if cited.date else "")
        items.append(f"<li>{title} ({where}). Used for {_n(rows)} rows.</li>")
    if not items:
        return "<h2>Sources</h2><p>No range was used.</p>"
    return (
        "<h2>Sources</h2><p>The ranges used come from these documents.</p>"
        f"<ul>{''.join(items)}</ul>"
    )


def _provenance_section(provenance: Provenance, summary: BatchSummary) -> str:
    table = provenance.table
    options = {key: value for key, value in provenance.options.items() if value not in (None, "")}
    rows = [
        ["library", f"cbc-ranges {provenance.version}"],
        ["range table", f"{table.name} (SHA-256 {table.sha256 or 'not recorded'})"],
        ["input", provenance.input_name],
        ["input checksum", provenance.checksum],
        ["encoding, delimiter", f"{summary.encoding}, {summary.delimiter!r}"],
        [
            "columns used",
            ", ".join(f"{role}: {name}" for role, name in summary.columns.items() if name)
            or "none",
        ],
        ["options", ", ".join(f"{k}={v!r}" for k, v in options.items()) or "none"],
        ["plots", "drawn with matplotlib" if provenance.plots else "not drawn (no matplotlib)"],
        ["sample for the plots", f"at most {_n(provenance.sample_size)} rows, fixed seed"],
        ["made", provenance.made],
    ]
    notes = "".join(f"<li>{escape(note)}</li>" for note in summary.warnings)
    return (
        "<h2>How this report was made</h2>"
        "<p>The counts come from the same reading of the file as "
        "<code>cbc-ranges batch</code>, in one pass.</p>"
        + _table(["what", "value"], rows)
        + (f"<p>Notes from reading the file:</p><ul>{notes}</ul>" if notes else "")
    )


def render_page(
    tallies: dict[str, AnalyteTally],
    summary: BatchSummary,
    error_rows: Sequence[ErrorRow],
    errors: int,
    provenance: Provenance,
    *,
    prefix: str,
    row_word: str = "line",
    unassigned: int = 0,
) -> tuple[str, str]:
    """(the whole HTML document, the same report as a fragment for a notebook)."""
    draw = provenance.plots
    title = f"White blood cell counts in {provenance.input_name}"
    body = [
        f"<h1>{escape(title)}: a teaching report</h1>",
        f'<p class="notice">{escape(NOT_A_DIAGNOSIS)}</p>',
    ]
    if not draw:
        body.append(
            '<p class="missing">Plots need matplotlib, the report extra: '
            f"<code>{escape(plots.EXTRA)}</code>. Every table is here.</p>"
        )
    if not tallies:
        body.append(_headline_empty(summary))
    # whole panels of a long file: every test's counts, adding up to the summary
    panels = any(tally.analyte != "wbc" for tally in tallies.values()) and all(
        tally.in_summary for tally in tallies.values()
    )
    if panels:
        body.append(_overview(list(tallies.values()), summary, unassigned))
    for number, tally in enumerate(tallies.values(), start=1):
        key = f"{prefix}-{number}"
        if tally.listed and not tally.rows:
            body.append(_listed_section(tally, key))
            continue
        if not tally.rows:
            body += [
                f'<section id="{escape(key)}"><h2>{escape(tally.label)}</h2>',
                _headline(tally, summary, panels=panels),
                "<p>No row was checked, so there is nothing more to show.</p></section>",
            ]
            continue
        body += [
            f'<section id="{escape(key)}"><h2>{escape(tally.label)}</h2>',
            _headline(tally, summary, panels=panels),
            "<h3>Values</h3>",
            _values_section(tally, key, draw),
            "<h3>Values by age</h3>",
            _age_section(tally, provenance.table, key, draw),
            "<h3>Flags by sex, age and ancestry</h3>",
            _groups_section(tally, key, draw),
            _grades_section(tally),
            _units_section(tally),
            "</section>",
        ]
    body += [
        _errors_section(error_rows, errors, row_word),
        _sources_section(list(tallies.values()), provenance.table),
        _provenance_section(provenance, summary),
    ]
    content = "".join(body)
    fragment = f'<div class="cbc-report"><style>{STYLE}</style>{content}</div>'
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f'<body><main class="cbc-report">{content}</main></body></html>\n'
    )
    return document, fragment


def _headline_empty(summary: BatchSummary) -> str:
    return f"<p class=headline>{_n(summary.rows_read)} rows were read, and none was checked.</p>"
