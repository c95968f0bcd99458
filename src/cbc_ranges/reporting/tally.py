"""The counts behind the teaching report, gathered in the one pass a batch run makes.

A :class:`Tally` listens to :func:`~cbc_ranges.batch.check_csv` (it is a
:class:`~cbc_ranges.batch.writers.RowObserver`), so every count it keeps comes
from the same row engine, the same reading of the file and the same flags as
``cbc-ranges batch``. Per line it does three dict updates on the line's own
cells, never an interpretation:

* ``(age, sex, ethnicity, category)``: the flags by sex, age group and ancestry;
* ``(sex, outcome)``: the values (histogram), the bands, grades and sources used;
* ``(unit, value)``: the unit spellings and the implausible magnitudes.

Lab files repeat themselves, so these hold far fewer keys than the file has
rows; each key is read once at the end (or when a counter reaches
:data:`FOLD_AT` keys, so memory stays flat). The plots of single rows come from
a fixed-size reservoir sample (Vitter's algorithm L, fixed seed: the same file
gives the same report).

Everything is kept per analyte (:class:`AnalyteTally`). A WBC file holds one;
whole panels (a long file read by item, a wide file with differential columns)
hold one per analyte present, heard through ``panel_row``
(:class:`~cbc_ranges.batch.writers.PanelObserver`). Bands have no range of
their own: their rows are listed, never flagged.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from cbc_ranges.analytes import analytes
from cbc_ranges.errors import CBCError
from cbc_ranges.panels import BANDS, PanelRows
from cbc_ranges.people import match_ethnicity, parse_sex, read_age
from cbc_ranges.ranges import ancestry_groups, format_number
from cbc_ranges.rows import CATEGORIES, RowResult
from cbc_ranges.units import read_unit

if TYPE_CHECKING:
    from cbc_ranges.batch.writers import Layout, Writer
    from cbc_ranges.rows import RowInterpreter

__all__ = [
    "AGE_GROUPS",
    "ERROR_ROWS_SHOWN",
    "FOLD_AT",
    "SAMPLE_SIZE",
    "SEED",
    "AnalyteTally",
    "ErrorRow",
    "Reservoir",
    "SampledRow",
    "Tally",
    "age_group",
]

ERROR = CATEGORIES.index("error")
#: how many distinct keys a counter holds before it is read and emptied (flat memory)
FOLD_AT = 1 << 17
#: how many rows that could not be read the report lists (the others are counted)
ERROR_ROWS_SHOWN = 50
#: how many rows the plots of single rows draw, at most
SAMPLE_SIZE = 4000
#: the seed of the sample: the same file gives the same report
SEED = 20261129

#: the age groups of the counts: (label, from years inclusive, to years exclusive)
AGE_GROUPS: tuple[tuple[str, float, float], ...] = (
    ("under 1 month", 0.0, 1 / 12),
    ("1 month to 1 year", 1 / 12, 2.0),
    ("2 to 10 years", 2.0, 11.0),
    ("11 to 17 years", 11.0, 18.0),
    ("18 to 39 years", 18.0, 40.0),
    ("40 to 64 years", 40.0, 65.0),
    ("65 years and over", 65.0, math.inf),
)
AGE_NOT_GIVEN = "age not given"
NOT_READ = "could not be read"
SEX_LABELS = {"female": "female", "male": "male", "unknown": "sex not known"}

# a place in the sample held for a row of the block being read
_IN_BLOCK = object()
# what a key of the outcome counter is: a hot-loop outcome, or (b"", b"", category, RowResult)
_Token = Any


def age_group(years: float | None) -> str:
    """The label of the age group of an age in years (None: not given).

    >>> age_group(0.01), age_group(1.5), age_group(40), age_group(None)
    ('under 1 month', '1 month to 1 year', '40 to 64 years', 'age not given')
    """
    if years is None:
        return AGE_NOT_GIVEN
    for label, start, end in AGE_GROUPS:
        if start <= years < end:
            return label
    return AGE_GROUPS[-1][0]


def nice_step(span: float) -> float:
    """A round bin width near ``span``: 1, 2 or 5 times a power of ten.

    >>> nice_step(0.55), nice_step(0.0042), nice_step(3)
    (0.5, 0.005, 5.0)
    """
    if span <= 0 or not math.isfinite(span):
        return 1.0
    power = 10.0 ** math.floor(math.log10(span))
    for step in (1, 2, 5, 10):
        if span <= step * power * 1.25:
            return float(step * power)
    return 10.0 * power  # pragma: no cover - the loop always returns


@dataclass
class SampledRow:
    """One row of the plot sample: age in years (None: not given), sex, value, category,
    and the range it was compared with (10^9/L)."""

    age_years: float | None
    sex: str
    value: float
    category: int
    low: float | None = None
    high: float | None = None


@dataclass
class ErrorRow:
    """A row that could not be read: its line, its cells as read, the reason."""

    line: int
    cells: list[str]
    message: str


@dataclass
class AnalyteTally:
    """Every count the report shows for one analyte.

    ``flags`` counts each of :data:`~cbc_ranges.rows.CATEGORIES`; ``groups``
    maps ``"sex"``, ``"age"`` and ``"ancestry"`` to counts by (group, category);
    ``bands`` counts rows by (low, high, source) of the range they were
    compared with; ``units`` by (spelling, read as, factor to 10^9/L);
    ``implausible`` by "too high" or "too low". ``sample`` is the plots' sample
    of rows (``bin_width`` in 10^9/L is the histogram's bin).
    """

    analyte: str
    label: str
    bin_width: float
    plausible: tuple[float, float]
    flags: list[int] = field(default_factory=lambda: [0] * len(CATEGORIES))
    groups: dict[str, Counter[tuple[str, int]]] = field(
        default_factory=lambda: {"sex": Counter(), "age": Counter(), "ancestry": Counter()}
    )
    bands: Counter[tuple[float | None, float | None, str]] = field(default_factory=Counter)
    grades: Counter[int] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    units: Counter[tuple[str, str, float | None]] = field(default_factory=Counter)
    implausible: Counter[str] = field(default_factory=Counter)
    implausible_examples: list[tuple[int, str]] = field(default_factory=list)
    sample: list[SampledRow] = field(default_factory=list)
    #: rows whose value was a percentage made a count with the panel's WBC
    from_percent: int = 0
    #: rows whose value was a percentage that could not be made a count (no WBC in the panel)
    percent_alone: int = 0
    #: rows listed but never flagged (bands: no range of their own)
    listed: int = 0
    #: False when the batch summary does not count these rows (the differential of a wide file)
    in_summary: bool = True

    @property
    def rows(self) -> int:
        """Rows checked for this analyte (errors included)."""
        return sum(self.flags)

    def count(self, flag: str) -> int:
        """The rows of one category (``low``, ``normal``... ``error``)."""
        return self.flags[CATEGORIES.index(flag)]


class Reservoir:
    """A uniform sample of at most ``size`` items of a stream (Vitter's algorithm L).

    The caller counts the items it sees and offers the one whose number is
    :attr:`next_at` (so most items cost one comparison).

    >>> sample = Reservoir(3, seed=1)
    >>> for seen in range(1, 1001):
    ...     if seen >= sample.next_at:
    ...         sample.offer(seen, seen)
    >>> len(sample.items), all(1 <= item <= 1000 for item in sample.items)
    (3, True)
    """

    def __init__(self, size: int, seed: int = SEED) -> None:
        self.size = size
        self.random = random.Random(seed)
        self.items: list[Any] = []
        self.next_at = 1 if size > 0 else math.inf
        self.weight = 1.0

    def offer(self, seen: int, item: Any) -> None:
        """Take item number ``seen`` (called when ``seen >= next_at``)."""
        if len(self.items) < self.size:
            self.items.append(item)
            if len(self.items) < self.size:
                self.next_at = seen + 1
                return
            self.weight = math.exp(math.log(self._uniform()) / self.size)
        else:
            self.items[self.random.randrange(self.size)] = item
            self.weight *= math.exp(math.log(self._uniform()) / self.size)
        if self.weight >= 1.0:  # pragma: no cover - needs a uniform of exactly 1
            self.next_at = seen + 1
            return
        skip = math.floor(math.log(self._uniform()) / math.log1p(-self.weight))
        self.next_at = seen + skip + 1

    def _uniform(self) -> float:
        return 1.0 - self.random.random()  # in (0, 1]: its log is finite


class _Counts:
    """The counters of one analyte between two folds, and its sample."""

    def __init__(self, reservoir: Reservoir) -> None:
        self.people: dict[tuple[Any, ...], int] = {}
        self.outcomes: dict[tuple[Any, ...], int] = {}
        # rows by unit cell; rows with an empty unit cell by value cell (its unit is inside)
        self.units: dict[Any, int] = {}
        self.inline: dict[Any, int] = {}
        # rows by a unit known to be one (a percentage of a panel row: "%")
        self.spelled: dict[str, int] = {}
        # one row of each hot-loop outcome (what reading it again needs), and its line
        self.tokens: dict[Any, tuple[Any, ...]] = {}
        self.lines: dict[tuple[Any, ...], int] = {}
        self.reservoir = reservoir
        self.seen = 0

    def size(self) -> int:
        return max(len(self.outcomes), len(self.people), len(self.inline))

    def clear(self) -> None:
        for counter in (self.people, self.outcomes, self.units, self.inline, self.spelled,
                        self.lines):  # fmt: skip
            counter.clear()


class Tally:
    """A :class:`~cbc_ranges.batch.writers.RowObserver` that counts what the report shows.

    Pass it as ``check_csv(..., observer=tally)``; after the run,
    :meth:`finish` gives one :class:`AnalyteTally` per analyte. A line of the
    hot loop costs three dict updates keyed by its own cells: ``people`` by
    (age, sex, ethnicity, category), ``outcomes`` by the outcome the hot loop
    gave it (for a record of the careful path, ``(b"", b"", category, result)``)
    and ``units`` by its unit cell (``inline`` by its value cell when the unit
    cell is empty). The plots come from the sample.
    """

    plain: Callable[[int, list[bytes], tuple[bytes, bytes, int]], None]

    def __init__(self, *, sample_size: int = SAMPLE_SIZE, seed: int = SEED) -> None:
        self.sample_size, self.seed = sample_size, seed
        # the counters of the file's own analyte (WBC), which the hot loop updates
        self.main = _Counts(Reservoir(sample_size, seed))
        self.people, self.outcomes = self.main.people, self.main.outcomes
        self.units, self.inline = self.main.units, self.main.inline
        self.tokens, self.lines = self.main.tokens, self.main.lines
        self.reservoir = self.main.reservoir
        # analyte id -> its counters (the main one included), its tally and interpreter
        self.counts: dict[str, _Counts] = {}
        self.interpreters: dict[str, RowInterpreter] = {}
        self.error_rows: list[ErrorRow] = []
        self.errors = 0
        self.skipped = 0
        #: records that could not be read whose test is not known (a ragged row of a long file)
        self.unassigned = 0
        #: the rows came from a long file read as whole panels
        self.long = False
        self.tallies: dict[str, AnalyteTally] = {}
        self.started = False

    # -- listening ----------------------------------------------------------------------

    def start(self, writer: Writer) -> None:
        """Bind to the writer's layout and interpreter; build the hot-loop listener."""
        self.started = True
        self.layout: Layout = writer.layout
        self.interpreter: RowInterpreter = writer.interpreter
        self.decode: Callable[[bytes], str] = writer.records.source.decode
        self.width = self.layout.width
        self.panel_rows = PanelRows(self.interpreter)
        self.analyte = self._analyte_tally(self.interpreter.analyte.id)
        self.counts[self.analyte.analyte] = self.main
        layout = self.layout
        at_age, at_sex, at_ethnicity = layout.age, layout.sex, layout.ethnicity
        at_value, at_fallback, at_unit = layout.value, layout.fallback, layout.unit
        lab = layout.lab_at if layout.has_lab_range else ()
        self._token_of = itemgetter(at_value, at_fallback, at_unit, at_age, at_sex,
                                    at_ethnicity, *lab)  # fmt: skip
        people, outcomes, tokens, lines = self.people, self.outcomes, self.tokens, self.lines
        units, inline = self.units, self.inline
        people_get, outcomes_get = people.get, outcomes.get
        units_get, inline_get = units.get, inline.get
        reservoir, token_of, error = self.reservoir, self._token_of, ERROR
        next_at = reservoir.next_at
        seen = 0

        def plain(number: int, cells: list[bytes], found: tuple[bytes, bytes, int]) -> None:
            nonlocal next_at, seen
            person = (cells[at_age], cells[at_sex], cells[at_ethnicity], found[2])
            people[person] = people_get(person, 0) + 1
            if found[2] == error:
                self._error_row(number, cells, None)
                return
            count = outcomes_get(found)
            if count is not None:
                outcomes[found] = count + 1
            else:
                outcomes[found] = 1
                lines[found] = number
                tokens[found] = token_of(cells)
                if len(outcomes) >= FOLD_AT or len(people) >= FOLD_AT:
                    self.fold()
            unit = cells[at_unit]
            if unit:
                units[unit] = units_get(unit, 0) + 1
            else:  # the unit, if any, is in the value cell
                value = cells[at_value] or cells[at_fallback]
                inline[value] = inline_get(value, 0) + 1
            seen += 1
            if seen >= next_at:
                reservoir.offer(seen, (cells[at_age], cells[at_sex], found))
                next_at = reservoir.next_at

        self.plain = plain

        def careful_seen() -> int:
            nonlocal next_at, seen
            seen += 1
            if seen >= next_at:
                next_at = seen  # the caller offers this one, then reads next_at again
            return seen

        def offered() -> None:
            nonlocal next_at
            next_at = reservoir.next_at

        self._careful_seen = careful_seen
        self._offered = offered
        token_at = (at_value, at_fallback, at_unit, at_age, at_sex, at_ethnicity, *lab)
        delimiter = layout.delimiter
        width = self.width

        def block(first: int, kept: Any, texts: Any) -> None:
            """A block of the columnar fast path: the same three counts, with polars group-bys."""
            nonlocal next_at, seen
            import polars as pl

            def cell(index: int) -> Any:
                return pl.col(f"c{index}") if index < width else pl.lit("")

            for age, sex, ethnicity, category, rows in (
                kept.group_by("a", "s", "e", "category").len().iter_rows()
            ):
                person = (age, sex, ethnicity, category)
                people[person] = people_get(person, 0) + rows
            is_error = pl.col("category") == error
            wrong = kept.filter(is_error)
            if wrong.height:
                self._block_errors(first, wrong.get_column("at"), texts)
                kept = kept.filter(~is_error)
            if not kept.height:
                return
            # the outcome without the value cell (what _fold_outcomes reads once per tail)
            suffix = pl.col("suffix")
            tail = (
                pl.when(suffix.str.starts_with('"'))
                .then(suffix)
                .otherwise(suffix.str.splitn(delimiter, 2).struct.field("field_1"))
            )
            kept = kept.with_columns(tail.alias("tail"))
            found = kept.group_by("tail", "category").agg(
                pl.len().alias("rows"),
                pl.col("at").first(),
                *(cell(i).first().alias(f"t{n}") for n, i in enumerate(token_at)),
            )
            for tail_text, category, rows, at, *cells in found.iter_rows():
                key = (b"", tail_text, category)
                count = outcomes_get(key)
                if count is not None:
                    outcomes[key] = count + rows
                else:
                    outcomes[key] = rows
                    lines[key] = first + at
                    tokens[key] = tuple(cells)
            unit_cell = cell(at_unit)
            value_cell = (
                pl.when(cell(at_value) != "").then(cell(at_value)).otherwise(cell(at_fallback))
            )
            named = kept.select(unit_cell.alias("u"), value_cell.alias("v"))
            for unit, rows in named.filter(pl.col("u") != "").group_by("u").len().iter_rows():
                units[unit] = units_get(unit, 0) + rows
            for value, rows in named.filter(pl.col("u") == "").group_by("v").len().iter_rows():
                inline[value] = inline_get(value, 0) + rows
            # the sample: the rows whose number the reservoir asks for, read in one gather
            height = kept.height
            wanted: list[int] = []
            while next_at <= seen + height:  # never when the sample size is 0 (next_at: inf)
                number = int(next_at)
                wanted.append(number - seen - 1)
                reservoir.offer(number, (_IN_BLOCK, len(wanted) - 1, None))
                next_at = reservoir.next_at
            seen += height
            if wanted:
                # a sampled row keeps its own cells: its value is drawn, not its outcome's
                picked = kept[wanted].select(
                    "a", "s", "suffix", "category",
                    *(cell(i).alias(f"t{n}") for n, i in enumerate(token_at)),
                ).rows()  # fmt: skip
                items = reservoir.items
                for index, item in enumerate(items):
                    if item[0] is _IN_BLOCK:
                        age, sex, suffix_text, category, *cells = picked[item[1]]
                        key = (b"", suffix_text, category)
                        tokens[key] = tuple(cells)
                        items[index] = (age, sex, key)
            if len(outcomes) >= FOLD_AT or len(people) >= FOLD_AT:
                self.fold()

        self._block = block

    def block(self, first: int, kept: Any, texts: Any) -> None:
        """A block of lines the columnar fast path wrote (``batch/fast.py``), its first line
        ``first``: ``kept`` (polars) holds each row's cells, ``a``, ``s``, ``e`` (person),
        ``suffix``, ``category`` and ``at`` (its place in the block); ``texts`` the lines."""
        self._block(first, kept, texts)

    def _block_errors(self, first: int, places: Any, texts: Any) -> None:
        """The rows of a block that could not be read: counted, the first few listed."""
        import csv

        room = max(0, ERROR_ROWS_SHOWN - len(self.error_rows))
        listed = places.head(room).to_list()
        for at in listed:
            line = texts[at]
            cells = next(csv.reader([line], delimiter=self.layout.delimiter), [])
            self._error_row(first + at, [*cells, ""], None)
        self.errors += places.len() - len(listed)

    def row(self, number: int, cells: list[str], category: int, result: RowResult | None) -> None:
        """A record of the careful path: counted like a line, with its own result."""
        if category < 0 or result is None:
            self.skipped += 1
            return
        self._careful(self.main, number, cells, category, result, None, None)

    def panel_row(
        self,
        number: int,
        cells: list[str],
        category: int,
        result: RowResult | None,
        analyte: str,
        percent: str,
        *,
        value: str | None = None,
        unit: str | None = None,
        in_summary: bool = True,
    ) -> None:
        """One analyte's result of a record of whole panels (see ``PanelObserver``)."""
        self.long = self.long or in_summary
        if analyte == BANDS and result is not None and category != ERROR:
            if in_summary:
                self.skipped += 1  # the summary counts bands as not checked
            counts = self._counts(analyte, in_summary=in_summary)
            self.tallies[analyte].listed += 1
            if percent:
                self.tallies[analyte].from_percent += 1
            self._count_unit(counts, cells, value, "%" if percent and not unit else unit)
            return
        if category < 0 or result is None:
            if in_summary:
                self.skipped += 1
            return
        if not analyte:  # a record whose test is not known: it could not be read
            self.unassigned += 1
            self._error_row(number, cells, result.error or "")
            return
        counts = self._counts(analyte, in_summary=in_summary)
        tally = self.tallies[analyte]
        if percent and category != ERROR:
            if result.value is None:
                tally.percent_alone += 1
            else:
                tally.from_percent += 1
        unit = "%" if percent and not unit else unit
        self._careful(counts, number, cells, category, result, value, unit, quiet=not in_summary)

    def _counts(self, analyte: str, *, in_summary: bool) -> _Counts:
        found = self.counts.get(analyte)
        if found is None:
            found = self.counts[analyte] = _Counts(Reservoir(self.sample_size, self.seed))
            self._analyte_tally(analyte).in_summary = in_summary
        return found

    def _careful(
        self,
        counts: _Counts,
        number: int,
        cells: list[str],
        category: int,
        result: RowResult,
        value: str | None,
        unit: str | None,
        *,
        quiet: bool = False,
    ) -> None:
        """Count one record's result of the careful path (``quiet``: its errors are not listed,
        a wide file's differential cell, whose row is listed for its WBC)."""
        layout = self.layout
        if len(cells) != self.width:  # a ragged or unclosed record: its person is not read
            person: tuple[Any, ...] = (None, None, None, category)
            counts.people[person] = counts.people.get(person, 0) + 1
            if not quiet:
                self._error_row(number, cells, result.error or "")
            return
        padded = [*cells, ""]
        sex = padded[layout.sex]
        age: Any = padded[layout.age]
        age_of = getattr(layout, "age_of", None)
        if age_of is not None:  # exact ages from two dates (batch/dates.py)
            try:
                age = str(age_of(padded))
            except (CBCError, TypeError, ValueError):
                age = "a date that could not be read"
        person = (age, sex, padded[layout.ethnicity], category)
        counts.people[person] = counts.people.get(person, 0) + 1
        if category == ERROR:
            if not quiet:
                self._error_row(number, cells, result.error or "")
            return
        token = (b"", b"", category, result)
        if token not in counts.outcomes:
            counts.lines[token] = number
        counts.outcomes[token] = counts.outcomes.get(token, 0) + 1
        self._count_unit(counts, padded, value, unit)
        if counts is self.main:
            seen = self._careful_seen()
            if seen >= self.reservoir.next_at:
                self.reservoir.offer(seen, (age, sex, token))
                self._offered()
        else:
            counts.seen += 1
            if counts.seen >= counts.reservoir.next_at:
                counts.reservoir.offer(counts.seen, (age, sex, token))
        if counts.size() >= FOLD_AT:
            self.fold()

    def _count_unit(
        self, counts: _Counts, cells: list[str], value: str | None, unit: str | None
    ) -> None:
        """Count a row's unit: a unit given, else the unit cell, else the value cell."""
        if unit:
            counts.spelled[unit] = counts.spelled.get(unit, 0) + 1
            return
        layout = self.layout
        if value is None:
            padded = cells if len(cells) > self.width else [*cells, ""]
            unit_cell = padded[layout.unit] if layout.unit < len(padded) else ""
            if unit_cell:
                counts.units[unit_cell] = counts.units.get(unit_cell, 0) + 1
                return
            value = padded[layout.value] or padded[layout.fallback]
        counts.inline[value] = counts.inline.get(value, 0) + 1

    def _error_row(self, number: int, cells: list[Any], message: str | None) -> None:
        self.errors += 1
        if len(self.error_rows) >= ERROR_ROWS_SHOWN:
            return
        texts = [self._text(cell) for cell in cells[: self.width]]
        if message is None:  # a hot-loop line: its error is the engine's, read again
            value, unit, age, sex, ethnicity = self.layout.texts(texts)
            lab = self.layout.lab_range(texts)
            entry = self.interpreter.lookup(value, unit, age, sex, ethnicity, lab)
            message = entry.result.error or ""
        self.error_rows.append(ErrorRow(number, texts, message))

    # -- reading the counters -----------------------------------------------------------

    def _text(self, cell: Any) -> str:
        return self.decode(cell) if isinstance(cell, bytes) else str(cell)

    def _analyte_tally(self, analyte_id: str) -> AnalyteTally:
        found = self.tallies.get(analyte_id)
        if found is None:
            interpreter = self._interpreter(analyte_id)
            analyte = interpreter.analyte
            label = analyte.label
            if analyte_id == BANDS:
                label = "Bands (young neutrophils)"
            reference = interpreter.table.select(sex="unknown", analyte=analyte.id).reference
            high = reference.high if reference is not None and reference.high else None
            width = nice_step(high / 20) if high else nice_step(analyte.plausible[1] / 200)
            found = self.tallies[analyte_id] = AnalyteTally(
                analyte_id, label, width, analyte.plausible
            )
        return found

    def _interpreter(self, analyte_id: str) -> RowInterpreter:
        """The interpreter of an analyte, with the run's table and options (as the batch's)."""
        if analyte_id == self.interpreter.analyte.id:
            return self.interpreter
        return self.panel_rows.interpreter(analyte_id)

    def _result(self, token: _Token) -> RowResult:
        """The result of an outcome key: a careful row's own, or read again for a hot-loop one."""
        if len(token) == 4:
            result: RowResult = token[3]
            return result
        return self.interpreter.lookup(*self._token_texts(token)).result

    def _token_texts(self, token: _Token) -> tuple[str, str | None, str, str, str, str | None]:
        value, fallback, unit, age, sex, ethnicity, *lab = self.tokens[token]
        layout = self.layout
        lab_range = None
        if lab:
            lab_range = layout.lab_text(self._text(lab[0]), self._text(lab[1]))
        return (
            self._text(value or fallback),
            self._text(unit) if layout.has_unit else None,
            self._text(age),
            self._text(sex),
            self._text(ethnicity),
            lab_range,
        )

    def fold(self) -> None:
        """Read every key counted so far into the analyte tallies and empty the counters."""
        for analyte_id, counts in self.counts.items():
            tally = self.tallies[analyte_id]
            interpreter = self._interpreter(analyte_id)
            self._fold_people(tally, counts)
            self._fold_outcomes(tally, counts)
            self._fold_units(tally, counts, interpreter)
            counts.clear()
        # the sample keeps results, not tokens: the tokens can go (flat memory)
        items = self.reservoir.items
        for index, (age, sex, token) in enumerate(items):
            if len(token) == 3:
                items[index] = (age, sex, (b"", b"", token[2], self._result(token)))
        self.tokens.clear()

    def _fold_people(self, tally: AnalyteTally, counts: _Counts) -> None:
        groups = tally.groups
        labels: dict[tuple[Any, Any, Any], tuple[str, str, str]] = {}
        for (*person_cells, category), rows in counts.people.items():
            tally.flags[category] += rows
            person = tuple(person_cells)
            found = labels.get(person)
            if found is None:
                found = labels[person] = self._person_labels(*person)
            for dimension, label in zip(("sex", "age", "ancestry"), found, strict=True):
                groups[dimension][label, category] += rows

    def _person_labels(self, age: Any, sex: Any, ethnicity: Any) -> tuple[str, str, str]:
        if age is None:
            return NOT_READ, NOT_READ, NOT_READ
        return (
            SEX_LABELS[parse_sex(self._text(sex))],
            self._age_label(self._text(age)),
            self._ancestry_label(self._text(ethnicity)),
        )

    def _age_years(self, text: str) -> float | None:
        if not text.strip():
            return None
        try:
            age = read_age(text)
        except (CBCError, TypeError, ValueError):
            return math.nan
        return None if age is None else age.years

    def _age_label(self, text: str) -> str:
        years = self._age_years(text)
        if years is not None and math.isnan(years):
            return f"age {NOT_READ}"
        return age_group(years)

    def _ancestry_label(self, text: str) -> str:
        if not text.strip():
            return "not given"
        group = match_ethnicity(text, ancestry_groups())
        if group is None:
            return "not recognised"
        labels = self.interpreter.table.group_labels
        return labels.get(group, group.replace("_", " ").capitalize())

    def _fold_outcomes(self, tally: AnalyteTally, counts: _Counts) -> None:
        low, high = tally.plausible
        # a hot-loop outcome's tail holds every result cell but the value (flag, range, source,
        # grade, warnings; an implausible value's warning quotes it): one reading per tail
        by_tail: dict[bytes, RowResult] = {}
        for token, rows in counts.outcomes.items():
            if len(token) == 4:
                result = token[3]
            else:
                found = by_tail.get(token[1])
                result = by_tail[token[1]] = self._result(token) if found is None else found
            if result.ref_low is not None or result.ref_high is not None:
                tally.bands[result.ref_low, result.ref_high, result.source or ""] += rows
            if result.grade is not None:
                tally.grades[result.grade] += rows
            if result.source:
                tally.sources[result.source] += rows
            value = result.value
            if value is not None and not low <= value <= high and value != 0:
                tally.implausible["too high" if value > high else "too low"] += rows
                if len(tally.implausible_examples) < 10:
                    warning = next(
                        (w for w in result.warnings if "plausibl" in w),
                        f"{format_number(value)} is outside the plausible range",
                    )
                    tally.implausible_examples.append((counts.lines.get(token, 0), warning))

    def _fold_units(
        self, tally: AnalyteTally, counts: _Counts, interpreter: RowInterpreter
    ) -> None:
        has_unit = self.layout.has_unit
        cells: tuple[tuple[dict[Any, int], bool], ...] = (
            (counts.units, has_unit), (counts.inline, False), (counts.spelled, True)
        )  # fmt: skip
        for counter, in_unit_column in cells:
            for cell, rows in counter.items():
                text = self._text(cell)
                spelling = (
                    self._spelling(interpreter, "1", text)
                    if in_unit_column
                    else self._spelling(interpreter, text)
                )
                tally.units[spelling] += rows

    def _spelling(
        self, interpreter: RowInterpreter, value: str, unit: str | None = None
    ) -> tuple[str, str, float | None]:
        """(the unit as written, what it was read as, its factor to 10^9/L) of a cell."""
        count = interpreter.parse(value, unit).count
        if count is None:  # a unit that could not be read (on rows that were not errors)
            return (unit or value, "not read", None)
        spelling = count.unit_text
        read_as = count.unit or "none: read as 10^9/L"
        factor: float | None = 1.0
        if count.unit == "%":
            factor = None
        elif spelling and count.unit is not None:
            try:
                factor = read_unit(spelling).factor
            except (CBCError, TypeError, ValueError):
                factor = None
        return spelling, read_as, factor

    def finish(self) -> dict[str, AnalyteTally]:
        """Read what is left and the sample; the tallies by analyte (the file's own first)."""
        if not self.started:
            return self.tallies
        self.fold()
        for analyte_id, counts in self.counts.items():
            tally = self.tallies[analyte_id]
            for age, sex, token in counts.reservoir.items:
                result = self._result(token)
                if token[2] == ERROR or result.value is None or result.flag is None:
                    continue
                years = self._age_years(self._text(age))
                if years is not None and math.isnan(years):
                    years = None
                tally.sample.append(
                    SampledRow(
                        years,
                        SEX_LABELS[parse_sex(self._text(sex))],
                        result.value,
                        CATEGORIES.index(result.flag),
                        result.ref_low,
                        result.ref_high,
                    )
                )
            tally.implausible_examples.sort()
        # whole panels share the plots' sample: the page stays as small as a WBC file's
        drawn = [tally for tally in self.tallies.values() if tally.sample]
        share = max(1, self.sample_size // max(1, len(drawn)))
        for tally in drawn:
            if len(tally.sample) > share:
                kept = sorted(random.Random(self.seed).sample(range(len(tally.sample)), share))
                tally.sample = [tally.sample[index] for index in kept]
        # the file's own analyte first, then the panel's in the order of analytes.toml, bands last
        order = [self.analyte.analyte, *analytes(), BANDS]
        rank = {analyte_id: index for index, analyte_id in enumerate(order)}
        shown = sorted(self.tallies, key=lambda key: rank.get(key, len(order)))
        # whole panels of a long file: an analyte with no row (WBC, say) has no section
        return {
            key: self.tallies[key]
            for key in shown
            if not self.long or self.tallies[key].rows or self.tallies[key].listed
        }
