"""The batch writers: every record of the input out again, with the ``wbc_*`` result cells.

CSV output works on bytes: a record's bytes are written back unchanged, and the
result cells, encoded in the output's encoding, go between them and the
record's own line terminator. JSON lines output writes one object per record.

The rows of a lab file repeat themselves, so the CSV writer keeps per file a
tree of dicts keyed by the row's own cell bytes (``age -> sex -> ethnicity ->
unit -> value``) whose leaves are the finished suffix bytes: a plain row costs a
split and five look-ups. Every cache is bounded (flat memory on any file).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Protocol, TypeVar

from cbc_ranges.batch.columns import Columns
from cbc_ranges.batch.files import APPENDED, Record, Records
from cbc_ranges.errors import CBCError
from cbc_ranges.rows import (
    CATEGORIES,
    EMPTY_CELLS,
    RESULT_COLUMNS,
    TEXT_COLUMNS,
    ParsedCell,
    PersonClass,
    RowInterpreter,
    RowResult,
    RowTexts,
)

__all__ = [
    "MESSAGE_LIMIT",
    "TEXT_COLUMNS",
    "Layout",
    "PanelObserver",
    "RowObserver",
    "RowSteps",
    "RowTexts",
    "Writer",
    "json_keys",
    "json_row",
    "write_csv",
    "write_jsonl",
]

_ERROR = CATEGORIES.index("error")
_WARNINGS = RESULT_COLUMNS.index("wbc_warnings")
_ERROR_CELL = RESULT_COLUMNS.index("wbc_error")

# how many entries each cache of one file may hold before starting afresh (flat memory);
# 2^17 leaves hold the ~96,000 (class, unit, value) of the 1M-row benchmark file (1.18x RSS)
_FILL_LIMIT = 1 << 17
# the suffix caches of the hot loop are emptied when they hold this many keys
_ROW_CACHE_SIZE = 1 << 15

#: the longest warning or error text a row gets; a long input cell is quoted by a short prefix
MESSAGE_LIMIT = 300
_ECHO = 40  # characters of a long cell that a message keeps

Cell = TypeVar("Cell", str, bytes)

# what a row gets: (head, tail, category); the output is the input bytes + head + tail
_Found = tuple[bytes, bytes, int]
# a row's key below its person and unit: the value cell, or (value, the lab range's two cells)
_Key = bytes | tuple[bytes, ...]


class RowObserver(Protocol):
    """What a writer tells a listener (the teaching report) about each record, in file order.

    ``start`` comes first, with the writer (its layout and interpreter). ``row``
    gets a record the careful path read: its text cells, its category (-1:
    skipped by ``--where``) and its result. ``plain`` gets a line of the hot
    loop: its byte cells (padded as the :class:`Layout` says) and the outcome the
    line got, a token shared by every line whose result cells are the same.
    """

    def start(self, writer: Writer) -> None:
        """The writer is about to read the first record."""

    def row(self, number: int, cells: list[str], category: int, result: RowResult | None) -> None:
        """A record read by the careful path (line ``number``)."""

    def plain(self, number: int, cells: list[bytes], found: _Found) -> None:
        """A line of the hot loop (line ``number``): its cells and its (head, tail, category)."""


class PanelObserver(RowObserver, Protocol):
    """A :class:`RowObserver` that also hears each analyte of whole panels (optional).

    The panel writers (:mod:`cbc_ranges.batch.panels`) call ``panel_row`` when
    the observer has it, and ``row`` otherwise (so an older observer still
    works). A long file gives one call per record: its analyte id (``""`` for
    another test or a record whose test could not be read, ``"bands"`` for
    bands, which are listed but never flagged), its category (-1: not checked)
    and result. A wide file gives one call per differential cell that holds a
    value, after the WBC ``row``; ``in_summary`` is False there, since the
    batch summary counts the WBC result of each row. ``percent`` is the
    percentage as written when the value was one ("" otherwise); ``value`` and
    ``unit`` are the cells read when they are not the layout's own (wide files).
    """

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
        """One analyte's result of a record (line ``number``)."""


def short_message(message: str, cells: Iterable[str]) -> str:
    """A warning or error with long input cells it quotes cut to a prefix, at most 300 characters.

    >>> short_message("not a number: '" + "9" * 1000 + "'", ["9" * 1000])
    "not a number: '9999999999999999999999999999999999999999… (1,000 characters)'"
    """
    if len(message) <= MESSAGE_LIMIT:
        return message
    for cell in cells:
        if len(cell) > _ECHO:
            short = f"{cell[:_ECHO]}… ({len(cell):,} characters)"
            for form in (cell, " ".join(cell.split()), repr(cell)[1:-1]):
                message = message.replace(form, short)
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    return message


