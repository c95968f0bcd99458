"""Check every row of a lab CSV file and write it back with WBC result columns.

The input may be wide (one row per patient with a WBC column) or long (one row
per lab result, MIMIC-style itemid/valuenum/valueuom). Every input row comes
back in order with its columns unchanged, followed by wbc_value (10^9/L),
wbc_flag, wbc_code, wbc_leukopenia, wbc_ref_low, wbc_ref_high, wbc_source,
wbc_warnings and wbc_error. A row that cannot be read keeps its data and gets
an empty flag and a one-line error.

Columns are found from common header names (wbc, leukocytes, valuenum, value;
unit, valueuom; age, anchor_age; sex, gender; ethnicity, race; any case)
unless given. UTF-8 (with or without BOM) and Latin-1/cp1252 files are read,
the , ; and tab delimiters are sniffed, and in ; files a decimal comma is a
decimal. The output is written to a temporary file and renamed into place when
complete. Exit status: 0 when the file was processed (even with row errors), 2
when it could not be. Educational only: a flag compares a value with a
published range, it is not a diagnosis. Full rules: docs/batch.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TextIO

from cbc_ranges.csvfiles import (
    CSVSource,
    atomic_output,
    open_csv_source,
    raised_field_size_limit,
)
from cbc_ranges.errors import BatchError, CBCError
from cbc_ranges.rows import (
    CATEGORIES,
    EMPTY_CELLS,
    RESULT_COLUMNS,
    Entry,
    Outcome,
    ParsedCell,
    PersonClass,
    RowInterpreter,
    RowResult,
)

if TYPE_CHECKING:
    from cbc_ranges.ranges import RangeTable

__all__ = [
    "COLUMN_NAMES",
    "ROLES",
    "BatchSummary",
    "check_csv",
    "configure_parser",
    "detect_columns",
    "run_from_args",
]

Role = Literal["value", "unit", "age", "sex", "ethnicity"]
OutputFormat = Literal["csv", "jsonl"]

#: the columns batch reads, in the order the interpreter takes them
ROLES: tuple[Role, ...] = ("value", "unit", "age", "sex", "ethnicity")

#: header names (normalised: lower case, runs of other characters as ``_``) per role.
#: For the value, earlier tiers win over later ones; two matches in one tier are ambiguous.
COLUMN_NAMES: Mapping[Role, tuple[frozenset[str], ...]] = {
    "value": (
        frozenset(
            {
                "wbc",
                "wbcs",
                "wbc_count",
                "wbc_value",
                "wbc_result",
                "white_blood_cells",
                "white_blood_cell_count",
                "white_cell_count",
                "white_count",
                "wcc",
                "leukocytes",
                "leukocyte_count",
                "leucocytes",
                "leucocyte_count",
                "leukozyten",
                "leucocitos",
                "leucócitos",
                "globules_blancs",
            }
        ),
        frozenset({"valuenum", "value_num", "numeric_value"}),
        frozenset({"value", "result", "result_value", "wert", "valeur", "resultat", "résultat"}),
    ),
    "unit": (
        frozenset(
            {
                "unit",
                "units",
                "valueuom",
                "uom",
                "unit_of_measure",
                "units_of_measure",
                "wbc_unit",
                "wbc_units",
                "einheit",
                "unite",
                "unité",
                "unidad",
                "unidade",
            }
        ),
    ),
    "age": (
        frozenset(
            {
                "age",
                "anchor_age",
                "age_years",
                "age_y",
                "age_yrs",
                "patient_age",
                "age_at_test",
                "age_at_collection",
                "alter",
                "âge",
                "edad",
                "idade",
            }
        ),
    ),
    "sex": (
        frozenset(
            {
                "sex",
                "gender",
                "patient_sex",
                "sex_at_birth",
                "geschlecht",
                "sexe",
                "sexo",
            }
        ),
    ),
    "ethnicity": (
        frozenset(
            {
                "ethnicity",
                "ethnic_group",
                "ethnic_origin",
                "race",
                "race_ethnicity",
                "ethnicity_race",
                "ancestry",
                "ethnie",
                "etnia",
            }
        ),
    ),
}

_OPTIONS = {
    "value": "--value-col",
    "unit": "--unit-col",
    "age": "--age-col",
    "sex": "--sex-col",
    "ethnicity": "--ethnicity-col",
}

# "WBC (x10^9/L)", "Leukocytes [G/L]": a WBC header that carries the unit of its cells
_HEADER_UNIT = re.compile(r"^\s*(?P<name>[^(\[]+?)\s*[(\[](?P<unit>[^)\]]+)[)\]]\s*$")

_ERROR = CATEGORIES.index("error")

# the row cache of the hot loop is emptied when it holds this many keys (flat memory)
_ROW_CACHE_SIZE = 1 << 15


def _normalise(header: str) -> str:
    return re.sub(r"[\W_]+", "_", header.replace("\ufeff", "").strip().lower()).strip("_")


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run did: where it read and wrote, which columns it used, what it found.

    ``rows_read`` counts data rows (blank lines aside); it always equals
    ``low + normal + high + indeterminate + errors + skipped``.
    """

    input: str
    output: str
    format: OutputFormat
    encoding: str
    delimiter: str
    value_column: str | None
    unit_column: str | None
    age_column: str | None
    sex_column: str | None
    ethnicity_column: str | None
    rows_read: int = 0
    low: int = 0
    normal: int = 0
    high: int = 0
    indeterminate: int = 0
    errors: int = 0
    skipped: int = 0
    default_unit: str | None = None
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def checked(self) -> int:
        """Rows that were interpreted or explained (all rows not skipped by ``--where``)."""
        return self.rows_read - self.skipped

    @property
    def columns(self) -> dict[str, str | None]:
        """The header used for each role (``value``, ``unit``...), None when not used."""
        return {
            "value": self.value_column,
            "unit": self.unit_column,
            "age": self.age_column,
            "sex": self.sex_column,
            "ethnicity": self.ethnicity_column,
        }

    def text(self) -> str:
        """The summary as a few lines of text (what the command prints on stderr).

        >>> summary = BatchSummary("a.csv", "a.wbc.csv", "csv", "utf-8", ",", "wbc", None, None,
        ...     None, None, rows_read=3, normal=2, errors=1)
        >>> print(summary.text())  # doctest: +NORMALIZE_WHITESPACE
        cbc-ranges batch: 3 rows read from a.csv (utf-8, ',' delimited)
          flagged: 0 low, 2 normal, 0 high; 0 indeterminate; 1 error; 0 skipped by --where
          columns: value='wbc'
          written to a.wbc.csv
        """
        used = ", ".join(f"{role}={name!r}" for role, name in self.columns.items() if name)
        if self.default_unit:
            used += f"; default unit {self.default_unit!r}"
        lines = [
            f"cbc-ranges batch: {self.rows_read:,} rows read from {self.input} "
            f"({self.encoding}, {self.delimiter!r} delimited)",
            f"  flagged: {self.low:,} low, {self.normal:,} normal, {self.high:,} high; "
            f"{self.indeterminate:,} indeterminate; {self.errors:,} "
            f"error{'' if self.errors == 1 else 's'}; {self.skipped:,} skipped by --where",
            f"  columns: {used or 'none'}",
            f"  written to {self.output}",
        ]
        lines += [f"  note: {warning}" for warning in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Columns:
    index: dict[Role, int]
    names: dict[Role, str]
    header_unit: str | None
    fallback: int | None = None  # MIMIC: the text ``value`` when ``valuenum`` is empty


def _find(header: Sequence[str], name: str, option: str) -> int:
    """The index of a column named by the user: exact name first, then any case and spacing."""
    exact = [i for i, h in enumerate(header) if h == name]
    if len(exact) == 1:
        return exact[0]
    loose = [i for i, h in enumerate(header) if _normalise(h) == _normalise(name)]
    if len(exact) > 1 or len(loose) > 1:
        found = exact if len(exact) > 1 else loose
        raise BatchError(
            f"{option} {name!r} matches {len(found)} columns "
            f"({', '.join(f'column {i + 1}' for i in found)})",
            raw=name,
        )
    if loose:
        return loose[0]
    if name.isdigit() and 1 <= int(name) <= len(header):
        return int(name) - 1  # a 1-based column number
    raise BatchError(
        f"{option} {name!r}: no such column; the header has "
        + ", ".join(repr(h) for h in header[:40]),
        raw=name,
        suggestions=[h for h in header if _normalise(name) in _normalise(h)][:3],
    )


def detect_columns(
    header: Sequence[str],
    given: Mapping[str, str | None] | None = None,
) -> dict[str, str | None]:
    """The header chosen for each role (value, unit, age, sex, ethnicity), None when absent.

    ``given`` maps a role to a header name the user chose (``""`` means "do
    not use this column"). Raises :class:`~cbc_ranges.errors.BatchError` when
    no value column is found or a role matches more than one column.

    >>> detect_columns(["id", "Age", "Gender", "WBC", "Units"])
    {'value': 'WBC', 'unit': 'Units', 'age': 'Age', 'sex': 'Gender', 'ethnicity': None}
    >>> detect_columns(["itemid", "value", "valuenum", "valueuom"])["value"]
    'valuenum'
    """
    columns = _detect(header, dict(given or {}))
    return {role: columns.names.get(role) for role in ROLES}


def _detect(header: Sequence[str], given: Mapping[str, str | None]) -> _Columns:
    index: dict[Role, int] = {}
    for role in ROLES:
        name = given.get(role)
        if name:
            index[role] = _find(header, name, _OPTIONS[role])
    taken = set(index.values())
    normalised = [_normalise(h) for h in header]
    header_unit: str | None = None
    for role in ROLES:
        if role in index or given.get(role) == "":
            continue
        found: list[int] = []
        for tier in COLUMN_NAMES[role]:
            found = [i for i, h in enumerate(normalised) if h in tier and i not in taken]
            if role == "value" and not found and tier is COLUMN_NAMES["value"][0]:
                found = [i for i in _unit_headers(header) if i not in taken]
            if found:
                break
        if len(found) > 1:
            names = ", ".join(f"{header[i]!r} (column {i + 1})" for i in found)
            raise BatchError(
                f"more than one column could be the {role}: {names}; "
                f"choose one with {_OPTIONS[role]}",
                raw=[header[i] for i in found],
                suggestions=[header[i] for i in found],
            )
        if found:
            index[role] = found[0]
            taken.add(found[0])
    if "value" not in index:
        raise BatchError(
            "no WBC value column found; expected a header such as 'wbc', 'leukocytes', "
            "'valuenum' or 'value' (choose one with --value-col); the header has "
            + (", ".join(repr(h) for h in header[:40]) or "no columns"),
            raw=list(header),
        )
    match = _HEADER_UNIT.match(header[index["value"]])
    if match:
        header_unit = match.group("unit").strip()
    chosen = {role: header[i] for role, i in index.items()}
    fallback = None
    if normalised[index["value"]] in COLUMN_NAMES["value"][1] and not given.get("value"):
        texts = [i for i, h in enumerate(normalised) if h == "value" and i not in taken]
        fallback = texts[0] if len(texts) == 1 else None
    return _Columns(index=index, names=chosen, header_unit=header_unit, fallback=fallback)


def _unit_headers(header: Sequence[str]) -> list[int]:
    """Columns such as ``WBC (x10^9/L)``: a WBC name followed by a unit in brackets."""
    names = COLUMN_NAMES["value"][0]
    found = []
    for i, h in enumerate(header):
        match = _HEADER_UNIT.match(h)
        if match and _normalise(match.group("name")) in names:
            found.append(i)
    return found


def _where_filters(
    where: Mapping[str, Iterable[str]] | Sequence[str] | str | None,
) -> list[tuple[str, frozenset[str]]]:
    """``--where`` conditions as (column, accepted values); all of them must hold."""
    if where is None:
        return []
    if isinstance(where, Mapping):
        return [
            (str(column), frozenset(str(v).strip() for v in values))
            for column, values in where.items()
        ]
    conditions = [where] if isinstance(where, str) else list(where)
    filters = []
    for condition in conditions:
        column, equals, values = condition.partition("=")
        if not equals or not column.strip():
            raise BatchError(
                f"--where expects COLUMN=VALUE[,VALUE...], not {condition!r}", raw=condition
            )
        filters.append((column.strip(), frozenset(v.strip() for v in values.split(","))))
    return filters


def _default_output(source: str | os.PathLike[str] | IO[bytes], output_format: str) -> str:
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-":
        path = Path(source)
        return str(path.with_name(f"{path.stem}.wbc.{output_format}"))
    return "-"


def _refuse_overwrite(source: object, output: object) -> None:
    if not isinstance(source, (str, os.PathLike)) or not isinstance(output, (str, os.PathLike)):
        return
    if os.fspath(source) == "-" or os.fspath(output) == "-":
        return
    same = Path(source).resolve() == Path(output).resolve()
    if not same:
        try:
            same = os.path.samefile(source, output)
        except OSError:
            same = False  # the output does not exist yet
    if same:
        raise BatchError(
            f"the output {os.fspath(output)} is the input file; the input is never overwritten "
            "(choose another -o)",
            raw=os.fspath(output),
        )


def check_csv(
    source: str | os.PathLike[str] | IO[bytes],
    output: str | os.PathLike[str] | IO[bytes] | None = None,
    *,
    value_col: str | None = None,
    unit_col: str | None = None,
    age_col: str | None = None,
    sex_col: str | None = None,
    ethnicity_col: str | None = None,
    default_unit: str | None = None,
    where: Mapping[str, Iterable[str]] | Sequence[str] | str | None = None,
    table: RangeTable | str | None = None,
    format: OutputFormat = "csv",
    encoding: str | None = None,
    delimiter: str | None = None,
    progress: bool = False,
) -> BatchSummary:
    """Check every row of a CSV file and write it with the ``wbc_*`` columns appended.

    ``source`` is a path, ``"-"`` for stdin or a binary file object;
    ``output`` a path, ``"-"`` for stdout or a binary file object, by default
    ``<stem>.wbc.csv`` (or ``.wbc.jsonl``) next to the input. ``where`` keeps
    only matching rows for checking (``"itemid=51300,51301"``, a list of such
    strings, or ``{"itemid": ["51300", "51301"]}``); the others pass through
    with empty result columns. Returns a :class:`BatchSummary`; raises
    :class:`~cbc_ranges.errors.BatchError` when the file cannot be processed.

    >>> import io
    >>> out = io.BytesIO()
    >>> summary = check_csv(io.BytesIO(b"age,sex,wbc\\n40,F,3.1 K/uL\\n"), out)
    >>> summary.rows_read, summary.low
    (1, 1)
    >>> out.getvalue().decode().splitlines()[1].split(",")[:5]
    ['40', 'F', '3.1 K/uL', '3.1', 'low']
    """
    if format not in ("csv", "jsonl"):
        raise BatchError(f"unknown output format {format!r}: choose csv or jsonl", raw=format)
    target = output if output is not None else _default_output(source, format)
    _refuse_overwrite(source, target)
    filters = _where_filters(where)
    given = {
        "value": value_col,
        "unit": unit_col,
        "age": age_col,
        "sex": sex_col,
        "ethnicity": ethnicity_col,
    }
    started = time.perf_counter()
    if isinstance(target, (str, os.PathLike)):
        shown = os.fspath(target)
    else:
        name = getattr(target, "name", None)
        shown = name if isinstance(name, str) else "<stream>"
    with (
        raised_field_size_limit(),
        open_csv_source(source, encoding=encoding, delimiter=delimiter) as csv_source,
    ):
        summary = _run(
            csv_source,
            target,
            shown=shown,
            given=given,
            filters=filters,
            default_unit=default_unit,
            table=table,
            output_format=format,
            progress=progress,
        )
    return replace(summary, seconds=time.perf_counter() - started)


def _run(
    csv_source: CSVSource,
    target: str | os.PathLike[str] | IO[bytes],
    *,
    shown: str,
    given: Mapping[str, str | None],
    filters: list[tuple[str, frozenset[str]]],
    default_unit: str | None,
    table: RangeTable | str | None,
    output_format: OutputFormat,
    progress: bool,
) -> BatchSummary:
    records = _Records(csv_source.text, csv_source.delimiter)
    warnings: list[str] = []
    if csv_source.encoding == "cp1252":
        warnings.append("the file is not UTF-8: it was read as cp1252 (Windows Latin-1)")
    try:
        first = records.next()
        while first is not None and not first[0]:
            first = records.next()  # blank lines before the header
    except UnicodeDecodeError as error:
        raise _read_error(csv_source, error) from None
    # a BOM tells spreadsheet programs the output is UTF-8; never in JSON lines or on stdout
    bom_out = csv_source.had_bom or csv_source.encoding == "cp1252"
    to_file = isinstance(target, (str, os.PathLike)) and os.fspath(target) != "-"
    out_encoding = "utf-8-sig" if bom_out and to_file and output_format == "csv" else "utf-8"
    base = (csv_source.name, shown, output_format, csv_source.encoding, csv_source.delimiter)
    if first is None:  # an empty file gives an empty output
        with atomic_output(target, encoding=out_encoding):
            pass
        return BatchSummary(
            *base,
            value_column=None,
            unit_column=None,
            age_column=None,
            sex_column=None,
            ethnicity_column=None,
            warnings=(*warnings, "the file is empty"),
        )
    header, header_body = first
    columns = _detect(header, given)
    if not default_unit and columns.header_unit:
        from cbc_ranges.count import try_parse_count

        if try_parse_count("1", columns.header_unit) is not None:
            default_unit = columns.header_unit
            warnings.append(
                f"cells without a unit are read in {default_unit!r}, the unit in the header"
            )
    where_index = [(_find(header, column, "--where"), values) for column, values in filters]
    semicolon = csv_source.delimiter == ";"
    try:
        interpreter = RowInterpreter(
            table,
            default_unit=default_unit,
            decimal_comma=True if semicolon else None,
            decimal_separator="," if semicolon else ".",
        )
    except CBCError as error:
        if isinstance(error, BatchError):
            raise
        raise BatchError(f"{error}", raw=error.raw) from None
    if "unit" not in columns.index and not default_unit:
        warnings.append(
            "no unit column: a value without a unit in its cell is read as 10^9/L "
            "(each such row says so in wbc_warnings)"
        )
    steps = _RowSteps(columns, interpreter, len(header))
    counts = [0] * len(CATEGORIES)
    skipped = 0
    ticker = _Progress(csv_source) if progress else None
    if ticker is not None:
        records.lines = ticker.wrap(records.lines)
    try:
        with atomic_output(target, encoding=out_encoding) as stream:
            if output_format == "csv":
                skipped = _write_csv(
                    records, stream, header, header_body, steps, where_index, counts, csv_source
                )
            else:
                skipped = _write_jsonl(records, stream, header, steps, where_index, counts)
    except UnicodeDecodeError as error:
        raise _read_error(csv_source, error) from None
    finally:
        if ticker is not None:
            ticker.close()
    return BatchSummary(
        *base,
        value_column=columns.names.get("value"),
        unit_column=columns.names.get("unit"),
        age_column=columns.names.get("age"),
        sex_column=columns.names.get("sex"),
        ethnicity_column=columns.names.get("ethnicity"),
        rows_read=sum(counts) + skipped,
        low=counts[0],
        normal=counts[1],
        high=counts[2],
        indeterminate=counts[3],
        errors=counts[_ERROR],
        skipped=skipped,
        default_unit=default_unit,
        warnings=tuple(warnings),
    )


def _read_error(source: CSVSource, error: UnicodeDecodeError) -> BatchError:
    return BatchError(
        f"{source.name} cannot be read as {source.encoding} near byte {source.position():,}: "
        f"{error.reason} (try another --encoding)",
        raw=source.name,
    )


class _Records:
    """The records of a CSV text stream, each with the raw text it was read from.

    A line without a quote character is split on the delimiter: that is what
    :mod:`csv` would make of it, only faster. A line with a quote goes through
    :func:`csv.reader`, which pulls further lines while a quoted field is open,
    and the raw text of all the lines it pulled is kept. Either way the output
    can reuse the input text as it was, so input columns come back unchanged.
    """

    def __init__(self, text: TextIO, delimiter: str) -> None:
        self.lines: Iterator[str] = iter(text)
        self.delimiter = delimiter

    def quoted(self, first: str) -> tuple[list[str], str]:
        """The record that starts with ``first`` (a line holding a quote) and its raw text."""
        consumed = [first]
        lines = self.lines

        def feed() -> Iterator[str]:
            yield first
            for line in lines:
                consumed.append(line)
                yield line

        try:
            row = next(csv.reader(feed(), delimiter=self.delimiter), [])
        except csv.Error:  # no such case with strict=False, but never stop a file for one row
            row = ["".join(consumed)]
        return row, "".join(consumed).rstrip("\r\n")

    def next(self) -> tuple[list[str], str] | None:
        """The next record as (fields, raw text without its line end); None at the end."""
        for line in self.lines:
            if '"' in line:
                return self.quoted(line)
            body = line.rstrip("\r\n")
            return (body.split(self.delimiter) if body else []), body
        return None

    def __iter__(self) -> Iterator[tuple[list[str], str]]:
        while (record := self.next()) is not None:
            yield record


def _cell_getter(indices: Sequence[int]) -> Callable[[list[str]], Any]:
    """A fast key of a row: one cell, a tuple of cells, or None when there are no cells."""
    if not indices:
        return lambda row: None
    return itemgetter(*indices)


def _spread(key: Any, count: int) -> tuple[Any, ...]:
    """A key made by :func:`_cell_getter` back as a tuple of ``count`` cells."""
    if count == 0:
        return ()
    return (key,) if count == 1 else tuple(key)


def _matcher(where_index: list[tuple[int, frozenset[str]]]) -> Callable[[list[str]], bool] | None:
    if not where_index:
        return None

    def matches(row: list[str]) -> bool:
        for index, values in where_index:
            if index >= len(row):
                return False
            cell = row[index]
            if cell not in values and cell.strip() not in values:
                return False
        return True

    return matches


def _ragged(row: list[str], width: int) -> str:
    return f"row has {len(row)} field{'' if len(row) == 1 else 's'}, the header has {width}" + (
        "; the extra fields are kept after the wbc_ columns" if len(row) > width else ""
    )


# what a row gets: (head, tail, category); the output line is the input text + head + tail
_Found = tuple[str, str, int]

# how many entries each cache of one file may hold before starting afresh (flat memory)
_FILL_LIMIT = 1 << 16


class _ClassRows(dict[str, dict[str, _Found]]):
    """The rows of one person class in this file: unit text -> value text -> what they get.

    The head (``,value,``) is shared by every class, the tail (flag, limits...)
    by every count with the same outcome: an entry costs two references.
    """

    __slots__ = ("person",)

    def __init__(self, person: PersonClass) -> None:
        super().__init__()
        self.person = person


class _RowSteps:
    """The interpreter's cached steps, as a tree of dicts keyed by this file's cells.

    ``people[age][sex][ethnicity]`` is the :class:`_ClassRows` of the person's
    class (shared by everyone in it), and ``class_rows[unit][value]`` what the
    row gets. Five look-ups of short cell texts cost less than building one
    joined key. ``value``/``unit``/``fallback`` and ``age``/``sex``/``ethnicity``
    are column indices; a missing unit or fallback points at the value column
    (and is not read), a missing person column at an empty cell appended to the
    row (``pad``).
    """

    def __init__(self, columns: _Columns, interpreter: RowInterpreter, width: int) -> None:
        index = columns.index
        self.interpreter = interpreter
        self.value = index["value"]
        self.has_unit = "unit" in index
        self.unit = index.get("unit", self.value)
        self.fallback = self.value if columns.fallback is None else columns.fallback
        self.age = index.get("age", width)
        self.sex = index.get("sex", width)
        self.ethnicity = index.get("ethnicity", width)
        self.pad = width in (self.age, self.sex, self.ethnicity)
        self.people: dict[str, dict[str, dict[str, _ClassRows]]] = {}
        self.classes: dict[PersonClass, _ClassRows] = {}
        self.cells: dict[tuple[str, str], ParsedCell] = {}
        self.filled = 0
        self.people_seen = 0
        self.found: dict[_Found, _Found] = {}
        self.texts: dict[str, str] = {}
        # CSV: (value text, outcome) -> (head, tail); JSON lines: the whole entry -> text
        self.csv_suffix: Callable[[str, Outcome], tuple[str, str]] | None = None
        self.json_suffix: Callable[[Entry], str] = lambda entry: ""

    def fill(self, row: list[str]) -> _Found:
        """What a (padded) row gets, computed once and stored in the tree."""
        self.filled += 1
        if self.filled > _FILL_LIMIT:
            self.forget_rows()
        age, sex, ethnicity = row[self.age], row[self.sex], row[self.ethnicity]
        by_ethnicity = self.people.setdefault(age, {}).setdefault(sex, {})
        rows = by_ethnicity.get(ethnicity)
        if rows is None:
            self.people_seen += 1
            if self.people_seen > _FILL_LIMIT:  # people are few; this only bounds odd files
                self.people.clear()
                self.classes.clear()
                self.people_seen = 1
                by_ethnicity = self.people.setdefault(age, {}).setdefault(sex, {})
            person = self.interpreter.person(age, sex, ethnicity)
            rows = self.classes.get(person)
            if rows is None:
                rows = self.classes[person] = _ClassRows(person)
            by_ethnicity[ethnicity] = rows
        value, unit = row[self.value] or row[self.fallback], row[self.unit]
        by_value = rows.setdefault(unit, {})
        found = by_value.get(value)
        if found is None:
            found = self.combine(rows.person, value, unit)
            # one key string and one result tuple per distinct text, shared by every class
            found = self.found.setdefault(found, found)
            by_value[self.texts.setdefault(value, value)] = found
        return found

    def forget_rows(self) -> None:
        """Start the rows of every class afresh: memory stays flat whatever the file.

        Only the leaves go (one per distinct class, unit and value); the parsed cells
        and the people, which are few and costly to redo, stay under their own bounds.
        """
        for rows in self.classes.values():
            rows.clear()
        self.found.clear()
        self.texts.clear()
        self.filled = 1

    def combine(self, person: PersonClass, value: str, unit: str) -> _Found:
        """A value seen for the first time in a person class: parse (cached), flag, format."""
        parsed = self.cells.get((value, unit))
        if parsed is None:
            if len(self.cells) >= _FILL_LIMIT:
                self.cells.clear()
            parsed = self.interpreter.parse(value, unit if self.has_unit else None)
            self.cells[value, unit] = parsed
        if self.csv_suffix is not None:
            outcome = self.interpreter.outcome(parsed, person)
            text = "" if outcome.category == _ERROR else parsed.value_text
            head, tail = self.csv_suffix(text, outcome)
            return head, tail, outcome.category
        entry = self.interpreter.combine(parsed, person)
        return self.json_suffix(entry), "", entry.category

    def output(self, row: list[str]) -> _Found:
        """What one full-width row gets (the readable twin of the hot loop)."""
        if self.pad:
            row = [*row, ""]
        try:
            by_value = self.people[row[self.age]][row[self.sex]][row[self.ethnicity]]
            return by_value[row[self.unit]][row[self.value] or row[self.fallback]]
        except KeyError:
            return self.fill(row)


def _csv_line(cells: Iterable[str], delimiter: str, terminator: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=terminator).writerow(cells)
    return buffer.getvalue()


def _write_csv(
    records: _Records,
    stream: TextIO,
    header: list[str],
    header_body: str,
    steps: _RowSteps,
    where_index: list[tuple[int, frozenset[str]]],
    counts: list[int],
    source: CSVSource,
) -> int:
    delimiter, end = source.delimiter, source.lineterminator
    stream.write(header_body + delimiter + _csv_line(RESULT_COLUMNS, delimiter, end))
    # the value cell repeats across classes, the cells after it across counts: write each once
    heads: dict[str, str] = {}
    tails: dict[tuple[str, ...], str] = {}

    def suffix(value: str, outcome: Outcome) -> tuple[str, str]:
        tail = tails.get(outcome.tail)
        if tail is None:
            if len(tails) >= _ROW_CACHE_SIZE:
                tails.clear()
            tail = tails[outcome.tail] = _csv_line(outcome.tail, delimiter, end)
        head = heads.get(value)
        if head is None:
            if len(heads) >= _ROW_CACHE_SIZE:
                heads.clear()
            quoted = value
            if delimiter in value or '"' in value or "\n" in value or "\r" in value:
                quoted = _csv_line((value,), delimiter, "")  # as csv.writer would
            head = heads[value] = delimiter + quoted + delimiter
        return head, tail

    steps.csv_suffix = suffix
    empty = delimiter + _csv_line(EMPTY_CELLS, delimiter, end)
    width = len(header)
    matches = _matcher(where_index)
    where_reach = max((i for i, _ in where_index), default=-1)

    def checked(row: list[str], body: str) -> tuple[str, int]:
        """Any record the hot loop leaves: quoted, ragged, or holding the key separator."""
        if len(row) == width:
            if matches is not None and not matches(row):
                return body + empty, -1
            found = steps.output(row)
            return body + found[0] + found[1], found[2]
        if matches is not None and where_reach < len(row) and not matches(row):
            cells, category = EMPTY_CELLS, -1
        else:
            cells, category = (*EMPTY_CELLS[:-1], _ragged(row, width)), _ERROR
        padded = row[:width] + [""] * (width - len(row)) + list(cells) + row[width:]
        return _csv_line(padded, delimiter, end), category

    def careful(row: list[str], body: str) -> int:
        """Write a record the hot loop leaves and count it; 1 when --where skipped it."""
        text, category = checked(row, body)
        write(text)
        if category < 0:
            return 1
        counts[category] += 1
        return 0

    # the hot loop: the input text is written back as it was, with a cached suffix;
    # per row five look-ups of its own cell texts in the tree; anything else is a miss
    value_at, unit_at, fallback_at = steps.value, steps.unit, steps.fallback
    age_at, sex_at, ethnicity_at, pad = steps.age, steps.sex, steps.ethnicity, steps.pad
    people_get, fill = steps.people.get, steps.fill
    quoted, write = records.quoted, stream.write
    skipped = 0
    for line in records.lines:
        if '"' in line:
            skipped += careful(*quoted(line))
            continue
        body = line.rstrip("\r\n")
        if not body:
            write(end)  # a blank line stays a blank line
            continue
        row = body.split(delimiter)
        if len(row) != width or (matches is not None and not matches(row)):
            skipped += careful(row, body)
            continue
        if pad:
            row.append("")
        found: _Found | None = None
        by_sex = people_get(row[age_at])
        if by_sex is not None:
            by_ethnicity = by_sex.get(row[sex_at])
            if by_ethnicity is not None:
                rows = by_ethnicity.get(row[ethnicity_at])
                if rows is not None:
                    by_value = rows.get(row[unit_at])
                    if by_value is not None:
                        found = by_value.get(row[value_at] or row[fallback_at])
        if found is None:
            found = fill(row)
        counts[found[2]] += 1
        write(body + found[0] + found[1])
    return skipped


def _json_keys(header: list[str]) -> list[str]:
    """Header names as JSON keys: a repeated name gets ``_2``, ``_3``...; wbc_ names are kept."""
    keys: list[str] = []
    seen: set[str] = set(RESULT_COLUMNS)
    for name in header:
        key, n = name, 1
        while key in seen:
            n += 1
            key = f"{name}_{n}"
        seen.add(key)
        keys.append(key)
    return keys


def _write_jsonl(
    records: _Records,
    stream: TextIO,
    header: list[str],
    steps: _RowSteps,
    where_index: list[tuple[int, frozenset[str]]],
    counts: list[int],
) -> int:
    width = len(header)
    keys = _json_keys(header)
    matches = _matcher(where_index)
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    # the result fields of an object, without its braces: '"wbc_value": 4.2, ...'
    steps.json_suffix = lambda entry: dumps(entry.result.json_fields())[1:-1]
    empty = dumps(RowResult().json_fields())[1:-1]
    where_reach = max((i for i, _ in where_index), default=-1)
    skipped = 0
    for row, _ in records:
        if not row:
            continue
        record: dict[str, object] = dict(zip(keys, row, strict=False))
        for key in keys[len(row) :]:
            record[key] = None
        for extra, cell in enumerate(row[width:], start=width + 1):
            record[f"field_{extra}"] = cell
        if matches is not None and not matches(row) and where_reach < len(row):
            skipped += 1
            fields = empty
        elif len(row) != width:
            counts[_ERROR] += 1
            fields = dumps(RowResult(error=_ragged(row, width)).json_fields())[1:-1]
        else:
            fields, _, category = steps.output(row)
            counts[category] += 1
        # the input columns first, then the result fields, one object per line
        stream.write(dumps(record)[:-1] + (", " if record else "") + fields + "}\n")
    return skipped


class _Progress:
    """A one-line progress report on stderr: rows, rows/s and, for a file, an ETA."""

    every = 1 << 14

    def __init__(self, source: CSVSource, stream: TextIO | None = None) -> None:
        self.source = source
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.shown = False

    def wrap(self, rows: Iterable[str]) -> Iterator[str]:
        every = self.every
        last = self.started
        for n, row in enumerate(rows, start=1):
            if n % every == 0:
                now = time.monotonic()
                if now - last >= 0.2:
                    last = now
                    self.show(n, now)
            yield row

    def show(self, rows: int, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        rate = rows / elapsed
        line = f"\r  {rows:,} rows  {rate:,.0f} rows/s"
        size = self.source.size
        if size:
            done = min(self.source.position() / size, 1.0)
            if done > 0:
                eta = elapsed * (1 - done) / done
                line += f"  {done:6.1%}  ETA {eta:,.0f} s"
        self.stream.write(line.ljust(60))
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``batch`` arguments to an argument parser (``cbc-ranges batch --help``)."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("input", metavar="INPUT", help="CSV file to check, or - for stdin")
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUTPUT",
        help="where to write (- for stdout); default: <input stem>.wbc.csv next to the input",
    )
    for role in ROLES:
        parser.add_argument(
            _OPTIONS[role],
            dest=f"{role}_col",
            metavar="C",
            help=f"the {role} column: header name or 1-based number ('' for none)",
        )
    parser.add_argument(
        "--default-unit",
        metavar="U",
        help="unit for values that have none in their cell or unit column (e.g. K/uL)",
    )
    parser.add_argument(
        "--where",
        metavar="COL=V[,V...]",
        action="append",
        help="check only rows whose COL is one of the values; other rows pass through "
        "with empty result columns (repeat to require several)",
    )
    parser.add_argument("--table", metavar="T", help="range table name or path (default table)")
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="output format")
    parser.add_argument(
        "--encoding", metavar="E", help="input encoding (default: UTF-8, else cp1252)"
    )
    parser.add_argument(
        "--delimiter", metavar="D", help="input delimiter (default: sniffed among , ; tab |)"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no summary on stderr"
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``cbc-ranges batch`` from parsed arguments; returns the exit code (0 when done)."""
    delimiter = args.delimiter
    if delimiter in ("\\t", "tab", "TAB"):
        delimiter = "\t"
    summary = check_csv(
        args.input,
        args.output,
        value_col=args.value_col,
        unit_col=args.unit_col,
        age_col=args.age_col,
        sex_col=args.sex_col,
        ethnicity_col=args.ethnicity_col,
        default_unit=args.default_unit,
        where=args.where,
        table=args.table,
        format=args.format,
        encoding=args.encoding,
        delimiter=delimiter,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    if not args.quiet:
        print(summary.text(), file=sys.stderr)
    return 0
