"""Range tables: which white blood cell range applies to whom, and which document says so.

A range table is a CSV file of rows, each stating one limit for one population:
a **reference interval** (low and high, both inclusive), a **leukopenia
threshold** (a count strictly below ``low`` is leukopenia; an empty ``low`` means
"the documents give no figure") or an **ethnic variation** note (no figure; the
documents only say that counts differ). Every row cites a source id from a
sources file. The format is documented in ``ranges/README.md``, shipped next to
the data (installed as the package ``cbc_ranges.range_data``).

The default table, ``documents``, holds exactly what the five seed documents
state. :func:`load_table` reads a lab's own table in the same format and checks
all of it (fields, units, limits, sources, overlapping populations), raising one
:class:`~cbc_ranges.errors.RangeTableError` that names the file, the row (the
line number in the file) and the field. :func:`get_table` takes a loaded table,
the name of a shipped table or a path; shipped tables are loaded once, lazily,
behind a lock.

>>> table = get_table("documents")
>>> row = table.select(age_years=40.0, sex="female").reference
>>> (row.low, row.high, row.source.id)
(4.5, 11.0, 'cleveland-2022')

``python -m cbc_ranges.ranges`` prints the Markdown page ``docs/ranges.md``.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
import re
import sys
import threading
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

from cbc_ranges.errors import PersonError, RangeTableError
from cbc_ranges.models import Population, ReferenceRange, Sex, Source
from cbc_ranges.people import ADULT_AGE, age_in_years, normalise_words

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable

    import tomllib
else:  # pragma: no cover - python 3.10
    from importlib.abc import Traversable

    import tomli as tomllib

__all__ = [
    "COLUMNS",
    "DATA_PACKAGE",
    "DEFAULT_TABLE",
    "RangeRow",
    "RangeTable",
    "RowKind",
    "Selection",
    "format_number",
    "get_table",
    "load_table",
    "read_data_text",
    "read_sources",
    "render_markdown",
    "shipped_sources",
    "shipped_table_names",
]

#: the package the shipped data files (the ``ranges/`` folder) are installed as; it cannot
#: be ``cbc_ranges.ranges``, the name of this module (see ranges/README.md, "Packaging")
DATA_PACKAGE = "cbc_ranges.range_data"
#: the table used when none is named
DEFAULT_TABLE = "documents"
#: the columns of a range table, in order; all must be present
COLUMNS = (
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

RowKind = Literal["reference_interval", "leukopenia_threshold", "ethnic_variation"]
_KINDS: tuple[RowKind, ...] = ("reference_interval", "leukopenia_threshold", "ethnic_variation")
_ROW_SEXES = ("female", "male", "unknown", "any")
_ANALYTES = ("wbc",)
# 10^9/L per unit of the limit columns; a table states its limits in one of these
_LIMIT_UNITS: Mapping[str, float] = {
    **dict.fromkeys(("10^9/l", "10*9/l", "x10^9/l", "10^3/ul", "10*3/ul", "k/ul"), 1.0),
    **dict.fromkeys(("cells/ul", "/ul", "cells/µl", "/µl", "cells/mm3", "/mm3"), 0.001),
}
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_GROUP = re.compile(r"^[a-z][a-z0-9_]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RangeRow(_Frozen):
    """One row of a range table, validated, with its limits in 10^9/L.

    ``line`` is the row's line number in its file. ``reference`` is the row as a
    :class:`~cbc_ranges.models.ReferenceRange` (``None`` for an ethnic
    variation note, which states no limit).
    """

    id: str
    line: int
    analyte: str
    kind: RowKind
    population: Population
    low: float | None
    high: float | None
    source: Source
    note: str
    reference: ReferenceRange | None

    def applies_to(self, age_years: float, sex: Sex) -> bool:
        """Whether this row's age band and sex cover the person (ethnicity aside).

        >>> row = get_table().select(age_years=30.0, sex="male").reference
        >>> row.applies_to(18.0, "male"), row.applies_to(17.99, "male")
        (True, False)
        """
        population = self.population
        if population.age_from is not None and age_years < population.age_from:
            return False
        if population.age_to is not None and age_years >= population.age_to:
            return False
        return population.sex in ("any", sex)


@dataclass(frozen=True)
class Selection:
    """The rows of a table that apply to one person.

    ``reference`` is the reference interval (``None`` when no row applies),
    ``threshold`` the leukopenia threshold row (its ``low`` may be ``None``:
    a threshold the documents give no figure for), ``variation`` an ethnic
    variation note for the person's group, if the table has one.
    """

    reference: RangeRow | None
    threshold: RangeRow | None
    variation: RangeRow | None


class RangeTable(_Frozen):
    """A validated range table with the sources its rows cite.

    ``groups`` maps each ethnicity group the table names to the spellings read
    as that group (see ``ranges/ethnicity_groups.toml``); ``group_labels`` gives
    each group's display name.
    """

    name: str
    path: str
    rows: tuple[RangeRow, ...]
    sources: dict[str, Source]
    groups: dict[str, tuple[str, ...]]
    group_labels: dict[str, str]

    # caches; read through __pydantic_private__ because attribute access to a private
    # attribute costs microseconds (it goes through BaseModel.__getattr__)
    _selections: dict[tuple[float, str, str | None], Selection] = PrivateAttr(default_factory=dict)
    _derived: dict[Hashable, Any] = PrivateAttr(default_factory=dict)

    def _private(self, name: str) -> Any:
        private = self.__pydantic_private__
        assert private is not None
        return private[name]

    def derived_cache(self) -> dict[Hashable, Any]:
        """A dict for results that depend only on this table and their key.

        Later steps (the text, the person look-up) cache here, so a cache dies
        with its table and never mixes two tables.
        """
        derived: dict[Hashable, Any] = self._private("_derived")
        return derived

    def select(
        self, *, age_years: float | None, sex: Sex, ethnicity: str | None = None
    ) -> Selection:
        """The rows that apply to a person; an unknown age is looked up as an adult.

        A row for the person's ethnicity group wins over a row for ``any``.

        >>> table = get_table()
        >>> table.select(age_years=None, sex="unknown").reference.id
        'adult-sex-unknown'
        >>> table.select(age_years=0.5, sex="male").threshold.low is None
        True
        """
        age = ADULT_AGE if age_years is None else age_years
        key = (age, sex, ethnicity)
        selections: dict[tuple[float, str, str | None], Selection] = self._private("_selections")
        found = selections.get(key)
        if found is None:
            found = Selection(
                reference=self._pick("reference_interval", age, sex, ethnicity),
                threshold=self._pick("leukopenia_threshold", age, sex, ethnicity),
                variation=self._pick("ethnic_variation", age, sex, ethnicity)
                if ethnicity is not None
                else None,
            )
            if len(selections) >= 4096:  # ages are continuous: keep the cache bounded
                selections.clear()
            selections[key] = found
        return found

    def _pick(self, kind: RowKind, age: float, sex: Sex, ethnicity: str | None) -> RangeRow | None:
        general = None
        for row in self.rows:
            if row.kind != kind or not row.applies_to(age, sex):
                continue
            if ethnicity is not None and row.population.ethnicity == ethnicity:
                return row
            if row.population.ethnicity == "any" and general is None:
                general = row
        return general

    def cited_sources(self) -> list[Source]:
        """The sources the rows cite, in the order of the sources file.

        >>> [source.id for source in get_table().cited_sources()]
        ['symptoms-and-causes', 'cleveland-2022', 'healthy-living']
        """
        cited = {row.source.id for row in self.rows}
        return [source for key, source in self.sources.items() if key in cited]


# --- sources and ethnicity groups ---------------------------------------------------------


def read_sources(
    text: str, *, path: str, default_kind: Literal["seed", "publication", "user"] = "user"
) -> dict[str, Source]:
    """Parse a sources file (TOML, ``[[source]]`` tables) into sources by id.

    >>> read_sources('[[source]]\\nid = "lab"\\ntitle = "Ranges"\\npublisher = "My lab"',
    ...              path="sources.toml")["lab"].kind
    'user'
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RangeTableError(f"not valid TOML: {error}", path=path) from None
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