def _short_cells(cells: tuple[str, ...], inputs: Sequence[str]) -> tuple[str, ...]:
    if len(cells[_WARNINGS]) <= MESSAGE_LIMIT and len(cells[_ERROR_CELL]) <= MESSAGE_LIMIT:
        return cells
    out = list(cells)
    out[_WARNINGS] = short_message(cells[_WARNINGS], inputs)
    out[_ERROR_CELL] = short_message(cells[_ERROR_CELL], inputs)
    return tuple(out)


def _short_result(result: RowResult, inputs: Sequence[str]) -> RowResult:
    warnings = tuple(short_message(w, inputs) for w in result.warnings)
    error = None if result.error is None else short_message(result.error, inputs)
    return result._replace(warnings=warnings, error=error)


def with_note(cells: tuple[str, ...], note: str | None) -> tuple[str, ...]:
    """The result cells with a note added to ``wbc_warnings``."""
    if not note:
        return cells
    out = list(cells)
    out[_WARNINGS] = f"{out[_WARNINGS]}; {note}" if out[_WARNINGS] else note
    return tuple(out)


def ragged(length: int, width: int) -> str:
    """The error of a row whose field count differs from the header's."""
    return f"row has {length} field{'' if length == 1 else 's'}, the header has {width}" + (
        "; the result columns follow its last field" if length > width else ""
    )


def unclosed(number: int) -> str:
    """The error of a line whose quote is never closed."""
    return (
        f"a quote opened on line {number:,} is never closed; this line is not read "
        "(a closing quote is added in the output) and the lines after it are read as rows"
    )


def matcher(
    where_index: list[tuple[int, frozenset[Cell]]],
) -> Callable[[list[Cell]], bool] | None:
    """A test of a row against ``--where`` conditions (cells as text or bytes)."""
    if not where_index:
        return None

    def matches(row: list[Cell]) -> bool:
        for index, values in where_index:
            if index >= len(row):
                return False
            cell = row[index]
            if cell not in values and cell.strip() not in values:
                return False
        return True

    return matches


class Layout:
    """Where a file keeps the cells the interpreter reads, and how the output is encoded."""

    def __init__(self, columns: Columns, width: int, codec: str, delimiter: str) -> None:
        index = columns.index
        self.width = width
        self.value = index["value"]
        self.has_unit = "unit" in index
        self.unit = index.get("unit", self.value)
        self.fallback = self.value if columns.fallback is None else columns.fallback
        self.age = index.get("age", width)
        self.sex = index.get("sex", width)
        self.ethnicity = index.get("ethnicity", width)
        self.ref_range = index.get("ref_range")
        #: the file carries the lab's own range: its cells are part of the row's key
        self.has_lab_range = any(role in index for role in ("ref_low", "ref_high", "ref_range"))
        # the two cells of the lab's range: low and high, or the range column twice
        if self.ref_range is not None:
            self.lab_at = (self.ref_range, self.ref_range)
        else:
            self.lab_at = (index.get("ref_low", width), index.get("ref_high", width))
        self.pad = width in (self.age, self.sex, self.ethnicity) or (
            self.has_lab_range and width in self.lab_at
        )
        self.codec = codec
        self.delimiter = delimiter

    def encode(self, text: str) -> bytes:
        """Appended text in the output's encoding; a character it lacks gets a plain spelling."""
        return text.encode(self.codec, APPENDED)

    def csv_line(self, cells: Iterable[str], terminator: str = "") -> bytes:
        """Cells as one CSV line (quoted as :mod:`csv` would), encoded."""
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.delimiter, lineterminator=terminator).writerow(cells)
        return self.encode(buffer.getvalue())

    def texts(self, row: list[str]) -> tuple[str, str | None, str, str, str]:
        """value, unit, age, sex, ethnicity of a full-width text row."""
        if self.pad:
            row = [*row, ""]
        return (
            row[self.value] or row[self.fallback],
            row[self.unit] if self.has_unit else None,
            row[self.age],
            row[self.sex],
            row[self.ethnicity],
        )

    def lab_range(self, row: list[str]) -> str | None:
        """The row's own reference range as the text ``lookup(lab_range=)`` reads, or None.

        A range column gives its cell; low/high columns give ``low-high``,
        ``>=low`` or ``<=high`` (a decimal comma stays: the reader takes it).

        >>> from cbc_ranges.batch.columns import Columns
        >>> layout = Layout(Columns({"value": 0, "ref_low": 1, "ref_high": 2}, {}, None), 3,
        ...                 "utf-8", ";")
        >>> [layout.lab_range(["4", low, high]) for low, high in
        ...  (("3,5", "10,5"), ("3.5", ""), ("", " 10.5 "), ("", ""))]
        ['3,5-10,5', '>=3.5', '<=10.5', None]
        """
        if not self.has_lab_range:
            return None
        if self.pad:
            row = [*row, ""]
        return self.lab_text(row[self.lab_at[0]], row[self.lab_at[1]])

    def lab_text(self, first: str, second: str) -> str | None:
        """The lab range text of its two cells (low and high, or the range cell twice)."""
        if self.ref_range is not None:
            return first.strip() or None
        low, high = first.strip(), second.strip()
        if low and high:
            return f"{low}-{high}"
        if low:
            return f">={low}"
        if high:
            return f"<={high}"
        return None


