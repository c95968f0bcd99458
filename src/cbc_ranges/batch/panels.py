"""Whole panels in the batch: long files read by item, wide files with differential columns.

* **long** (``--analyte-col``, ``--analyte-map``, ``--panel-cols``): each row is
  one result; the item column says which analyte (an :class:`~cbc_ranges.panels.ItemMap`).
  A first pass over the file (spooled to a temporary file, so standard input
  works too) learns the WBC and bands of each panel
  (:class:`~cbc_ranges.panels.PanelTotals`); the second writes every row with
  :data:`PANEL_COLUMNS`. A percentage becomes a count with its panel's WBC
  wherever that row is in the file; rows of other items pass through.
* **wide**: a file with a WBC column and differential columns (``NEUT#``,
  ``LYMPH%``, ... from ``ranges/analytes.toml``) keeps the ``wbc_*`` columns
  and adds ``<analyte>_value``, ``<analyte>_percent``... for each analyte found.

Every row comes back in order with its bytes unchanged. Read more in
``docs/batch.md`` ("Whole panels").
"""

from __future__ import annotations

import json
import marshal
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from cbc_ranges.batch.columns import Columns, find_column
from cbc_ranges.batch.files import Record
from cbc_ranges.batch.writers import (
    MESSAGE_LIMIT,
    TEXT_COLUMNS,
    Layout,
    Writer,
    json_keys,
    json_row,
    matcher,
    ragged,
    short_message,
    unclosed,
    with_note,
)
from cbc_ranges.errors import BatchError, CBCError
from cbc_ranges.panels import (
    BANDS,
    DRAW_HEADERS,
    ITEM_HEADERS,
    PANEL_CACHE_SIZE,
    Item,
    ItemMap,
    Panel,
    PanelRows,
    PanelTotals,
    differential_headers,
    item_map,
)
from cbc_ranges.rows import CATEGORIES, RESULT_COLUMNS, RowResult

__all__ = [
    "ANALYTE_COLUMNS",
    "PANEL_COLUMNS",
    "WIDE_FIELDS",
    "LongPlan",
    "LongRows",
    "PanelOptions",
    "WidePlan",
    "long_header",
    "long_notes",
    "long_plan",
    "wide_plan",
    "write_long",
    "write_wide",
]

#: the columns a row of a long file gets, in this order
PANEL_COLUMNS: tuple[str, ...] = (
    "cbc_analyte",
    "cbc_value",
    "cbc_percent",
    "cbc_flag",
    "cbc_code",
    "cbc_ref_low",
    "cbc_ref_high",
    "cbc_grade",
    "cbc_source",
    "cbc_warnings",
    "cbc_error",
)
#: the fields of one analyte's result: ``cbc_<field>`` in long files, ``<analyte>_<field>`` in wide
WIDE_FIELDS: tuple[str, ...] = tuple(name.removeprefix("cbc_") for name in PANEL_COLUMNS[1:])
#: alias: the per-analyte fields, for a reader looking for the wide names
ANALYTE_COLUMNS = WIDE_FIELDS

_ERROR = CATEGORIES.index("error")
_CATEGORY = {flag: i for i, flag in enumerate(CATEGORIES)}
_SKIPPED = -1
_EMPTY = ("",) * len(PANEL_COLUMNS)


def _normalise(header: str) -> str:
    return re.sub(r"[\W_]+", "_", header.replace("\ufeff", "").strip().lower()).strip("_")


@dataclass(frozen=True)
class LongPlan:
    """Where a long file keeps its item and panel cells, and how items are read."""

    item_at: int
    item_name: str
    panel_at: tuple[int, ...]
    panel_names: tuple[str, ...]
    items: ItemMap

    def notes(self) -> list[str]:
        """What the summary says about how the file was read."""
        panels = (
            f"panels by {', '.join(repr(n) for n in self.panel_names)}"
            if self.panel_at
            else "no panel columns: percentages are not turned into counts (give --panel-cols)"
        )
        return [f"whole panels: items from {self.item_name!r} ({self.items.shown}); {panels}"]


class PanelOptions(NamedTuple):
    """What was asked of a long file: ``--analyte-col``, ``--analyte-map``, ``--panel-cols``."""

    analyte_col: str | None = None
    analyte_map: str | os.PathLike[str] | Mapping[str, str] | ItemMap | None = None
    panel_cols: str | Sequence[str] | None = None