_LOCK = threading.RLock()
_FOLDER: Traversable | None = None
_SOURCES: dict[str, Source] | None = None
_GROUPS: tuple[dict[str, tuple[str, ...]], dict[str, str]] | None = None
_TABLES: dict[str, RangeTable] = {}
_NAMES: tuple[str, ...] | None = None


def _data_folder() -> Traversable:
    """The shipped ``ranges/`` folder, found through the import system."""
    global _FOLDER
    if _FOLDER is None:
        with _LOCK:
            if _FOLDER is None:
                _FOLDER = _find_data_folder()
    return _FOLDER


def _find_data_folder() -> Traversable:
    # pyproject ships the ranges/ folder as this package, in a wheel and in an editable install
    try:
        return resources.files(DATA_PACKAGE)
    except ModuleNotFoundError:
        raise RangeTableError(
            f"the shipped range data (package {DATA_PACKAGE}) is not installed; "
            "reinstall cbc-ranges",
            path=DATA_PACKAGE,
        ) from None


def read_data_text(name: str) -> str:
    """The text of a file shipped in ``ranges/`` (UTF-8)."""
    return _data_folder().joinpath(name).read_text(encoding="utf-8")


def shipped_sources() -> dict[str, Source]:
    """The sources shipped with the library (``ranges/sources.toml``), by id.

    >>> list(shipped_sources())[:2]
    ['symptoms-and-causes', 'cleveland-2022']
    """
    global _SOURCES
    if _SOURCES is None:
        with _LOCK:
            if _SOURCES is None:
                _SOURCES = read_sources(
                    read_data_text("sources.toml"), path="ranges/sources.toml", default_kind="seed"
                )
    return dict(_SOURCES)