class _ClassRows(dict[bytes, dict[_Key, _Found]]):
    """The rows of one person class in this file: unit bytes -> value bytes -> what they get."""

    __slots__ = ("person",)

    def __init__(self, person: PersonClass) -> None:
        super().__init__()
        self.person = person


class RowSteps:
    """The interpreter's steps as a tree of dicts keyed by this file's cell bytes.

    ``people[age][sex][ethnicity]`` is the :class:`_ClassRows` of the person's
    class, ``class_rows[unit][value]`` what the row gets. Cells are decoded
    only on a miss.
    """

    def __init__(
        self,
        layout: Layout,
        interpreter: RowInterpreter,
        decode: Callable[[bytes], str],
        suffix: Callable[[str, tuple[str, ...], tuple[bytes, ...]], tuple[bytes, bytes]],
    ) -> None:
        self.layout = layout
        self.interpreter = interpreter
        self.decode = decode
        self.suffix = suffix
        self.people: dict[bytes, dict[bytes, dict[bytes, _ClassRows]]] = {}
        self.classes: dict[PersonClass, _ClassRows] = {}
        self.cells: dict[tuple[bytes, bytes], ParsedCell] = {}
        self.filled = 0
        self.people_seen = 0
        self.found: dict[_Found, _Found] = {}
        self.keys: dict[_Key, _Key] = {}

    def fill(self, row: list[bytes]) -> _Found:
        """What a (padded) row gets, computed once and stored in the tree."""
        layout = self.layout
        self.filled += 1
        if self.filled > _FILL_LIMIT:
            self.forget_rows()
        age, sex, ethnicity = row[layout.age], row[layout.sex], row[layout.ethnicity]
        rows = self.class_rows(age, sex, ethnicity)
        value, unit = row[layout.value] or row[layout.fallback], row[layout.unit]
        by_value = rows.setdefault(unit, {})
        key: _Key = value
        if layout.has_lab_range:
            lab = (row[layout.lab_at[0]], row[layout.lab_at[1]])
            key = (value, *lab)
        found = by_value.get(key)
        if found is None:
            people = (age, sex, ethnicity)
            if layout.has_lab_range:
                found = self.combine_lab(value, unit, people, lab)
            else:
                found = self.combine(rows.person, value, unit, people)
            found = self.found.setdefault(found, found)  # one result tuple per distinct text
            by_value[self.keys.setdefault(key, key)] = found
        return found

    def known(self, row: list[bytes]) -> _Found | None:
        """What a (padded) row gets when the tree holds it already, else None."""
        layout = self.layout
        rows = (
            self.people.get(row[layout.age], {}).get(row[layout.sex], {}).get(row[layout.ethnicity])
        )
        if rows is None:
            return None
        value = row[layout.value] or row[layout.fallback]
        key: _Key = value
        if layout.has_lab_range:
            key = (value, row[layout.lab_at[0]], row[layout.lab_at[1]])
        return rows.get(row[layout.unit], {}).get(key)

    def class_rows(self, age: bytes, sex: bytes, ethnicity: bytes) -> _ClassRows:
        """The rows of the class of a person's cells (the class made on first sight)."""
        by_ethnicity = self.people.setdefault(age, {}).setdefault(sex, {})
        rows = by_ethnicity.get(ethnicity)
        if rows is None:
            self.people_seen += 1
            if self.people_seen > _FILL_LIMIT:  # people are few; this only bounds odd files
                self.people.clear()
                self.classes.clear()
                self.people_seen = 1
                by_ethnicity = self.people.setdefault(age, {}).setdefault(sex, {})
            decode = self.decode
            person = self.interpreter.person(decode(age), decode(sex), decode(ethnicity))
            rows = self.classes.get(person)
            if rows is None:
                rows = self.classes[person] = _ClassRows(person)
            by_ethnicity[ethnicity] = rows
        return rows

    def forget_rows(self) -> None:
        """Start the rows of every class afresh (the parsed cells and people stay)."""
        for rows in self.classes.values():
            rows.clear()
        self.found.clear()
        self.keys.clear()
        self.filled = 1

    def combine(
        self, person: PersonClass, value: bytes, unit: bytes, people: tuple[bytes, ...]
    ) -> _Found:
        """A value seen for the first time in a person class: parse (cached), flag, format."""
        parsed = self.parsed(value, unit)
        outcome = self.interpreter.outcome(parsed, person)
        text = "" if outcome.category == _ERROR else parsed.value_text
        head, tail = self.suffix(text, outcome.tail, (value, unit, *people))
        return head, tail, outcome.category

    def parsed(self, value: bytes, unit: bytes) -> ParsedCell:
        """The value and unit cells (the unit cell read only with a unit column), parsed once."""
        parsed = self.cells.get((value, unit))
        if parsed is None:
            if len(self.cells) >= _FILL_LIMIT:
                self.cells.clear()
            parsed = self.interpreter.parse(
                self.decode(value), self.decode(unit) if self.layout.has_unit else None
            )
            self.cells[value, unit] = parsed
        return parsed

    def combine_lab(
        self,
        value: bytes,
        unit: bytes,
        people: tuple[bytes, bytes, bytes],
        lab: tuple[bytes, bytes],
    ) -> _Found:
        """A row of a file with the lab's own range: the interpreter's whole-row look-up
        (the same one the careful path makes), kept in the tree under the range's cells."""
        decode, layout = self.decode, self.layout
        lab_range = layout.lab_text(decode(lab[0]), decode(lab[1]))
        entry = self.interpreter.lookup(
            decode(value),
            decode(unit) if layout.has_unit else None,
            decode(people[0]),
            decode(people[1]),
            decode(people[2]),
            lab_range,
        )
        head, tail = self.suffix(entry.cells[0], entry.cells[1:], (value, unit, *people, *lab))
        return head, tail, entry.category


