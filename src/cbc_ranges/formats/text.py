"""The plain-text report that ``cbc-ranges check`` prints.

One line each for the flag and its HL7 code, the value in 10⁹/L (and what it
was read from when a unit was converted), the range with its population and
source id, and the leukopenia answer; one ``warning:`` line per warning; then
the educational text and the sources. The lines are described in
``docs/cli.md``.

>>> from cbc_ranges import interpret
>>> print(render(interpret("3.2", "K/uL", age=45, sex="F")).splitlines()[0])
flag: low (L)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cbc_ranges.models import Interpretation

__all__ = ["render"]

_LEUKOPENIA_ANSWERS = {True: "yes", False: "no", None: "cannot tell"}


def render(result: Interpretation) -> str:
    """The plain-text report of one interpretation (no trailing newline)."""
    from cbc_ranges.ranges import format_number

    count = result.count
    unit = " %" if count.unit == "%" else " × 10⁹/L"
    value = f"{count.comparator or ''}{format_number(count.value)}{unit}"
    written = count.raw if count.unit_text in count.raw else f"{count.raw} {count.unit_text}"
    if count.unit_text and count.unit != "10*9/L":
        value += f" (read from {written!r})"
    lines = [
        f"flag: {result.flag}" + (f" ({result.code})" if result.code else ""),
        f"summary: {result.summary}" if result.summary else "",
        f"value: {value}" + ("" if result.analyte == "wbc" else f" ({result.analyte})"),
    ]
    lines = [line for line in lines if line]
    reference = result.reference
    if reference is None:
        lines.append("range: none applies")
    else:
        lines.append(
            f"range: {format_number(reference.low or 0.0)}–{format_number(reference.high or 0.0)}"
            f"{unit} for {reference.population.description} [{reference.source.id}]"
        )
    if result.table_flag is not None:
        lines.append(f"table's flag: {result.table_flag}")
    threshold = result.leukopenia_threshold
    if threshold is not None and threshold.low is not None:
        answer = _LEUKOPENIA_ANSWERS[result.leukopenia]
        lines.append(
            f"leukopenia: {answer} (threshold: below {format_number(threshold.low)} × 10⁹/L"
            f" [{threshold.source.id}])"
        )
    elif result.analyte == "wbc":
        lines.append("leukopenia: not assessed (no threshold applies)")
    if result.severity is not None:
        lines.append(f"severity: {result.severity}")
    if result.grade is not None:
        grade = result.grade
        lines.append(f"grade: {grade.grade} ({grade.system}, {grade.term})")
    lines += [f"warning: {warning}" for warning in result.warnings]
    lines += ["", result.text, "", "sources:"]
    lines += [
        f"  [{source.id}] {source.title} ({source.publisher}"
        + (f", {source.date})" if source.date else ")")
        for source in result.sources
    ]
    return "\n".join(lines)
