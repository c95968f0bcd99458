"""The row engine's position cache: an exact count's outcome is shared by every count
that lies between the same two edges of its class (or on the same edge).

Each outcome the cache hands out is compared with the outcome worked out afresh
(``_assessed``, no cache), for every class of the standard table and every analyte,
at every edge, a hair either side of it and at random values.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbc_ranges.analytes import analytes
from cbc_ranges.rows import ParsedCell, PersonClass, RowInterpreter, edges

AGES = ("0 days", "2 days", "10 days", "3 months", "1", "3", "8", "15", "17", "18", "45", "85", "")
SEXES = ("F", "M", "")
ETHNICITIES = ("", "African", "Middle Eastern", "Asian")


def classes(rows: RowInterpreter) -> list[PersonClass]:
    found = {rows.person(*cells) for cells in itertools.product(AGES, SEXES, ETHNICITIES)}
    return [person for person in found if person.error is None]


INTERPRETERS = {name: RowInterpreter(analyte=name) for name in analytes()}
CLASSES = {name: classes(rows) for name, rows in INTERPRETERS.items()}


def fresh(rows: RowInterpreter, parsed: ParsedCell, person: PersonClass) -> tuple[str, ...]:
    """The outcome's cells worked out without any cache."""
    assert parsed.count is not None and person.prepared is not None
    return rows._assessed(parsed.count, parsed, person, person.prepared).tail


def near(edge: float) -> list[float]:
    return [math.nextafter(edge, -math.inf), edge, math.nextafter(edge, math.inf)]


@pytest.mark.parametrize("name", sorted(INTERPRETERS))
def test_every_edge_and_its_neighbours_get_the_outcome_worked_out_afresh(name: str) -> None:
    rows = INTERPRETERS[name]
    assert CLASSES[name], "the standard table has classes for every analyte"
    for person in CLASSES[name]:
        assert list(person.edges) == sorted(set(person.edges))
        values = [v for edge in person.edges for v in near(edge) if v >= 0]
        values += [(a + b) / 2 for a, b in itertools.pairwise(person.edges)]
        for value in values:
            parsed = rows.parse(repr(value), "10^9/L")
            if parsed.count is None or parsed.count.value != value:
                continue  # a value the parser reads otherwise (its own spelling) is not at stake
            assert rows.outcome(parsed, person).tail == fresh(rows, parsed, person), value


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(INTERPRETERS)),
    at=st.integers(min_value=0),
    values=st.lists(st.floats(min_value=0, max_value=2e5, allow_nan=False), min_size=1),
)
def test_any_counts_get_the_outcome_worked_out_afresh(
    name: str, at: int, values: list[float]
) -> None:
    rows = INTERPRETERS[name]
    person = CLASSES[name][at % len(CLASSES[name])]
    for value in values:
        parsed = rows.parse(value, "10^9/L")
        if parsed.count is None:
            continue
        assert rows.outcome(parsed, person).tail == fresh(rows, parsed, person)


def test_an_implausible_count_keeps_its_own_warning() -> None:
    rows = INTERPRETERS["wbc"]
    person = rows.person("40", "F")
    high = rows.analyte.plausible[1]
    a, b = high * 2, high * 3
    first, second = (rows.outcome(rows.parse(v, "10^9/L"), person) for v in (a, b))
    assert person.position(a) == person.position(b)
    assert first.tail[0] == second.tail[0] == "indeterminate"
    assert first.tail != second.tail, "the warning quotes the value"


def test_edges_hold_every_limit_of_the_class() -> None:
    person = INTERPRETERS["wbc"].person("40", "F")
    assert person.prepared is not None
    found = edges(person.prepared)
    assert {4.0, 4.5, 11.0} <= set(found)
    assert set(person.prepared.analyte.plausible) <= set(found)