def _shipped_groups() -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    global _GROUPS
    if _GROUPS is None:
        with _LOCK:
            if _GROUPS is None:
                path = "ranges/ethnicity_groups.toml"
                data = tomllib.loads(read_data_text("ethnicity_groups.toml"))
                aliases: dict[str, tuple[str, ...]] = {}
                labels: dict[str, str] = {}
                for group, entry in data.items():
                    if not _GROUP.match(group) or not isinstance(entry, dict):
                        raise RangeTableError(f"bad group {group!r}", path=path, field=group)
                    aliases[group] = tuple(normalise_words(a) for a in entry.get("aliases", []))
                    labels[group] = str(entry.get("label", group))
                _GROUPS = (aliases, labels)
    return _GROUPS


# --- reading a table ----------------------------------------------------------------------


def _data_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line


def _number(value: str, *, path: str, line: int, field: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value.replace("_", ""))
    except ValueError:
        raise RangeTableError(
            f"{value!r} is not a number", path=path, row=line, field=field
        ) from None
    if not math.isfinite(number) or number < 0:
        raise RangeTableError(
            f"{value!r} must be a finite number, 0 or more", path=path, row=line, field=field
        )
    return number


def _describe(age_from: float | None, age_to: float | None, sex: str, ethnicity: str) -> str:
    who = {
        "female": "females",
        "male": "males",
        "unknown": "people of unknown sex,",
        "any": "people",
    }[sex]
    if age_to is None:
        ages = f"aged {_years(age_from or 0.0)} and over" if age_from else "of any age"
    elif not age_from:
        ages = f"aged under {_years(age_to)}"
    else:
        ages = f"aged {_years(age_from)} to under {_years(age_to)}"
    if sex == "any" and ages == "aged under 18 years":
        who = "children"
    group = "" if ethnicity == "any" else f" of {ethnicity.replace('_', ' ').title()} ancestry"
    return f"{who}{group} {ages}"


def _years(years: float) -> str:
    if years < 1 and round(years * 12, 6).is_integer():
        months = round(years * 12)
        return f"{months} month{'s' if months != 1 else ''}"
    text = f"{years:g}"
    return f"{text} year{'s' if text != '1' else ''}"


def _overlap(a: RangeRow, b: RangeRow) -> bool:
    pa, pb = a.population, b.population
    if a.kind != b.kind or pa.ethnicity != pb.ethnicity:
        return False
    if not (pa.sex == pb.sex or "any" in (pa.sex, pb.sex)):
        return False
    a_from, b_from = pa.age_from or 0.0, pb.age_from or 0.0
    a_to = math.inf if pa.age_to is None else pa.age_to
    b_to = math.inf if pb.age_to is None else pb.age_to
    return a_from < b_to and b_from < a_to


