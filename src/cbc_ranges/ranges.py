"""Range tables: which range, decision limit or grade applies to whom, and who says so.

A range table is a CSV file of rows, each stating one limit for one analyte and
one population (age band, sex, population group):

* a **reference interval**: ``low`` and ``high``, both inclusive;
* a **decision limit**: a named threshold such as leukopenia or neutropenia,
  with an optional severity ``level``; it covers the values below ``high``, above
  ``low``, or from ``low`` (inclusive) up to ``high`` (exclusive);
* a **grade**: one band of a grading system (``name``, such as a CTCAE term) with
  its grade number as ``level``, read like a decision limit; a limit may be
  ``LLN``/``ULN``, the reference interval's own limit;
* an **ethnic variation** note: no figure, the documents only say counts differ.

Every row cites a source id. The format, with the semantics of each kind, is
documented in ``ranges/README.md`` (shipped next to the data). Tables in the
first format (an ``ethnicity`` column, a ``leukopenia_threshold`` kind) load with
the same results. :func:`load_table` reads a lab's own table and checks all of it,
raising one :class:`~cbc_ranges.errors.RangeTableError` that names the file, the
row (its line number in the file) and the field. :func:`get_table` takes a loaded
table, the name of a shipped table (or one in a ``CBC_RANGES_PATH`` folder) or a
path.

>>> table = get_table("documents")
>>> row = table.select(age_years=40.0, sex="female").reference
>>> (row.low, row.high, row.source.id)
(4.5, 11.0, 'cleveland-2022')

``python -m cbc_ranges.ranges`` prints the Markdown page ``docs/ranges.md``.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import sys
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr

from cbc_ranges.analytes import ValueKind, analytes
from cbc_ranges.data import DATA_PACKAGE, DataFile, cached, find_files, load, read_toml
from cbc_ranges.errors import CBCError, PersonError, RangeTableError, suggest
from cbc_ranges.models import (
    AgeEdge,
    FrozenModel,
    Population,
    ReferenceRange,
    Sex,
    Source,
    format_number,
)
from cbc_ranges.people import ADULT_AGE, Age, AgeUnit, age_unit, normalise_words

__all__ = [
    "COLUMNS",
    "DATA_PACKAGE",
    "DEFAULT_TABLE",
    "LEGACY_COLUMNS",
    "BoundedCache",
    "GradingSystem",
    "RangeRow",
    "RangeTable",
    "RowKind",
    "Selection",
    "ancestry_groups",
    "format_number",
    "get_table",
    "grading_systems",
    "load_table",
    "parse_table",
    "read_data_text",
    "read_sources",
    "render_markdown",
    "render_pages",
    "shipped_sources",
    "shipped_table_names",
    "split_grade_name",
]

#: the table used when none is named
DEFAULT_TABLE = "standard"
#: the columns of a range table, in the order the shipped tables write them
COLUMNS = (
    "id",
    "analyte",
    "kind",
    "name",
    "level",
    "age_from",
    "age_to",
    "age_unit",
    "sex",
    "population",
    "low",
    "high",
    "unit",
    "source",
    "note",
)
#: the columns of the first format (still read): ``ethnicity`` for ``population``, no
#: ``name`` or ``level``
LEGACY_COLUMNS = (
    "id",
    "analyte",
    "kind",
    "age_from",
    "age_to",
    "age_unit",
    "sex",
    "ethnicity",
    "low",
    "high",
    "unit",
    "source",
    "note",
)
_OPTIONAL_COLUMNS = frozenset({"name", "level", "age_to", "note"})

RowKind = Literal["reference_interval", "decision_limit", "grade", "ethnic_variation"]
_KINDS: tuple[str, ...] = (
    "reference_interval",
    "decision_limit",
    "grade",
    "ethnic_variation",
    "leukopenia_threshold",  # the first format's name for the decision limit "leukopenia"
)
_ROW_SEXES = ("female", "male", "unknown", "any")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_GROUP = re.compile(r"^[a-z][a-z0-9_]*$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
#: a limit of a grade may be the reference interval's own lower or upper limit
_REFERENCE_LIMITS = ("LLN", "ULN")
#: the name of the decision limit that :attr:`Interpretation.leukopenia` reports
LEUKOPENIA = "leukopenia"
# the largest field a table may hold (a note), in characters
_FIELD_LIMIT = 1 << 14


class BoundedCache(dict[Hashable, Any]):
    """A dict that empties itself when full: flat memory, no bookkeeping on a hit.

    The one shape of run-time cache in the library (selections, people, rows).
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Hashable, value: Any) -> Any:
        """Store ``value`` under ``key`` (forgetting everything first when full); return it."""
        if len(self) >= self.size:
            self.clear()  # cheaper than LRU bookkeeping, and results repeat anyway
        self[key] = value
        return value