class Writer:
    """Shared state of one output: layout, interpreter, filters, counts, texts (``--text``)."""

    def __init__(
        self,
        records: Records,
        stream: IO[bytes],
        layout: Layout,
        interpreter: RowInterpreter,
        where_index: list[tuple[int, frozenset[str]]],
        texts: RowTexts | None = None,
    ) -> None:
        self.texts = texts
        self.records = records
        self.stream = stream
        self.layout = layout
        self.interpreter = interpreter
        self.where_index = where_index
        self.text_matches = matcher(where_index)
        self.where_reach = max((i for i, _ in where_index), default=-1)
        self.counts = [0] * len(CATEGORIES)
        self.skipped = 0
        self.observer: RowObserver | None = None

    def result(self, record: Record, number: int) -> tuple[tuple[str, ...], int, RowResult | None]:
        """The result cells, category (-1: skipped) and typed result of a record.

        With ``texts``, the cells end with ``wbc_summary`` and ``wbc_text``.
        """
        cells, category, result = self._result(record, number)
        if self.texts is None:
            return cells, category, result
        if category in (-1, _ERROR):
            return (*cells, "", ""), category, result
        layout = self.layout
        fields = record.fields
        lab = layout.lab_range(fields) if layout.has_lab_range else None
        return (*cells, *self.texts.cells(layout.texts(fields), lab)), category, result

    def _result(self, record: Record, number: int) -> tuple[tuple[str, ...], int, RowResult | None]:
        fields, width = record.fields, self.layout.width
        if record.unclosed:
            result = RowResult(error=unclosed(number))
            return result.cells(), _ERROR, result
        matches = self.text_matches
        if matches is not None and self.where_reach < len(fields) and not matches(fields):
            return EMPTY_CELLS, -1, None
        if len(fields) != width:
            result = RowResult(error=ragged(len(fields), width))
            return result.cells(), _ERROR, result
        layout = self.layout
        try:
            texts = layout.texts(fields)
        except CBCError as error:  # a row's own dates (batch/dates.py) that cannot be read
            result = RowResult(error=str(error))
            return result.cells(), _ERROR, result
        if layout.has_lab_range:
            lab = layout.lab_range(fields)
            entry = self.interpreter.lookup(*texts, lab)
            inputs = [t for t in (*texts, lab) if t]
        else:
            entry = self.interpreter.lookup(*texts)
            inputs = [t for t in texts if t]
        return _short_cells(entry.cells, inputs), entry.category, entry.result

    def count(self, category: int) -> None:
        if category < 0:
            self.skipped += 1
        else:
            self.counts[category] += 1