def long_plan(header: Sequence[str], columns: Columns, options: PanelOptions) -> LongPlan | None:
    """The long-file plan when panels were asked for (any of the three options), else None."""
    analyte_col, analyte_map, panel_cols = options
    if analyte_col is None and analyte_map is None and panel_cols is None:
        return None
    taken = set(columns.index.values())
    if analyte_col:
        item_at = find_column(header, analyte_col, "--analyte-col")
    else:
        normalised = [_normalise(h) for h in header]
        found = [i for name in ITEM_HEADERS for i, h in enumerate(normalised) if h == name]
        if not found:
            raise BatchError(
                "whole panels need the column that names each row's test: give --analyte-col "
                "(such as itemid or label)",
                raw=list(header),
            )
        item_at = found[0]
    if item_at in taken:
        raise BatchError(
            f"--analyte-col {header[item_at]!r} is the column of the "
            f"{next(r for r, i in columns.index.items() if i == item_at)}: choose the column "
            "that names the test",
            raw=header[item_at],
        )
    if isinstance(panel_cols, str):
        names = [name.strip() for name in panel_cols.split(",") if name.strip()]
    elif panel_cols is not None:
        names = [str(name) for name in panel_cols]
    else:
        names = []
    if names:
        panel_at = tuple(find_column(header, name, "--panel-cols") for name in names)
    else:
        normalised = [_normalise(h) for h in header]
        panel_at = ()
        for draw in DRAW_HEADERS:
            if all(name in normalised for name in draw):
                panel_at = tuple(normalised.index(name) for name in draw)
                break
    items = analyte_map if isinstance(analyte_map, ItemMap) else item_map(analyte_map)
    return LongPlan(item_at, header[item_at], panel_at, tuple(header[i] for i in panel_at), items)


@dataclass(frozen=True)
class WidePlan:
    """The differential columns of a wide file: analyte -> (count column, percent column)."""

    columns: dict[str, tuple[int | None, int | None]]
    names: dict[str, tuple[str | None, str | None]]
    ignored: tuple[str, ...] = ()

    def header(self) -> tuple[str, ...]:
        return tuple(f"{analyte}_{name}" for analyte in self.columns for name in WIDE_FIELDS)

    def notes(self) -> list[str]:
        shown = "; ".join(
            f"{analyte}: " + ", ".join(repr(n) for n in names if n)
            for analyte, names in self.names.items()
        )
        notes = [f"whole panels: differential columns {shown}"]
        if self.ignored:
            notes.append(
                "not read (another column of the same analyte and kind comes first): "
                + ", ".join(repr(name) for name in self.ignored)
            )
        return notes


def wide_plan(header: Sequence[str], columns: Columns) -> WidePlan | None:
    """The differential columns of a file with a WBC column; None when it has none."""
    taken = set(columns.index.values())
    if columns.fallback is not None:
        taken.add(columns.fallback)
    found, ignored = differential_headers(header, taken)
    if not found:
        return None
    return WidePlan(
        found,
        {a: tuple(None if i is None else header[i] for i in at) for a, at in found.items()},  # type: ignore[misc]
        tuple(header[i] for i in ignored),
    )


def _cells(analyte: str, result: RowResult, percent: str, separator: str) -> tuple[str, ...]:
    cells = result.cells(separator)
    # RESULT_COLUMNS: value, flag, code, leukopenia, ref_low, ref_high, source, severity,
    # grade, ancestry, warnings, error
    return (
        analyte,
        cells[0],
        percent,
        cells[1],
        cells[2],
        cells[4],
        cells[5],
        cells[8],
        cells[6],
        cells[10],
        cells[11],
    )


def _json(
    result: RowResult, percent: str, prefix: str, analyte: str | None, *, long: bool = True
) -> dict[str, object]:
    fields = result.json_fields()
    number: float | str | None = None
    if percent:
        try:
            number = float(percent.replace(",", "."))
        except ValueError:
            number = percent
    out: dict[str, object] = {}
    if long:
        out[f"{prefix}analyte"] = analyte
    out.update(
        {
            f"{prefix}value": fields["wbc_value"],
            f"{prefix}percent": number,
            f"{prefix}flag": fields["wbc_flag"],
            f"{prefix}code": fields["wbc_code"],
            f"{prefix}ref_low": fields["wbc_ref_low"],
            f"{prefix}ref_high": fields["wbc_ref_high"],
            f"{prefix}grade": fields["wbc_grade"],
            f"{prefix}source": fields["wbc_source"],
            f"{prefix}warnings": fields["wbc_warnings"],
            f"{prefix}error": fields["wbc_error"],
        }
    )
    return out