class RangeRow(FrozenModel):
    """One row of a range table, validated, with its limits in 10^9/L (or % of white cells).

    ``line`` is the row's line number in its file. ``low_reference`` and
    ``high_reference`` are set (``"LLN"``/``"ULN"``) for a grade whose limit is
    the reference interval's own. ``reference`` is the row as a
    :class:`~cbc_ranges.models.ReferenceRange` (``None`` for an ethnic variation
    note, which states no limit); ``threshold`` the leukopenia decision limit as
    ``Interpretation.leukopenia_threshold`` reports it (kind
    ``leukopenia_threshold``, the figure as ``low``), for that row only.
    """

    id: str
    line: int
    analyte: str
    value_kind: ValueKind = "count"
    kind: RowKind
    name: str = ""
    level: str = ""
    population: Population
    low: float | None
    high: float | None
    low_reference: str | None = None
    high_reference: str | None = None
    source: Source
    note: str
    reference: ReferenceRange | None
    threshold: ReferenceRange | None = None

    def applies_to(self, age: Age | float, sex: Sex) -> bool:
        """Whether this row's age band and sex cover the person (population aside).

        An age given as a number is in years. Each band edge is compared with the
        age measured in the edge's own unit.

        >>> row = get_table().select(age_years=30.0, sex="male").reference
        >>> row.applies_to(18.0, "male"), row.applies_to(17.99, "male")
        (True, False)
        """
        population = self.population
        if not isinstance(age, Age):
            age = Age.of_years(age)
        start, end = population.start, population.end
        if start is not None and age.in_unit(start.unit) < start.value:
            return False
        if end is not None and age.in_unit(end.unit) >= end.value:
            return False
        return population.sex in ("any", sex)


@dataclass(frozen=True)
class Selection:
    """The rows of a table that apply to one person, for one analyte and kind of value.

    ``reference`` is the reference interval (``None`` when no row applies);
    ``limits`` the decision limits and ``grades`` the grade bands that apply (a
    row for the person's population replaces the ``any`` rows of its name and
    level); ``threshold`` the leukopenia limit among them, if any (its figure may
    be missing: a threshold the documents give no figure for); ``variation`` an
    ethnic variation note for the person's group, if the table has one.
    """

    reference: RangeRow | None
    threshold: RangeRow | None
    variation: RangeRow | None
    limits: tuple[RangeRow, ...] = ()
    grades: tuple[RangeRow, ...] = ()


class RangeTable(FrozenModel):
    """A validated range table with the sources its rows cite.

    ``groups`` maps each population group the table names to the spellings read
    as that group (see ``ranges/ethnicity_groups.toml``); ``group_labels`` gives
    each group's display name.
    """

    name: str
    path: str
    rows: tuple[RangeRow, ...]
    sources: dict[str, Source]
    groups: dict[str, tuple[str, ...]]
    group_labels: dict[str, str]
    sha256: str = Field(default="", description="The SHA-256 (hex) of the table file's text.")

    # caches; read through __pydantic_private__ because attribute access to a private
    # attribute costs microseconds (it goes through BaseModel.__getattr__)
    _selections: BoundedCache = PrivateAttr(default_factory=lambda: BoundedCache(4096))
    _derived: dict[Hashable, Any] = PrivateAttr(default_factory=dict)

    def _private(self, name: str) -> Any:
        private = self.__pydantic_private__
        assert private is not None
        return private[name]

    def derived_cache(self) -> dict[Hashable, Any]:
        """A dict for results that depend only on this table and their key.

        Later steps (the person look-up, the text) cache here, so a cache dies
        with its table and never mixes two tables.
        """
        private = self.__pydantic_private__
        assert private is not None
        derived: dict[Hashable, Any] = private["_derived"]
        return derived

    def analytes(self) -> list[str]:
        """The analytes the table has rows for, in table order.

        >>> get_table("documents").analytes()
        ['wbc']
        """
        return list(dict.fromkeys(row.analyte for row in self.rows))

    def select(
        self,
        *,
        age_years: float | None = None,
        sex: Sex = "unknown",
        ethnicity: str | None = None,
        age: Age | None = None,
        analyte: str = "wbc",
        value_kind: ValueKind = "count",
        populations: tuple[str, ...] = (),
    ) -> Selection:
        """The rows that apply to a person; an unknown age is looked up as an adult.

        The age is an :class:`~cbc_ranges.people.Age` or a number of years. A row for
        one of the person's population groups wins over a row for ``any``:
        ``populations`` first, in their order (a blood-group population such as
        ``duffy_null``), then the ancestry group ``ethnicity``.

        >>> table = get_table()
        >>> table.select(age_years=None, sex="unknown").reference.id
        'adult-sex-unknown'
        >>> table.select(age=Age.of(6, "months"), sex="male").threshold.high is None
        True
        """
        if age is None:
            age = _ADULT if age_years is None else Age.of_years(age_years)
        groups = populations if ethnicity is None else (*populations, ethnicity)
        key = (analyte, value_kind, age.days, age.months, sex, groups)
        selections: BoundedCache = self._private("_selections")
        found = selections.get(key)
        if found is None:
            found = selections.put(key, self._select(analyte, value_kind, age, sex, groups))
        return found  # type: ignore[no-any-return]

    def _select(
        self, analyte: str, value_kind: ValueKind, age: Age, sex: Sex, groups: tuple[str, ...]
    ) -> Selection:
        # the rows of each (kind, name, level): the person's first group before "any"
        chosen: dict[tuple[str, str, str], tuple[int, RangeRow]] = {}
        for row in self.rows:
            if row.analyte != analyte or not row.applies_to(age, sex):
                continue
            if row.kind != "ethnic_variation" and row.value_kind != value_kind:
                continue
            group = row.population.ethnicity
            if group == "any":
                rank = len(groups)
            elif group in groups:
                rank = groups.index(group)
            else:
                continue
            key = (row.kind, row.name, row.level)
            if key not in chosen or rank < chosen[key][0]:
                chosen[key] = (rank, row)
        rows = [row for _, row in chosen.values()]
        reference = next((r for r in rows if r.kind == "reference_interval"), None)
        limits = tuple(r for r in rows if r.kind == "decision_limit")
        return Selection(
            reference=reference,
            threshold=next((r for r in limits if r.name == LEUKOPENIA), None),
            variation=next((r for r in rows if r.kind == "ethnic_variation"), None),
            limits=limits,
            grades=tuple(r for r in rows if r.kind == "grade"),
        )

    def cited_sources(self) -> list[Source]:
        """The sources the rows cite, in the order of the sources file.

        >>> [source.id for source in get_table("documents").cited_sources()]
        ['symptoms-and-causes', 'cleveland-2022', 'healthy-living']
        """
        cited = {row.source.id for row in self.rows}
        return [source for key, source in self.sources.items() if key in cited]