def write_csv(
    writer: Writer,
    header: Record,
    line_number: int,
    fast: Callable[[RowSteps], Iterator[bytes]] | None = None,
) -> None:
    """Write the header and every record after it as CSV bytes (the input's bytes kept).

    ``fast`` (:mod:`cbc_ranges.batch.fast`) gets the row steps and returns the
    lines for the loop below: it writes the blocks of plain lines itself and
    hands on the others (and counts what it wrote in ``records.extra``, so that
    the loop numbers the lines right).
    """
    layout, records, stream = writer.layout, writer.records, writer.stream
    write = stream.write
    delimiter = layout.delimiter
    delimiter_bytes = layout.encode(delimiter)
    end = records.source.lineterminator
    header_close = b'"' if header.unclosed else b""
    header_pad = delimiter_bytes * max(0, layout.width - len(header.fields))
    names = RESULT_COLUMNS if writer.texts is None else (*RESULT_COLUMNS, *TEXT_COLUMNS)
    write(header.body + header_close + header_pad + delimiter_bytes
          + layout.csv_line(names) + header.end)  # fmt: skip
    # --text: every row takes the careful path (its text depends on the exact person cells)
    with_text = all_careful = writer.texts is not None
    heads: dict[str, bytes] = {}
    tails: dict[tuple[str, ...], bytes] = {}
    end_text = end.decode("ascii")

    def suffix(
        value: str, cells: tuple[str, ...], inputs: tuple[bytes, ...]
    ) -> tuple[bytes, bytes]:
        tail = tails.get(cells)
        if tail is None:
            if len(tails) >= _ROW_CACHE_SIZE:
                tails.clear()
            key = cells
            if any(len(cell) > MESSAGE_LIMIT for cell in cells[-2:]):
                decode = records.source.decode
                cells = _short_cells(("", *cells), [decode(c) for c in inputs])[1:]
            tail = tails[key] = layout.csv_line(cells, end_text)
        head = heads.get(value)
        if head is None:
            if len(heads) >= _ROW_CACHE_SIZE:
                heads.clear()
            quoted = value
            if delimiter in value or '"' in value or "\n" in value or "\r" in value:
                quoted = layout.csv_line((value,)).decode(layout.codec)
            head = heads[value] = layout.encode(delimiter + quoted + delimiter)
        return head, tail

    steps = RowSteps(layout, writer.interpreter, records.source.decode, suffix)
    width = layout.width
    where_bytes = [
        (index, frozenset(v.encode(layout.codec, APPENDED) for v in values))
        for index, values in writer.where_index
    ]
    matches = matcher(where_bytes)
    counts = writer.counts
    careful_cells: dict[tuple[str, ...], bytes] = {}

    def careful(line: bytes, number: int) -> None:
        """Any record the hot loop leaves: quoted, not plain, ragged, odd line end, filtered."""
        first = number + records.extra
        record = records.read(line, first)
        if not record.body:
            write(line)  # a blank line stays a blank line
            return
        cells, category, result = writer.result(record, first)
        writer.count(category)
        if writer.observer is not None:
            writer.observer.row(first, record.fields, category, result)
        close = b'"' if record.unclosed else b""
        pad = delimiter_bytes * max(0, width - len(record.fields))
        cells = with_note(cells, record.note)
        encoded = careful_cells.get(cells)  # results repeat: each distinct one is written once
        if encoded is None and with_text:
            encoded = layout.csv_line(cells)  # text cells are long: not kept
        elif encoded is None:
            if len(careful_cells) >= _ROW_CACHE_SIZE:
                careful_cells.clear()
            encoded = careful_cells[cells] = layout.csv_line(cells)
        write(record.body + close + pad + delimiter_bytes + encoded + record.end)

    # the hot loop: the input bytes are written back as they were, with a cached suffix;
    # per row five look-ups of its own cell bytes in the tree; anything else is careful
    value_at, unit_at, fallback_at = layout.value, layout.unit, layout.fallback
    age_at, sex_at, ethnicity_at, pad = layout.age, layout.sex, layout.ethnicity, layout.pad
    lab = layout.has_lab_range
    low_at, high_at = layout.lab_at
    people_get, fill, plain = steps.people.get, steps.fill, records.source.plain
    observe = None if writer.observer is None else writer.observer.plain
    split_on = delimiter.encode("ascii")
    end_length = len(end)
    if fast is not None:
        records.lines = fast(steps)
    lines = records.lines
    line_number -= records.extra  # the hot loop counts the lines it is handed
    while True:
        start = line_number
        for line_number, line in enumerate(lines, start=start + 1):
            if all_careful or b'"' in line or not (line.isascii() or plain(line)):
                careful(line, line_number)
                continue
            body = line.rstrip(b"\r\n")
            if len(line) - len(body) != end_length or not body:
                careful(line, line_number)
                continue
            row = body.split(split_on)
            if len(row) != width or (matches is not None and not matches(row)):
                careful(line, line_number)
                continue
            if pad:
                row.append(b"")
            found: _Found | None = None
            by_sex = people_get(row[age_at])
            if by_sex is not None:
                by_ethnicity = by_sex.get(row[sex_at])
                if by_ethnicity is not None:
                    rows = by_ethnicity.get(row[ethnicity_at])
                    if rows is not None:
                        by_value = rows.get(row[unit_at])
                        if by_value is not None:
                            found = by_value.get(
                                (row[value_at] or row[fallback_at], row[low_at], row[high_at])
                                if lab
                                else row[value_at] or row[fallback_at]
                            )
            if found is None:
                found = fill(row)
            counts[found[2]] += 1
            if observe is not None:
                observe(line_number + records.extra, row, found)
            write(body + found[0] + found[1])
        if records.resume is None:
            break
        # a quote never closed: the lines after its line are read again
        line_number = records.reopened_at - records.extra
        lines = records.lines = records.resume
        records.resume = None