def _short(result: RowResult, inputs: Sequence[str]) -> RowResult:
    """The result with long input cells its messages quote cut short (most have none)."""
    if (result.error is None or len(result.error) <= MESSAGE_LIMIT) and all(
        len(w) <= MESSAGE_LIMIT for w in result.warnings
    ):
        return result
    inputs = [cell for cell in inputs if cell]
    warnings = tuple(short_message(w, inputs) for w in result.warnings)
    error = None if result.error is None else short_message(result.error, inputs)
    return result._replace(warnings=warnings, error=error)


class _Spool:
    """Records kept in a temporary file between the two passes, in marshalled chunks.

    In memory up to 4 MiB, on disk beyond; a chunk is read back with two reads.
    """

    def __init__(self, chunk: int = 1024) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=1 << 22)  # noqa: SIM115
        self.size = chunk
        self.chunk: list[tuple[Any, ...]] = []

    def add(self, record: Record, number: int) -> None:
        self.chunk.append((*record, number))
        if len(self.chunk) >= self.size:
            self.flush()

    def flush(self) -> None:
        if self.chunk:
            blob = marshal.dumps(self.chunk)
            self.file.write(len(blob).to_bytes(8, "little") + blob)
            self.chunk = []

    def replay(self) -> Iterator[tuple[Record, int]]:
        """Every record added, in order, with its first line number."""
        self.flush()
        read = self.file.read
        self.file.seek(0)
        while size := int.from_bytes(read(8), "little"):
            for *fields, number in marshal.loads(read(size)):
                yield Record(*fields), number

    def close(self) -> None:
        self.file.close()


class LongRows:
    """How the row loop reads one record of a long file: its item, panel and result cells.

    The row loop (:func:`write_long`) and the columnar path
    (:mod:`cbc_ranges.batch.fast_panels`, for each distinct key and for rows it
    does not vectorise) both call :meth:`read` and :meth:`cells`: one reading.
    """

    def __init__(self, plan: LongPlan, writer: Writer) -> None:
        layout = writer.layout
        self.plan = plan
        self.layout = layout
        self.rows = PanelRows(writer.interpreter)
        self.separator = writer.interpreter.decimal_separator
        self.matches = matcher(writer.where_index)
        self.where_reach = max((i for i, _ in writer.where_index), default=-1)
        self.item_at, self.panel_at = plan.item_at, plan.panel_at
        self.reach = max(self.item_at, *self.panel_at) if self.panel_at else self.item_at
        self.seen_items: dict[str, Item | None] = {}

    def key_of(self, fields: list[str]) -> tuple[str, ...] | None:
        """The panel of a row: its stripped panel cells, None when all are empty."""
        if not self.panel_at:
            return None
        key = tuple(fields[i].strip() for i in self.panel_at)
        return key if any(key) else None

    def item_of(self, cell: str) -> Item | None:
        """The item of a cell (item cells are few: each is looked up once)."""
        try:
            return self.seen_items[cell]
        except KeyError:
            if len(self.seen_items) >= 1 << 15:
                self.seen_items.clear()
            found = self.seen_items[cell] = self.plan.items.item(cell)
            return found

    def readable(self, record: Record) -> bool:
        """Whether a record is read at all: whole, full width, kept by ``--where``."""
        fields = record.fields
        if record.unclosed or len(fields) != self.layout.width or self.reach >= len(fields):
            return False
        matches = self.matches
        return matches is None or self.where_reach >= len(fields) or matches(fields)

    def read(
        self, record: Record, number: int, panel_of: Callable[[tuple[str, ...]], Panel]
    ) -> tuple[RowResult | None, str, int, str | None]:
        """(result or None, percentage text, category, analyte id) of one record.

        ``panel_of`` gives what is known of a panel. The analyte is None for a row
        ``--where`` leaves out, ``""`` for another test.
        """
        fields = record.fields
        layout = self.layout
        if record.unclosed:
            return RowResult(error=unclosed(number)), "", _ERROR, ""
        if len(fields) != layout.width:
            return RowResult(error=ragged(len(fields), layout.width)), "", _ERROR, ""
        if not self.readable(record):
            return None, "", _SKIPPED, None
        item = self.item_of(fields[self.item_at])
        if item is None:
            return None, "", _SKIPPED, ""  # another test: passes through
        try:
            texts = layout.texts(fields)
        except CBCError as error:  # the row's own dates (batch/dates.py)
            return RowResult(error=str(error)), "", _ERROR, item.analyte
        key = self.key_of(fields)
        panel = None if key is None else panel_of(key)
        lab = layout.lab_range(fields) if layout.has_lab_range else None
        result, percent, category = self.rows.long_result(item, texts, lab, panel)
        return result, percent, category, item.analyte

    def cells(
        self, result: RowResult | None, percent: str, analyte: str | None, inputs: Sequence[str]
    ) -> tuple[str, ...]:
        """The :data:`PANEL_COLUMNS` cells of a result (long input cells quoted short)."""
        if result is None:
            return _EMPTY
        return _cells(analyte or "", _short(result, inputs), percent, self.separator)