def parse_table(
    text: str,
    *,
    path: str,
    name: str,
    sources: Mapping[str, Source],
) -> RangeTable:
    """Parse and validate the text of a range table (see :func:`load_table`).

    >>> text = "id,analyte,kind,age_from,age_to,age_unit,sex,ethnicity,low,high,unit,source,note\\n"
    >>> text += "x,wbc,reference_interval,18,,years,any,any,5,4,10^9/L,wikipedia,\\n"
    >>> parse_table(text, path="my.csv", name="my", sources=shipped_sources())
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.RangeTableError: my.csv, row 2, field 'low': low 5.0 is above high 4.0
    """
    lines = list(_data_lines(text))
    if not lines:
        raise RangeTableError("the table is empty", path=path)
    header_line, header_text = lines[0]
    header = [column.strip() for column in next(csv.reader([header_text]))]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise RangeTableError(
            f"missing column {missing[0]!r}; a table has the columns {', '.join(COLUMNS)}",
            path=path,
            row=header_line,
            field=missing[0],
        )
    unknown = [column for column in header if column not in COLUMNS]
    if unknown:
        guess = difflib.get_close_matches(unknown[0], COLUMNS, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise RangeTableError(
            f"unknown column {unknown[0]!r}{hint}", path=path, row=header_line, field=unknown[0]
        )
    group_aliases, group_labels = _shipped_groups()
    rows: list[RangeRow] = []
    seen_ids: dict[str, int] = {}
    for line, row_text in lines[1:]:
        values = next(csv.reader([row_text]))
        if len(values) != len(header):
            raise RangeTableError(
                f"{len(values)} fields where the header has {len(header)}", path=path, row=line
            )
        record = dict(zip(header, (value.strip() for value in values), strict=True))
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
                    "the same person would get two rows of the same kind",
                    path=path,
                    row=line,
                    field="age_from",
                )
        rows.append(row)
    if not any(row.kind == "reference_interval" for row in rows):
        raise RangeTableError("the table has no reference_interval row", path=path)
    groups = sorted({row.population.ethnicity for row in rows} - {"any"})
    return RangeTable(
        name=name,
        path=path,
        rows=tuple(rows),
        sources=dict(sources),
        groups={group: group_aliases.get(group, ()) for group in groups},
        group_labels={
            group: group_labels.get(group, group.replace("_", " ").title()) for group in groups
        },
    )