def json_keys(header: list[str], reserved: Sequence[str] = RESULT_COLUMNS) -> list[str]:
    """Header names as JSON keys: a repeated name, or one of the ``reserved`` result names,
    gets ``_2``, ``_3``..."""
    keys: list[str] = []
    seen: set[str] = set(reserved)
    for name in header:
        key, n = name, 1
        while key in seen:
            n += 1
            key = f"{name}_{n}"
        seen.add(key)
        keys.append(key)
    return keys


def json_row(keys: Sequence[str], fields: Sequence[str], width: int) -> dict[str, object]:
    """A record's input cells as a JSON object: missing cells None, cells past the header's
    ``width`` as ``field_<n>``."""
    row: dict[str, object] = dict(zip(keys, fields, strict=False))
    for key in keys[len(fields) :]:
        row[key] = None
    for extra, cell in enumerate(fields[width:], start=width + 1):
        row[f"field_{extra}"] = cell
    return row


def write_jsonl(writer: Writer, header: Record, line_number: int) -> None:
    """Write one JSON object per record: the input columns, then the result fields (UTF-8)."""
    records, stream = writer.records, writer.stream
    width = writer.layout.width
    keys = json_keys(header.fields)
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    empty = RowResult()
    number = line_number
    while (record := records.next(number + 1)) is not None:
        number += record.lines  # an unclosed quote counts one line: the rest is read again
        row = record.fields
        if not row:
            continue
        fields = json_row(keys, row, width)
        cells, category, result = writer.result(record, number - record.lines + 1)
        writer.count(category)
        if writer.observer is not None:
            writer.observer.row(number - record.lines + 1, row, category, result)
        result = empty if result is None else _short_result(result, row)
        if record.note:
            result = result._replace(warnings=(*result.warnings, record.note))
        body = dumps(fields)[:-1] + (", " if fields else "")
        out = result.json_fields()
        if writer.texts is not None:
            text_cells = zip(TEXT_COLUMNS, cells[-2:], strict=True)
            out.update((name, cell or None) for name, cell in text_cells)
        stream.write((body + dumps(out)[1:-1] + "}\n").encode("utf-8"))