def long_notes(plan: LongPlan, other: int) -> list[str]:
    """What the summary says of a long file: how it was read, how many rows passed through."""
    notes = plan.notes()
    if other:
        notes.append(
            f"{other:,} row{'s' if other != 1 else ''} of other items passed through unchecked "
            "(counted as skipped)"
        )
    return notes


def long_header(writer: Writer, header: Record) -> bytes:
    """The header line of a long file's CSV output: its own cells, then :data:`PANEL_COLUMNS`."""
    layout = writer.layout
    delimiter = layout.encode(layout.delimiter)
    pad = delimiter * max(0, layout.width - len(header.fields))
    close = b'"' if header.unclosed else b""
    return header.body + close + pad + delimiter + layout.csv_line(PANEL_COLUMNS) + header.end


def write_long(
    plan: LongPlan, writer: Writer, header: Record, line_number: int, output_format: str
) -> list[str]:
    """Write a long file with :data:`PANEL_COLUMNS`: a first pass for the panels, then rows.

    Returns notes for the summary.
    """
    layout = writer.layout
    long = LongRows(plan, writer)
    rows = long.rows
    width = layout.width
    item_at = plan.item_at

    # the first pass: every record to the spool, each panel's WBC and bands to the totals
    spool = _Spool()
    totals = PanelTotals()
    other = 0
    records, number = writer.records, line_number
    try:
        while (record := records.next(number + 1)) is not None:
            spool.add(record, number + 1)
            number += record.lines
            if not record.fields or not long.readable(record):
                continue
            item = long.item_of(record.fields[item_at])
            if item is None or item.analyte not in ("wbc", BANDS):
                continue
            key = long.key_of(record.fields)
            if key is None:
                continue
            value, unit, *_ = Layout.texts(layout, record.fields)  # not the row's dates
            if item.analyte == "wbc":
                got = rows.wbc_value(value, unit)
                if got is not None:
                    totals.add_wbc(key, got)  # type: ignore[arg-type]
            else:
                got = rows.bands_value(value, unit, item)
                if got is not None:
                    totals.add_bands(key, got)  # type: ignore[arg-type]
        stream = writer.stream
        keys = json_keys(header.fields, PANEL_COLUMNS)
        dumps = json.JSONEncoder(ensure_ascii=False).encode
        delimiter = layout.encode(layout.delimiter)
        if output_format == "csv":
            stream.write(long_header(writer, header))
        empty = RowResult()
        written: dict[tuple[str, ...], bytes] = {}
        # the report hears each row's analyte (an older observer hears the row alone)
        panel_row = getattr(writer.observer, "panel_row", None)
        for record, number in spool.replay():
            fields = record.fields
            if not record.body and not fields:
                if output_format == "csv":
                    stream.write(record.body + record.end)
                continue
            result, percent, category, analyte = long.read(record, number, totals.panel)
            if result is None and analyte == "":
                other += 1
            writer.count(category)
            if panel_row is not None:
                panel_row(number, fields, category, result, analyte or "", percent)
            elif writer.observer is not None:
                writer.observer.row(number, fields, category, result)
            inputs = fields
            if record.note:
                result = (result or empty)._replace(
                    warnings=(*(result or empty).warnings, record.note)
                )
            if output_format == "csv":
                cells = long.cells(result, percent, analyte, inputs)
                encoded = written.get(cells)  # results repeat: each distinct one encoded once
                if encoded is None:
                    if len(written) >= PANEL_CACHE_SIZE:
                        written.clear()
                    encoded = written[cells] = layout.csv_line(cells)
                close = b'"' if record.unclosed else b""
                pad = delimiter * max(0, width - len(fields))
                stream.write(record.body + close + pad + delimiter + encoded + record.end)
            else:
                row = json_row(keys, fields, width)
                out = _json(_short(result or empty, inputs), percent, "cbc_", analyte or None)
                body = dumps(row)[:-1] + (", " if row else "")
                stream.write((body + dumps(out)[1:-1] + "}\n").encode("utf-8"))
    finally:
        spool.close()
    return long_notes(plan, other)