def _parse_row(
    record: Mapping[str, str], *, path: str, line: int, sources: Mapping[str, Source]
) -> RangeRow:
    def fail(message: str, field: str) -> RangeTableError:
        return RangeTableError(message, path=path, row=line, field=field)

    for field in ("id", "analyte", "kind", "age_from", "age_unit", "sex", "ethnicity"):
        if not record[field]:
            raise fail(f"{field} is empty", field)
    for field in ("unit", "source"):
        if not record[field]:
            raise fail(f"{field} is empty", field)
    if not _ID.match(record["id"]):
        raise fail(f"id {record['id']!r} must be lower-case letters, digits, '-', '_'", "id")
    analyte = record["analyte"].lower()
    if analyte not in _ANALYTES:
        raise fail(f"unknown analyte {record['analyte']!r}; this library reads 'wbc'", "analyte")
    kind = record["kind"]
    if kind not in _KINDS:
        guess = difflib.get_close_matches(kind, _KINDS, n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise fail(f"unknown kind {kind!r}{hint}; use one of {', '.join(_KINDS)}", "kind")
    sex = record["sex"].lower()
    if sex not in _ROW_SEXES:
        raise fail(f"unknown sex {record['sex']!r}; use female, male, unknown or any", "sex")
    ethnicity = record["ethnicity"].lower()
    if ethnicity != "any" and not _GROUP.match(ethnicity):
        raise fail(
            f"ethnicity {record['ethnicity']!r} must be 'any' or a group name such as "
            "'african' (lower case, '_' between words)",
            "ethnicity",
        )
    unit_factor = _LIMIT_UNITS.get(record["unit"].lower().replace(" ", ""))
    if unit_factor is None:
        raise fail(
            f"unknown unit {record['unit']!r}; use 10^9/L, 10^3/uL, K/uL or cells/uL", "unit"
        )
    age_from = _number(record["age_from"], path=path, line=line, field="age_from")
    age_to = _number(record["age_to"], path=path, line=line, field="age_to")
    try:
        if age_from is not None:
            age_from = age_in_years(age_from, record["age_unit"])
        if age_to is not None:
            age_to = age_in_years(age_to, record["age_unit"])
    except PersonError as error:
        raise fail(error.message, "age_unit") from None
    if age_to is not None and age_from is not None and age_to <= age_from:
        raise fail(
            f"age_to {record['age_to']} is not above age_from {record['age_from']}", "age_to"
        )
    low = _number(record["low"], path=path, line=line, field="low")
    high = _number(record["high"], path=path, line=line, field="high")
    low = None if low is None else round(low * unit_factor, 9)
    high = None if high is None else round(high * unit_factor, 9)
    if kind == "reference_interval":
        if low is None:
            raise fail("a reference_interval needs a low limit", "low")
        if high is None:
            raise fail("a reference_interval needs a high limit", "high")
        if low > high:
            raise fail(f"low {low} is above high {high}", "low")
    elif kind == "leukopenia_threshold":
        if high is not None:
            raise fail("a leukopenia_threshold has only a low limit; leave high empty", "high")
    elif low is not None or high is not None:
        raise fail("an ethnic_variation row states no limits; leave low and high empty", "low")
    if kind == "ethnic_variation" and ethnicity == "any":
        raise fail("an ethnic_variation row must name an ethnicity group", "ethnicity")
    source = sources.get(record["source"])
    if source is None:
        guess = difflib.get_close_matches(record["source"], list(sources), n=1)
        hint = f" (did you mean {guess[0]!r}?)" if guess else ""
        raise fail(f"unknown source id {record['source']!r}{hint}", "source")
    population = Population(
        age_from=age_from,
        age_to=age_to,
        sex=sex,  # type: ignore[arg-type]  # checked against _ROW_SEXES above
        ethnicity=ethnicity,
        description=_describe(age_from, age_to, sex, ethnicity),
    )
    reference = None
    if kind != "ethnic_variation":
        reference = ReferenceRange(
            kind=kind,
            low=low,
            high=high,
            population=population,
            source=source,
            note=record["note"],
        )
    return RangeRow(
        id=record["id"],
        line=line,
        analyte=analyte,
        kind=kind,
        population=population,
        low=low,
        high=high,
        source=source,
        note=record["note"],
        reference=reference,
    )


def load_table(path: str | os.PathLike[str], *, name: str | None = None) -> RangeTable:
    """Load and validate a range table file (a lab's own ranges, for instance).

    Rows may cite the shipped sources and those of a ``sources.toml`` next to the
    file. Any fault raises :class:`~cbc_ranges.errors.RangeTableError` naming the
    file, the row and the field.

    >>> load_table("no/such/table.csv")
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.RangeTableError: no/such/table.csv: no such file
    """
    file = Path(path)
    shown = os.fspath(path)
    text = _read(file, shown)
    sources = shipped_sources()
    sibling = file.with_name("sources.toml")
    if sibling.is_file():
        extra = read_sources(_read(sibling, str(sibling)), path=str(sibling))
        for key, source in extra.items():
            if key in sources and sources[key] != source.model_copy(
                update={"kind": sources[key].kind}
            ):
                raise RangeTableError(
                    f"source id {key!r} is already a shipped source with other details",
                    path=str(sibling),
                    field="id",
                )
            sources.setdefault(key, source)
    return parse_table(text, path=shown, name=name or file.stem, sources=sources)


def _read(file: Path, shown: str) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RangeTableError("no such file", path=shown) from None
    except UnicodeDecodeError:
        raise RangeTableError("not UTF-8 text", path=shown) from None
    except OSError as error:
        raise RangeTableError(f"cannot be read ({error.strerror})", path=shown) from None


def shipped_table_names() -> list[str]:
    """The names of the tables shipped in ``ranges/`` (CSV files with a table header).

    >>> shipped_table_names()
    ['documents']
    """
    names = []
    for entry in _data_folder().iterdir():
        if entry.name.endswith(".csv"):
            lines = _data_lines(entry.read_text(encoding="utf-8"))
            first = next(lines, (0, ""))[1]
            if first.replace(" ", "").startswith("id,analyte,kind,"):
                names.append(entry.name[: -len(".csv")])
    return sorted(names)


def _shipped_table(name: str) -> RangeTable:
    table = _TABLES.get(name)
    if table is None:
        with _LOCK:
            table = _TABLES.get(name)
            if table is None:
                table = parse_table(
                    read_data_text(f"{name}.csv"),
                    path=f"ranges/{name}.csv",
                    name=name,
                    sources=shipped_sources(),
                )
                _TABLES[name] = table
    return table


def _shipped_names() -> tuple[str, ...]:
    global _NAMES
    if _NAMES is None:
        with _LOCK:
            if _NAMES is None:
                _NAMES = tuple(shipped_table_names())
    return _NAMES


def get_table(table: RangeTable | str | os.PathLike[str] | None = None) -> RangeTable:
    """A range table: a loaded one as is, a shipped one by name, or a file by path.

    ``None`` is the default table, ``documents``. A name that is neither a shipped
    table nor an existing file raises :class:`~cbc_ranges.errors.RangeTableError`.

    >>> get_table().name, get_table("documents") is get_table()
    ('documents', True)
    >>> get_table("documnets").name
    Traceback (most recent call last):
    ...
    cbc_ranges.errors.RangeTableError: documnets: no shipped table ... (did you mean 'documents'?)
    """
    if table is None:
        found = _TABLES.get(DEFAULT_TABLE)
        return found if found is not None else _shipped_table(DEFAULT_TABLE)
    if isinstance(table, RangeTable):
        return table
    if isinstance(table, str):
        found = _TABLES.get(table)
        if found is not None:
            return found
        names = _shipped_names()
        if table in names:
            return _shipped_table(table)
        looks_like_a_name = not any(mark in table for mark in ("/", os.sep, "."))
        if looks_like_a_name and not Path(table).exists():
            error = RangeTableError(
                "no shipped table and no file of that name; shipped tables: " + ", ".join(names),
                path=table,
            )
            error.suggestions = difflib.get_close_matches(table, names, n=1)
            if error.suggestions:
                error.args = (f"{error.args[0]} (did you mean {error.suggestions[0]!r}?)",)
            raise error
    return load_table(table)


# --- documentation ------------------------------------------------------------------------


def format_number(value: float) -> str:
    """A count or limit for text: at least one decimal, at most three, no trailing zeros.

    >>> format_number(4.0), format_number(4.25), format_number(12.3456), format_number(250.0)
    ('4.0', '4.25', '12.346', '250.0')
    """
    text = _NUMBER_TEXTS.get(value)
    if text is None:
        text = f"{value:.3f}".rstrip("0")
        if text.endswith("."):
            text += "0"
        if len(_NUMBER_TEXTS) >= 8192:  # lab values repeat; keep the memo bounded
            _NUMBER_TEXTS.clear()
        _NUMBER_TEXTS[value] = text
    return text


_NUMBER_TEXTS: dict[float, str] = {}


def _limit(value: float | None) -> str:
    return "" if value is None else format_number(value)


def render_markdown(table: RangeTable | None = None) -> str:
    """The table and its sources as a Markdown page (``docs/ranges.md`` for the default).

    >>> print(render_markdown().splitlines()[0])
    # Range table `documents`
    """
    table = table or get_table()
    out = [f"# Range table `{table.name}`", ""]
    if table is _TABLES.get(DEFAULT_TABLE):
        out += [
            "<!-- generated by `python -m cbc_ranges.ranges > docs/ranges.md`; do not edit -->",
            "",
        ]
    out += [
        f"Loaded from `{table.path}`. Limits in 10⁹ cells/L (= 10³ cells/µL). Ages in years: "
        "from inclusive, to exclusive. Reference intervals are inclusive at both ends; a "
        "leukopenia threshold is strict (a count exactly at it is not below it). The file "
        "format is described in `ranges/README.md`, the rules in `docs/interpretation.md`.",
        "",
        "| id | kind | population | low | high | source | note |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in table.rows:
        out.append(
            f"| `{row.id}` | {row.kind.replace('_', ' ')} | {row.population.description} | "
            f"{_limit(row.low) or '—'} | {_limit(row.high) or '—'} | `{row.source.id}` | "
            f"{row.note.replace('|', '/')} |"
        )
    out += ["", "## Sources", "", "| id | title | publisher | date |", "| --- | --- | --- | --- |"]
    for source in table.cited_sources():
        out.append(
            f"| `{source.id}` | {source.title} | {source.publisher} | {source.date or 'undated'} |"
        )
    if table.groups:
        out += ["", "## Ethnicity groups", ""]
        for group, aliases in table.groups.items():
            spelled = ", ".join(f"“{alias}”" for alias in aliases) or "its own name only"
            out.append(f"- `{group}` ({table.group_labels[group]}): read from {spelled}")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render_markdown(get_table(sys.argv[1] if len(sys.argv) > 1 else None)))