_ADULT = Age.of_years(ADULT_AGE, given=f"{ADULT_AGE:g} years")


# --- sources and population groups --------------------------------------------------------


def read_sources(
    text: str, *, path: str, default_kind: Literal["seed", "publication", "user"] = "user"
) -> dict[str, Source]:
    """Parse a sources file (TOML, ``[[source]]`` tables) into sources by id.

    >>> read_sources('[[source]]\\nid = "lab"\\ntitle = "Ranges"\\npublisher = "My lab"',
    ...              path="sources.toml")["lab"].kind
    'user'
    """
    data = read_toml(text, path=path)
    entries = data.get("source", [])
    if not isinstance(entries, list):
        raise RangeTableError("'source' must be a list of [[source]] tables", path=path)
    sources: dict[str, Source] = {}
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise RangeTableError("a [[source]] entry must be a table", path=path, row=number)
        for field in ("id", "title", "publisher"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise RangeTableError(
                    f"source {number} has no {field}", path=path, row=number, field=field
                )
        if not _ID.match(entry["id"]):
            raise RangeTableError(
                f"source id {entry['id']!r} must be lower-case letters, digits, '-', '_' or '.'",
                path=path,
                row=number,
                field="id",
            )
        if entry["id"] in sources:
            raise RangeTableError(
                f"source id {entry['id']!r} is defined twice", path=path, row=number, field="id"
            )
        fields: dict[str, Any] = {"kind": default_kind, **entry}
        if "date" in fields and not isinstance(fields["date"], str):
            fields["date"] = str(fields["date"])  # a bare TOML date
        try:
            sources[entry["id"]] = Source.model_validate(fields)
        except ValueError as error:
            raise RangeTableError(
                f"source {entry['id']!r} is not valid: {_first_message(error)}",
                path=path,
                row=number,
                field=_first_field(error),
            ) from None
    return sources


def _first_field(error: ValueError) -> str | None:
    errors = getattr(error, "errors", None)
    if callable(errors):
        items = errors()
        if items and items[0].get("loc"):
            return str(items[0]["loc"][0])
    return None


def _first_message(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        items = errors()
        if items:
            return str(items[0].get("msg", error))
    return str(error)


def read_data_text(name: str) -> str:
    """The text of a file shipped in ``ranges/`` (UTF-8)."""
    for file in find_files(name):
        if file.shipped:
            return file.read_text()
    raise RangeTableError("no such shipped data file", path=f"ranges/{name}")


def _merge_sources(merged: dict[str, Source], extra: Mapping[str, Source], path: str) -> None:
    """Add ``extra`` to ``merged``; an id may repeat a known source only with the same details."""
    for key, source in extra.items():
        known = merged.get(key)
        if known is not None and known != source.model_copy(update={"kind": known.kind}):
            raise RangeTableError(
                f"source id {key!r} is already a shipped source with other details",
                path=path,
                field="id",
            )
        merged.setdefault(key, source)


def shipped_sources() -> dict[str, Source]:
    """The sources of the data folders (``ranges/sources.toml`` first), by id.

    >>> list(shipped_sources())[:2]
    ['symptoms-and-causes', 'cleveland-2022']
    """

    def build() -> dict[str, Source]:
        merged: dict[str, Source] = {}
        for file in find_files("sources.toml"):
            kind: Literal["seed", "user"] = "seed" if file.shipped else "user"
            found = read_sources(file.read_text(), path=file.shown, default_kind=kind)
            _merge_sources(merged, found, file.shown)
        return merged

    return dict(load("sources", build))


@dataclass(frozen=True)
class GradingSystem:
    """A grading system of ``grading.toml``: its id, how people cite it, its terms."""

    id: str
    label: str
    source: str
    terms: dict[str, str]

    def term_label(self, term: str) -> str:
        """The display name of a term id (the id itself when the file names none)."""
        return self.terms.get(term, term.replace("-", " ").capitalize())


def grading_systems() -> dict[str, GradingSystem]:
    """The grading systems of the data folders (``grading.toml``), by id.

    A grade row's ``name`` is ``<system>.<term>`` (``ctcae-v5.neutrophil-count-decreased``).
    """

    def build() -> dict[str, GradingSystem]:
        found: dict[str, GradingSystem] = {}
        for file in find_files("grading.toml"):
            for key, entry in read_toml(file.read_text(), path=file.shown).items():
                if not isinstance(entry, dict) or not _NAME.match(key):
                    raise RangeTableError(f"bad grading system {key!r}", path=file.shown, field=key)
                terms = entry.get("terms", {})
                label = entry.get("label", key)
                source = entry.get("source", "")
                if (
                    not isinstance(terms, dict)
                    or not all(isinstance(v, str) for v in terms.values())
                    or not isinstance(label, str)
                    or not isinstance(source, str)
                ):
                    raise RangeTableError(
                        "a grading system has a text label and source and a table of terms",
                        path=file.shown,
                        field=key,
                    )
                if key in found:
                    raise RangeTableError(
                        f"grading system {key!r} is defined twice", path=file.shown, field=key
                    )
                found[key] = GradingSystem(key, label, source, dict(terms))
        return found

    return load("grading", build)


def split_grade_name(name: str) -> tuple[str, str]:
    """``ctcae-v5.wbc-decreased`` -> (``ctcae-v5``, ``wbc-decreased``); no dot: (name, "")."""
    system, _, term = name.partition(".")
    return system, term


def _groups() -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    def build() -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
        aliases: dict[str, tuple[str, ...]] = {}
        labels: dict[str, str] = {}
        for file in find_files("ethnicity_groups.toml"):
            for group, entry in read_toml(file.read_text(), path=file.shown).items():
                if not _GROUP.match(group) or not isinstance(entry, dict):
                    raise RangeTableError(f"bad group {group!r}", path=file.shown, field=group)
                spellings = entry.get("aliases", [])
                if not isinstance(spellings, list) or not all(
                    isinstance(a, str) for a in spellings
                ):
                    raise RangeTableError("aliases must be texts", path=file.shown, field=group)
                aliases[group] = tuple(normalise_words(a) for a in spellings)
                labels[group] = str(entry.get("label", group))
        return aliases, labels

    return load("groups", build)


def ancestry_groups() -> dict[str, tuple[str, ...]]:
    """Every ancestry group of ``ethnicity_groups.toml`` with its spellings (normalised).

    Tables name a few of them; the others are recognised (no "not matched" warning)
    and change nothing.

    >>> sorted(ancestry_groups())[:3]
    ['african', 'asian', 'european']
    """
    return _groups()[0]


# --- reading a table ----------------------------------------------------------------------


def _records(text: str, path: str) -> Iterator[tuple[int, list[str]]]:
    """The records of a table with the line each starts on; comments and blank lines skipped.

    A quoted field may hold a newline (a note over two lines). An unclosed quote, a
    field over the size limit or a stray quote is a RangeTableError naming the line.
    """
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        start = index
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        record = line
        while record.count('"') % 2 and index < len(lines):  # a quoted newline: read on
            record += lines[index]
            index += 1
        if record.count('"') % 2:
            raise RangeTableError(
                "a quote opened on this line is never closed", path=path, row=start + 1
            )
        if len(record) > _FIELD_LIMIT * 4:
            raise RangeTableError(
                f"the row is longer than {_FIELD_LIMIT * 4:,} characters", path=path, row=start + 1
            )
        try:
            values = next(csv.reader([record.rstrip("\r\n")], strict=True))
        except (csv.Error, StopIteration) as error:
            raise RangeTableError(f"not valid CSV ({error})", path=path, row=start + 1) from None
        for value in values:
            if len(value) > _FIELD_LIMIT:
                raise RangeTableError(
                    f"a field is longer than {_FIELD_LIMIT:,} characters", path=path, row=start + 1
                )
        yield start + 1, values


def _number(value: str, *, fail: Any, field: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    if len(value) > 40:
        raise fail(f"{value[:20]!r}… is not a number", field)
    try:
        number = float(value.replace("_", ""))
    except ValueError:
        raise fail(f"{value!r} is not a number", field) from None
    if not math.isfinite(number) or number < 0:
        raise fail(f"{value!r} must be a finite number, 0 or more", field)
    if number == 0 and re.search(r"[1-9]", re.split(r"[eE]", value)[0]):
        raise fail(f"{value!r} is too small to represent", field)  # 1e-400 reads as 0.0
    return 0.0 if number == 0 else number


def _age_text(edge: AgeEdge) -> str:
    number = format_number(edge.value, places=3, keep_one=False)
    unit = edge.unit[:-1] if number == "1" else edge.unit
    return f"{number} {unit}"


def _describe(start: AgeEdge | None, end: AgeEdge | None, sex: str, population: str) -> str:
    who = {
        "female": "females",
        "male": "males",
        "unknown": "people of unknown sex,",
        "any": "people",
    }[sex]
    if end is None:
        ages = f"aged {_age_text(start)} and over" if start and start.value else "of any age"
    elif start is None or not start.value:
        ages = f"aged under {_age_text(end)}"
    else:
        ages = f"aged {_age_text(start)} to under {_age_text(end)}"
    if sex == "any" and ages == "aged under 18 years":
        who = "children"
    if population == "any":
        group = ""
    elif population in _groups()[1]:
        group = f" of {_groups()[1][population]} ancestry"
    elif population.startswith(_DUFFY_NULL_PREFIX):
        cohort = population[len(_DUFFY_NULL_PREFIX) :].strip("_")
        named = {"uk": "UK", "usa": "USA"}.get(cohort, cohort.replace("_", " ").title())
        group = " who are Duffy-null" + (f" ({named} cohort)" if cohort else "")
    else:
        group = f" of the population {population.replace('_', ' ')}"
    return f"{who}{group} {ages}"


# populations named duffy_null (and duffy_null_<cohort>) are the Duffy-null blood group
_DUFFY_NULL_PREFIX = "duffy_null"


def _edges_overlap(a: RangeRow, b: RangeRow) -> bool:
    """Whether two rows' age bands intersect, each edge compared in days (calendar average)."""

    def days(edge: AgeEdge | None, default: float) -> float:
        if edge is None:
            return default
        return Age.of(edge.value, edge.unit).days

    a_from, a_to = days(a.population.start, 0.0), days(a.population.end, math.inf)
    b_from, b_to = days(b.population.start, 0.0), days(b.population.end, math.inf)
    return a_from < b_to - 1e-9 and b_from < a_to - 1e-9


def _overlap(a: RangeRow, b: RangeRow) -> bool:
    """Whether two rows would both give the same person a limit of the same meaning."""
    if (a.analyte, a.value_kind, a.kind, a.name, a.level) != (
        b.analyte,
        b.value_kind,
        b.kind,
        b.name,
        b.level,
    ):
        return False
    pa, pb = a.population, b.population
    if pa.ethnicity != pb.ethnicity:
        return False
    if not (pa.sex == pb.sex or "any" in (pa.sex, pb.sex)):
        return False
    return _edges_overlap(a, b)


def _header(values: list[str], *, path: str, line: int) -> tuple[list[str], bool]:
    """The columns of a header, and whether it is the first format (``ethnicity`` column)."""
    header = [column.strip().lower() for column in values]
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise RangeTableError(
                f"the column {column!r} appears twice", path=path, row=line, field=column
            )
        seen.add(column)
    legacy = "ethnicity" in seen and "population" not in seen
    expected = LEGACY_COLUMNS if legacy else COLUMNS
    optional = frozenset() if legacy else _OPTIONAL_COLUMNS
    missing = [c for c in expected if c not in seen and c not in optional]
    if missing:
        raise RangeTableError(
            f"missing column {missing[0]!r}; a table has the columns {', '.join(COLUMNS)}",
            path=path,
            row=line,
            field=missing[0],
        )
    unknown = [column for column in header if column not in expected]
    if unknown:
        raise RangeTableError(
            f"unknown column {unknown[0]!r}", path=path, row=line, field=unknown[0]
        ).with_suggestions(suggest(unknown[0], expected))
    return header, legacy


def parse_table(
    text: str,
    *,
    path: str,
    name: str,
    sources: Mapping[str, Source],
) -> RangeTable:
    """Parse and validate the text of a range table (see :func:`load_table`).

    >>> text = "id,analyte,kind,age_from,age_unit,sex,population,low,high,unit,source\\n"
    >>> text += "x,wbc,reference_interval,18,years,any,any,5,4,10^9/L,wikipedia\\n"
    >>> parse_table(text, path="my.csv", name="my", sources=shipped_sources())
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.RangeTableError: my.csv, row 2, field 'low': low 5.0 is above high 4.0
    """
    records = _records(text, path)
    first = next(records, None)
    if first is None:
        raise RangeTableError("the table is empty", path=path)
    header_line, header_values = first
    header, legacy = _header(header_values, path=path, line=header_line)
    rows: list[RangeRow] = []
    seen_ids: dict[str, int] = {}
    for line, values in records:
        if len(values) != len(header):
            raise RangeTableError(
                f"{len(values)} fields where the header has {len(header)}", path=path, row=line
            )
        record = dict(zip(header, (value.strip() for value in values), strict=True))
        if legacy:
            record["population"] = record.pop("ethnicity")
        row = _parse_row(record, path=path, line=line, sources=sources)
        if row.id in seen_ids:
            raise RangeTableError(
                f"id {row.id!r} is already used on row {seen_ids[row.id]}",
                path=path,
                row=line,
                field="id",
            )
        seen_ids[row.id] = line
        for other in rows:
            if _overlap(other, row):
                raise RangeTableError(
                    f"population of {row.id!r} overlaps {other.id!r} (row {other.line}): "
                    "the same person would get two rows of the same kind, name and level",
                    path=path,
                    row=line,
                    field="age_from",
                )
        rows.append(row)
    if not any(row.kind == "reference_interval" for row in rows):
        raise RangeTableError("the table has no reference_interval row", path=path)
    group_aliases, group_labels = _groups()
    groups = sorted({row.population.ethnicity for row in rows} - {"any"})
    return RangeTable(
        name=name,
        path=path,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        rows=tuple(rows),
        sources=dict(sources),
        groups={group: group_aliases.get(group, ()) for group in groups},
        group_labels={
            group: group_labels.get(group, group.replace("_", " ").title()) for group in groups
        },
    )


def _limit_unit(text: str, fail: Any) -> tuple[ValueKind, float, str]:
    """(kind of value, factor to 10^9/L or %, canonical unit) of a table's unit column."""
    if text.strip() == "%":
        return "percent", 1.0, "%"
    from cbc_ranges.units import read_unit

    try:
        reading = read_unit(text)
    except (CBCError, TypeError) as error:
        message = error.message if isinstance(error, CBCError) else str(error)
        raise fail(
            f"unknown unit {text[:40]!r} ({message}); use a count unit such as 10^9/L, "
            "K/uL or cells/uL, or % for a percentage of white cells",
            "unit",
        ) from None
    return "count", reading.factor, "10*9/L"


def _converted(number: float | None, factor: float, fail: Any, field: str) -> float | None:
    if number is None:
        return None
    converted = number * factor if factor >= 1 else number / round(1 / factor)
    converted = float(f"{converted:.12g}")  # no float noise: 4500 cells/uL is 4.5
    if number and (converted == 0 or converted < sys.float_info.min):
        raise fail(f"{number!r} is too small to represent in 10^9/L", field)
    if not math.isfinite(converted):
        raise fail(f"{number!r} is too large", field)
    return converted


def _parse_row(
    record: dict[str, str], *, path: str, line: int, sources: Mapping[str, Source]
) -> RangeRow:
    def fail(message: str, field: str) -> RangeTableError:
        return RangeTableError(message, path=path, row=line, field=field)

    for field in ("id", "analyte", "kind", "age_from", "age_unit", "sex", "population"):
        if not record[field]:
            raise fail(f"{field} is empty", field)
    for field in ("unit", "source"):
        if not record[field]:
            raise fail(f"{field} is empty", field)
    if not _ID.match(record["id"]):
        raise fail(f"id {record['id'][:40]!r} must be lower-case letters, digits, '-', '_'", "id")
    analyte = record["analyte"].lower()
    known = analytes()
    if analyte not in known:
        raise fail(
            f"unknown analyte {record['analyte'][:40]!r}; known: {', '.join(known)}", "analyte"
        ).with_suggestions(suggest(analyte, known))
    kind = record["kind"]
    if kind not in _KINDS:
        raise fail(
            f"unknown kind {kind[:40]!r}; use one of {', '.join(_KINDS[:4])}", "kind"
        ).with_suggestions(suggest(kind, _KINDS))
    name = record.get("name", "").lower()
    level = record.get("level", "")
    if kind == "leukopenia_threshold":  # the first format's spelling of this decision limit
        if name and name != LEUKOPENIA:
            raise fail("a leukopenia_threshold row is the decision limit 'leukopenia'", "name")
        kind, name = "decision_limit", LEUKOPENIA
        if record["high"]:
            raise fail("a leukopenia_threshold has only a low limit; leave high empty", "high")
        record["low"], record["high"] = "", record["low"]
    if name and not _NAME.match(name):
        raise fail(f"name {name[:40]!r} must be lower-case letters, digits, '-', '_', '.'", "name")
    sex = record["sex"].lower()
    if sex not in _ROW_SEXES:
        raise fail(f"unknown sex {record['sex'][:40]!r}; use female, male, unknown or any", "sex")
    population = record["population"].lower()
    if population != "any" and not _GROUP.match(population):
        raise fail(
            f"population {record['population'][:40]!r} must be 'any' or a group name such as "
            "'african' (lower case, '_' between words)",
            "population",
        )
    value_kind, factor, unit = _limit_unit(record["unit"], fail)
    if value_kind not in known[analyte].kinds:
        raise fail(f"{analyte} is not given as a percentage", "unit")
    try:
        edge_unit: AgeUnit = age_unit(record["age_unit"])
    except PersonError as error:
        raise fail(error.message, "age_unit") from None
    age_from = _number(record["age_from"], fail=fail, field="age_from")
    age_to = _number(record.get("age_to", ""), fail=fail, field="age_to")
    if age_to is not None and age_from is not None and age_to <= age_from:
        raise fail(
            f"age_to {record['age_to']} is not above age_from {record['age_from']}", "age_to"
        )
    start = None if age_from is None else AgeEdge(value=age_from, unit=edge_unit)
    end = None if age_to is None else AgeEdge(value=age_to, unit=edge_unit)
    for edge, field in ((start, "age_from"), (end, "age_to")):
        if edge is not None and Age.of(edge.value, edge.unit).years > 150:
            raise fail("an age band edge above 150 years", field)
    low_reference = high_reference = None
    if kind == "grade" and record["low"].upper() in _REFERENCE_LIMITS:
        low_reference, record["low"] = record["low"].upper(), ""
    if kind == "grade" and record["high"].upper() in _REFERENCE_LIMITS:
        high_reference, record["high"] = record["high"].upper(), ""
    low = _converted(_number(record["low"], fail=fail, field="low"), factor, fail, "low")
    high = _converted(_number(record["high"], fail=fail, field="high"), factor, fail, "high")
    if value_kind == "percent" and any(x is not None and x > 100 for x in (low, high)):
        raise fail("a percentage limit above 100", "high" if (high or 0) > 100 else "low")
    if kind == "reference_interval":
        if low is None:
            raise fail("a reference_interval needs a low limit", "low")
        if high is None:
            raise fail("a reference_interval needs a high limit", "high")
        if low > high:
            raise fail(f"low {low} is above high {high}", "low")
        if level:
            raise fail("a reference_interval has no level", "level")
    elif kind in ("decision_limit", "grade"):
        if not name:
            raise fail(f"a {kind} needs a name", "name")
        if low is not None and high is not None and low >= high:
            raise fail(f"low {low} is not below high {high}", "low")
        if kind == "grade":
            if not level.isdigit() or not 1 <= int(level) <= 5:
                raise fail("a grade needs its grade number (1 to 5) as level", "level")
            if low is None and high is None and low_reference is None and high_reference is None:
                raise fail("a grade band needs a low or a high limit", "low")
    else:  # ethnic_variation
        if low is not None or high is not None:
            raise fail("an ethnic_variation row states no limits; leave low and high empty", "low")
        if population == "any":
            raise fail("an ethnic_variation row must name a population group", "population")
    source = sources.get(record["source"])
    if source is None:
        raise fail(f"unknown source id {record['source'][:40]!r}", "source").with_suggestions(
            suggest(record["source"], sources)
        )
    people = Population(
        age_from=None if start is None else Age.of(start.value, start.unit).years,
        age_to=None if end is None else Age.of(end.value, end.unit).years,
        sex=sex,  # type: ignore[arg-type]  # checked against _ROW_SEXES above
        ethnicity=population,
        description=_describe(start, end, sex, population),
        start=start,
        end=end,
    )
    reference = None
    if kind != "ethnic_variation":
        reference = ReferenceRange(
            kind=kind,  # type: ignore[arg-type]  # one of the limit kinds, checked above
            low=low,
            high=high,
            population=people,
            source=source,
            note=record.get("note", ""),
            analyte=analyte,
            unit=unit,
            name=name,
            level=level,
        )
    threshold = None
    if reference is not None and (analyte, name) == ("wbc", LEUKOPENIA) and high is not None:
        threshold = reference.model_copy(
            update={"kind": "leukopenia_threshold", "low": high, "high": None}
        )
    return RangeRow(
        id=record["id"],
        line=line,
        analyte=analyte,
        value_kind=value_kind,
        kind=kind,  # type: ignore[arg-type]
        name=name,
        level=level,
        population=people,
        low=low,
        high=high,
        low_reference=low_reference,
        high_reference=high_reference,
        source=source,
        note=record.get("note", ""),
        reference=reference,
        threshold=threshold,
    )


def load_table(path: str | os.PathLike[str], *, name: str | None = None) -> RangeTable:
    """Load and validate a range table file (a lab's own ranges, for instance).

    Rows may cite the sources of the data folders and those of a ``sources.toml``
    next to the file. Any fault raises :class:`~cbc_ranges.errors.RangeTableError`
    naming the file, the row and the field.

    >>> load_table("no/such/table.csv")
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.RangeTableError: no/such/table.csv: no such file
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a text or a path, not {type(path).__name__}")
    file = Path(path)
    shown = os.fspath(path)
    text = _read(file, shown)
    sources = shipped_sources()
    sibling = file.with_name("sources.toml")
    if sibling.is_file():
        extra = read_sources(_read(sibling, str(sibling)), path=str(sibling))
        _merge_sources(sources, extra, str(sibling))
    return parse_table(text, path=shown, name=name or file.stem, sources=sources)


def _read(file: Path, shown: str) -> str:
    try:
        if file.is_dir():
            raise RangeTableError("is a folder, not a table file", path=shown)
        return file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RangeTableError("no such file", path=shown) from None
    except UnicodeDecodeError:
        raise RangeTableError("not UTF-8 text", path=shown) from None
    except OSError as error:
        raise RangeTableError(f"cannot be read ({error.strerror})", path=shown) from None


def _table_files() -> dict[str, DataFile]:
    """The range tables of the data folders by name (CSV files whose header is a table's)."""

    def build() -> dict[str, DataFile]:
        found: dict[str, DataFile] = {}
        for file in find_files(suffix=".csv"):
            try:
                first = next(_records(file.read_text(), file.shown), None)
            except RangeTableError:
                first = None
            if first is not None and {"id", "analyte", "kind"} <= {v.strip() for v in first[1]}:
                found.setdefault(file.name[: -len(".csv")], file)
        return found

    return load("tables.files", build)


def shipped_table_names() -> list[str]:
    """The names of the tables in the data folders (CSV files with a table header).

    >>> shipped_table_names()
    ['documents', 'duffy-null', 'standard']
    """
    return sorted(_table_files())


def _named_table(name: str) -> RangeTable:
    key = f"tables.{name}"
    found: RangeTable | None = cached(key)
    if found is not None:
        return found

    def build() -> RangeTable:
        file = _table_files()[name]
        return parse_table(file.read_text(), path=file.shown, name=name, sources=shipped_sources())

    return load(key, build)


_DEFAULT_KEY = f"tables.{DEFAULT_TABLE}"


def get_table(table: RangeTable | str | os.PathLike[str] | None = None) -> RangeTable:
    """A range table: a loaded one as is, a shipped one by name, or a file by path.

    ``None`` is the default table, ``standard``. A name that is neither a known
    table nor an existing file raises :class:`~cbc_ranges.errors.RangeTableError`;
    anything else than these types is a :class:`TypeError`.

    >>> get_table().name, get_table("standard") is get_table()
    ('standard', True)
    >>> get_table("documnets").name
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.RangeTableError: documnets: no shipped table ... (did you mean 'documents'?)
    """
    if table is None:
        found: RangeTable | None = cached(_DEFAULT_KEY)  # the hot path: one dict look-up
        return found if found is not None else _named_table(DEFAULT_TABLE)
    if isinstance(table, RangeTable):
        return table
    if isinstance(table, str):
        names = _table_files()
        if table in names:
            return _named_table(table)
        looks_like_a_name = not any(mark in table for mark in ("/", os.sep, "."))
        if looks_like_a_name and not Path(table).exists():
            raise RangeTableError(
                "no shipped table and no file of that name; shipped tables: " + ", ".join(names),
                path=table[:60],
            ).with_suggestions(suggest(table, names) or suggest(table.lower(), names))
    elif not isinstance(table, os.PathLike):
        raise TypeError(
            f"table must be a RangeTable, a table name, a path or None, not {type(table).__name__}"
        )
    return load_table(table)


# --- documentation ------------------------------------------------------------------------


def _limit(row: RangeRow, which: Literal["low", "high"]) -> str:
    value = row.low if which == "low" else row.high
    reference = row.low_reference if which == "low" else row.high_reference
    if reference is not None:
        return reference
    if value is None:
        return "—"
    return format_number(value)


_RULES = (
    "Limits in 10⁹ cells/L (= 10³ cells/µL), or in % of white cells where the unit says so. "
    "Age bands: from inclusive, to exclusive, each edge compared in its own unit. Reference "
    "intervals are inclusive at both ends; a decision limit or grade band covers the values "
    "from `low` (inclusive) up to `high` (exclusive), below `high` when only `high` is given, "
    "above `low` when only `low` is given; `LLN` is the lower limit of the reference interval "
    "that applies. Where a band ends or where adulthood starts is often the library's own "
    "reading of a source; the note of each row says so. The file format is described in "
    "`ranges/README.md`, the rules in `docs/interpretation.md`."
)


def render_markdown(table: RangeTable | None = None, *, level: int = 1) -> str:
    """One table and its sources as Markdown (headings from ``level``).

    >>> print(render_markdown(get_table("documents")).splitlines()[0])
    # Range table `documents`
    """
    table = table or get_table()
    top, sub = "#" * level, "#" * (level + 1)
    out = [f"{top} Range table `{table.name}`", ""]
    out += [
        f"Loaded from `{table.path}`. {_RULES}",
        "",
        "| id | analyte | kind | name / level | population | low | high | unit | source | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in table.rows:
        named = " / ".join(part for part in (row.name, row.level) if part) or "—"
        unit = "%" if row.value_kind == "percent" else "10⁹/L"
        note = " ".join(row.note.replace("|", "/").split())
        out.append(
            f"| `{row.id}` | {row.analyte} | {row.kind.replace('_', ' ')} | {named} | "
            f"{row.population.description} | {_limit(row, 'low')} | {_limit(row, 'high')} | "
            f"{unit} | `{row.source.id}` | {note} |"
        )
    out += [
        "",
        f"{sub} Sources of `{table.name}`",
        "",
        "| id | title | publisher | date |",
        "| --- | --- | --- | --- |",
    ]
    for source in table.cited_sources():
        out.append(
            f"| `{source.id}` | {source.title} | {source.publisher} | {source.date or 'undated'} |"
        )
    if table.groups:
        out += ["", f"{sub} Population groups of `{table.name}`", ""]
        for group, aliases in table.groups.items():
            spelled = ", ".join(f"“{alias}”" for alias in aliases) or "its own name only"
            out.append(f"- `{group}` ({table.group_labels[group]}): read from {spelled}")
    return "\n".join(out) + "\n"


def render_pages() -> str:
    """``docs/ranges.md``: every shipped table (the default first), then the analytes."""
    names = shipped_table_names()
    ordered = [DEFAULT_TABLE, *(name for name in names if name != DEFAULT_TABLE)]
    out = [
        "# Range tables",
        "",
        "<!-- generated by `python -m cbc_ranges.ranges > docs/ranges.md`; do not edit -->",
        "",
        f"The default table is `{DEFAULT_TABLE}`; another is chosen with `table=` (or "
        "`--table`). " + ", ".join(f"`{name}`" for name in ordered) + ".",
        "",
        "- `standard`: the seed documents where they give a figure for the person (the adult "
        "total count and leukopenia threshold), and the cited publications where they say "
        "the limits vary or say nothing (children by age band, the differential, neutropenia "
        "and its severity, leukocytosis, CTCAE grades, Duffy-null adults).",
        "- `documents`: exactly what the five seed documents state, nothing added.",
        "- `duffy-null`: the Duffy-null adult intervals of every cohort (Hibbs et al. 2025).",
        "",
    ]
    for name in ordered:
        out.append(render_markdown(get_table(name), level=2))
    out += [
        "## Analytes",
        "",
        "From `analytes.toml`. The plausible range (10⁹/L) only decides the implausible-magnitude "
        "check; the headers are the column names batch detection reads (count, then %).",
        "",
        "| id | label | kinds | LOINC | plausible | headers |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for analyte in analytes().values():
        codes = ", ".join([*analyte.loinc, *(f"{code} (%)" for code in analyte.loinc_percent)])
        headers = ", ".join(f"`{h}`" for h in (*analyte.headers, *analyte.percent_headers))
        low, high = (format_number(x) for x in analyte.plausible)
        out.append(
            f"| `{analyte.id}` | {analyte.label} | {', '.join(analyte.kinds)} | {codes} | "
            f"{low}–{high} | {headers} |"
        )
    return "\n".join(out) + "\n"


def _main() -> None:  # pragma: no cover - the docs generator
    if len(sys.argv) > 1:
        sys.stdout.write(render_markdown(get_table(sys.argv[1])))
    else:
        sys.stdout.write(render_pages())


if __name__ == "__main__":  # pragma: no cover
    _main()