def write_wide(
    plan: WidePlan, writer: Writer, header: Record, line_number: int, output_format: str
) -> list[str]:
    """Write a wide file: the ``wbc_*`` columns as for WBC files, then each analyte's columns."""
    layout = writer.layout
    rows = PanelRows(writer.interpreter)
    separator = writer.interpreter.decimal_separator
    stream, records = writer.stream, writer.records
    width = layout.width
    extra_names = plan.header()
    delimiter = layout.encode(layout.delimiter)
    names = RESULT_COLUMNS if writer.texts is None else (*RESULT_COLUMNS, *TEXT_COLUMNS)
    keys = json_keys(header.fields, (*names, *extra_names))
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    if output_format == "csv":
        pad = delimiter * max(0, width - len(header.fields))
        close = b'"' if header.unclosed else b""
        stream.write(
            header.body
            + close
            + pad
            + delimiter
            + layout.csv_line((*names, *extra_names))
            + header.end
        )
    number = line_number
    empty_cells = ("",) * len(WIDE_FIELDS)
    # the report hears each differential result too (not counted in the summary)
    panel_row = getattr(writer.observer, "panel_row", None)
    while (record := records.next(number + 1)) is not None:
        first = number + 1
        number += record.lines
        fields = record.fields
        if not fields:
            if output_format == "csv":
                stream.write(record.body + record.end)
            continue
        cells, category, wbc_result = writer.result(record, first)
        writer.count(category)
        if writer.observer is not None:  # the WBC result, as the summary counts it
            writer.observer.row(first, fields, category, wbc_result)
        extra: list[tuple[str, ...]] = []
        objects: dict[str, object] = {}
        checked = category != _SKIPPED and wbc_result is not None and len(fields) == width
        checked = checked and not record.unclosed and bool(plan.columns)
        if checked:
            try:
                value, unit, age, sex, ethnicity = layout.texts(fields)
            except CBCError:  # the row's own dates: wbc_error says why
                checked = False
        if checked:
            got = rows.wbc_value(value, unit)
            panel = Panel(wbc=got)  # type: ignore[arg-type]
            padded = [*fields, ""]
            inputs = fields
            for analyte, (count_at, percent_at) in plan.columns.items():
                read = rows.wide_result(
                    analyte,
                    "" if count_at is None else padded[count_at],
                    "" if percent_at is None else padded[percent_at],
                    (age, sex, ethnicity),
                    panel,
                )
                if read is None:
                    extra.append(empty_cells)
                    objects.update(_json(RowResult(), "", f"{analyte}_", None, long=False))
                    continue
                item, cell, result, percent, analyte_category = read
                if panel_row is not None:
                    panel_row(
                        first, fields, analyte_category, result, analyte,
                        percent if item.percent else "", value=cell, in_summary=False,
                    )  # fmt: skip
                result = _short(result, inputs)
                extra.append(_cells(analyte, result, percent, separator)[1:])
                objects.update(_json(result, percent, f"{analyte}_", None, long=False))
        else:
            extra = [empty_cells] * len(plan.columns)
            for analyte in plan.columns:
                objects.update(_json(RowResult(), "", f"{analyte}_", None, long=False))
        if output_format == "csv":
            cells = with_note(cells, record.note)
            flat = [cell for group in extra for cell in group]
            close = b'"' if record.unclosed else b""
            pad = delimiter * max(0, width - len(fields))
            stream.write(
                record.body
                + close
                + pad
                + delimiter
                + layout.csv_line((*cells, *flat))
                + record.end
            )
        else:
            row = json_row(keys, fields, width)
            result = RowResult() if wbc_result is None else _short(wbc_result, fields)
            if record.note:
                result = result._replace(warnings=(*result.warnings, record.note))
            out = result.json_fields()
            if writer.texts is not None:
                out.update(
                    (name, cell or None)
                    for name, cell in zip(TEXT_COLUMNS, cells[-2:], strict=True)
                )
            out.update(objects)
            body = dumps(row)[:-1] + (", " if row else "")
            stream.write((body + dumps(out)[1:-1] + "}\n").encode("utf-8"))
    return plan.notes()
