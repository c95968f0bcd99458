"""The columnar path of whole panels in a long file: the row loop's output, block by block.

A long lab file (``--analyte-col``) holds a panel as several rows; a percentage
of the differential becomes a count with its panel's WBC, wherever that row is
in the file. The row loop (:func:`cbc_ranges.batch.panels.write_long`) reads the
file twice in Python; this path reads it twice in blocks of lines with polars,
the way :mod:`cbc_ranges.batch.fast` reads a WBC file:

1. the first pass learns each panel's WBC and bands (a polars table that grows
   with the panels, not the rows), with the same rules as
   :class:`~cbc_ranges.panels.PanelTotals` (agreeing rows give their first
   value; rows that differ, or a bound beside a number, give no conversion);
2. the second pass joins each row to its panel and writes
   ``line bytes + delimiter + result cells + line end``. Rows whose cells
   repeat (WBC counts, bands, other analytes' counts, percentages that cannot
   be converted) are read once per distinct key by the row loop's own reading
   (:class:`~cbc_ranges.batch.panels.LongRows`). A percentage that can be
   converted gives a new count on nearly every row, so those counts are worked
   out for the whole block at once: the count rounded as
   :func:`~cbc_ranges.panels.absolute_count` rounds it, written as
   :func:`~cbc_ranges.rows.format_number` writes it (a row whose count lies too
   near a rounding tie takes the row loop's reading), and flagged by where it
   lies among its person class's edges (:attr:`~cbc_ranges.rows.PersonClass.edges`):
   the row engine reads one count of each place once, and a place whose result
   quotes the count (an ``indeterminate`` flag) reads each count.

A block is taken under the rules of :mod:`cbc_ranges.batch.fast`; a file with a
block that is not (a quoted line break, a blank or ragged line, bytes that are
not UTF-8, mixed line ends) goes through the row loop from its first line: the
first pass has written nothing when it meets one. A file is read again for the
second pass; standard input (a stream that cannot seek) is kept in a temporary
file. Up to ``jobs`` blocks are worked on at once by threads (polars lets go of
the interpreter lock); the tables they share are behind one lock, and the blocks
are written, and their rows counted, in the file's order. Read more in
``docs/batch.md`` (Speed).
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any

from cbc_ranges.batch.fast import _KNOWN_LIMIT, FastCSV, _Block, _polars
from cbc_ranges.batch.files import Record
from cbc_ranges.batch.panels import (
    PANEL_COLUMNS,
    LongPlan,
    LongRows,
    long_header,
    long_notes,
)
from cbc_ranges.batch.writers import MESSAGE_LIMIT, Writer
from cbc_ranges.errors import BatchError
from cbc_ranges.models import format_number as note_number
from cbc_ranges.panels import AGREE_ABS_TOL, AGREE_REL_TOL, BANDS, BOUND, CONFLICT, Item, Panel
from cbc_ranges.rows import CATEGORIES, PersonClass

__all__ = ["FastPanels"]

# what Python's str.strip() removes (polars' own whitespace differs: \x1c-\x1f), and a
# pattern of a cell that holds more than that (a cell str.strip() leaves not empty)
_WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_NOT_BLANK = "[^" + "".join(f"\\x{{{ord(c):04x}}}" for c in _WHITESPACE) + "]"

# a panel value's kind in the polars tables
_NONE, _NUMBER, _BOUND, _CONFLICT = 0, 1, 2, 3
_KINDS: dict[object, int] = {BOUND: _BOUND, CONFLICT: _CONFLICT}
_VALUES: dict[int, object] = {_BOUND: BOUND, _CONFLICT: CONFLICT}

# how a row that is read is: once per distinct key, or with its block at once
_KEYED, _VECTOR = 2, 3
# a percentage cell read: not a percentage (or bands), a percentage read per key, one worked out
_PLAIN, _PERCENT, _WORKED = 0, 1, 2

_ERROR = CATEGORIES.index("error")
_LAB_NOTE = "the lab's range is for the percentage, not the count"
# a count worked out is rounded as absolute_count rounds it (9 places), then written with 6
# places: a product is taken only below this size and away from a rounding tie
_LARGEST = 1e5
_TIE = 0.05


class _Tally:
    """What the rows of one block count for in the summary (added in the file's order)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.counts = [0] * len(CATEGORIES)
        self.skipped = 0  # not checked: left out by --where, other tests, bands
        self.other = 0  # other tests

    def add(self, category: int, rows: int) -> None:
        """Rows of a category (-1: not checked, as ``Writer.count``)."""
        if category < 0:
            self.skipped += rows
        else:
            self.counts[category] += rows


# what the work on one block gives: a table of panels (first pass), or bytes and their tally
_Done = Any


class _Refused(Exception):
    """A block the columnar path cannot take: the file goes to the row loop."""


class _Tee:
    """A stream that keeps what is read from it (standard input, for the second pass)."""

    def __init__(self, reader: IO[bytes]) -> None:
        self.reader = reader
        self.kept: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=1 << 22)  # noqa: SIM115

    def read(self, size: int = -1) -> bytes:
        data = self.reader.read(size)
        self.kept.write(data)
        return data

    def rest(self) -> IO[bytes]:
        """Everything, from the first byte read (what is left of the input read too)."""
        shutil.copyfileobj(self.reader, self.kept)
        self.kept.seek(0)
        return self.kept


class FastPanels(FastCSV):
    """The columnar path of one long file (CSV output): :meth:`write` or None (row loop)."""

    def __init__(
        self,
        plan: LongPlan,
        writer: Writer,
        reader: IO[bytes],
        *,
        jobs: int = 1,
        block_bytes: int | None = None,
        advance: Callable[[int], None] | None = None,
        start: int = 1,
    ) -> None:
        super().__init__(
            writer, reader, jobs=jobs, block_bytes=block_bytes, advance=advance, start=start
        )
        self.plan = plan
        self.long = LongRows(plan, writer)
        layout = self.layout
        width = layout.width
        roles = [plan.item_at, *plan.panel_at, layout.value, layout.unit, layout.fallback]
        roles += [layout.age, layout.sex, layout.ethnicity, *layout.lab_at]
        roles += [index for index, _ in writer.where_index]
        self.needed = sorted({i for i in roles if i < width})
        self.keys = [f"k{n}" for n in range(len(plan.panel_at))]
        self.unchecked = layout.csv_line(("",) * len(PANEL_COLUMNS)).decode("utf-8")
        # the first pass's panel tables (one row per panel and kind, merged now and then)
        self.parts: list[Any] = []
        self.merged = 0
        # person classes of every analyte, numbered: (analyte, age, sex, ethnicity) of each
        self.people: list[tuple[str, str, str, str]] = []
        self.person_classes: list[PersonClass] = []
        self.numbers: dict[tuple[str, int], int] = {}
        # the edges of every class met: (class, edge, its place in the class's list)
        self.edged: set[int] = set()
        self.other = 0
        self.tail = b""  # blank lines at the end of the file (see _whole_blocks)
        self.lock = threading.RLock()
        pl = _polars()
        schema = {"class": pl.Int64, "edge": pl.Float64, "at_edge": pl.Int64}
        self.edge_table: Any = pl.DataFrame(schema=schema)
        # the cells each pass reads: the first only what a panel's WBC and bands need
        self.written_at = self.needed
        learnt = [plan.item_at, *plan.panel_at, layout.value, layout.unit, layout.fallback]
        learnt += [index for index, _ in writer.where_index]
        self.learnt_at = sorted({i for i in learnt if i < width})

    # -- the run ------------------------------------------------------------------------------

    def write(self, header: Record) -> list[str] | None:
        """Write the header and every row; None, with nothing written and the input rewound
        for the row loop, when a block is not one this path takes."""
        records = self.records
        if records.resume is not None:  # the header opened a quote never closed
            return None
        source: Any = self.reader
        start = self._tell(source)
        tee = None if start is not None else _Tee(source)
        if tee is not None:
            records._spools.append(tee.kept)  # closed with the records
        self.reader = source if tee is None else tee  # type: ignore[assignment]
        self.needed = self.learnt_at
        try:
            for part in self._in_order(self._learn):
                if part is not None:
                    self._add_part(part)
        except _Refused:
            learnt = False
        else:
            learnt = True
        if not learnt:
            if tee is None:
                source.seek(start)
                records.lines = source
            else:
                records.lines = tee.rest()
            return None
        totals = self._totals()
        self.reader = source if tee is None else tee.rest()
        if tee is None:
            source.seek(start)
        self.carry = b""
        self.tables.clear()
        self.needed = self.written_at
        writer = self.writer
        writer.stream.write(long_header(writer, header))
        blocks = self._in_order(lambda data, last: self._write_rows(data, totals, last))
        for data, tally in self._second(blocks):
            if isinstance(data, memoryview):
                writer.stream.write(data)
            else:  # written here: no block's output held in memory besides its rows
                self._write_lines(data, writer.stream)
            for category, rows in enumerate(tally.counts):
                writer.counts[category] += rows
            writer.skipped += tally.skipped
            self.other += tally.other
            records.extra += tally.rows
            if self.advance is not None:
                self.advance(tally.rows)
        if self.tail:  # blank lines at the end: written as they are, read as no rows
            writer.stream.write(self.tail)
            blank = self.tail.count(b"\n")
            records.extra += blank
            if self.advance is not None:
                self.advance(blank)
        return long_notes(self.plan, self.other)

    @staticmethod
    def _second(blocks: Iterator[_Done]) -> Iterator[_Done]:
        """The second pass's blocks: each was taken by the first, unless the input changed."""
        try:
            yield from blocks
        except _Refused:
            raise BatchError(
                "the input changed while it was read: its second reading differs from the first"
            ) from None

    @staticmethod
    def _tell(source: Any) -> int | None:
        try:
            return int(source.tell()) if source.seekable() else None
        except OSError:
            return None

    def _whole_blocks(self) -> Iterator[tuple[bytes, bool]]:
        """The blocks of whole lines, then a last line without its end (with one added).

        Blank lines at the very end of the file (an editor's or a spreadsheet's last line
        end, once or more) are not a block's: they are kept in :attr:`tail`, written after
        the last block as the row loop writes them (a blank line elsewhere is an odd block)."""
        end = self.end
        self.tail = b""
        held = None
        for data in self._blocks():
            if held is not None:
                yield held, False
            held = data
        last, self.carry = self.carry, b""
        if held is not None and not last:  # the file ends with a line end
            blank = 0
            while held.endswith(end) and (len(held) == len(end) or held[: -len(end)].endswith(end)):
                held = held[: -len(end)]
                blank += 1
            self.tail = end * blank
        if held:
            yield held, False
        if last:
            yield last + end, True

    def _in_order(self, work: Callable[[bytes, bool], _Done]) -> Iterator[_Done]:
        """What ``work`` makes of each block, in the file's order; up to ``jobs`` blocks are
        worked on at once (polars lets go of the interpreter lock; what they share is
        behind :attr:`lock`). Raises :class:`_Refused` at a block this path does not take."""
        with ThreadPoolExecutor(self.jobs) as pool:
            queue: deque[Future[_Done]] = deque()
            try:
                for data, last in self._whole_blocks():
                    queue.append(pool.submit(work, data, last))
                    if len(queue) >= self.jobs:  # at most ``jobs`` blocks held (flat memory)
                        yield queue.popleft().result()
                while queue:
                    yield queue.popleft().result()
            finally:
                for future in queue:
                    future.cancel()

    def _taken(self, data: bytes, *, second: bool) -> _Block:
        """A block read by polars: the first pass checks it and reads its cells; the second
        reads the bytes the first took (not checked again) and their lines too."""
        block = self._read(data, lines_kept=second, taken=second)
        if block is None:
            raise _Refused
        return block

    def _known(self, name: str, distinct: Any, on: list[str], compute: Callable[[Any], Any]) -> Any:
        with self.lock:
            return super()._known(name, distinct, on, compute)

    def _joined(self, name: str, rows: Any, on: list[str], compute: Callable[[Any], Any]) -> Any:
        """The rows, in their order, with what their keys ``on`` give (the new keys computed,
        as :meth:`_known`). Only the key columns are joined; what they give is put beside
        the rows (a join of every column would copy them all, a block's worth each time)."""
        pl = _polars()
        keys = rows.select(on)
        with self.lock:
            table = self.tables.get(name)
        if table is None:
            table = self._known(name, keys.unique(), on, compute)
            found = keys.join(table, on=on, how="left", maintain_order="left")
            return rows.with_columns(found.drop(on))
        marked = table.with_columns(pl.lit(True).alias("known"))
        found = keys.join(marked, on=on, how="left", maintain_order="left")
        unknown = found.get_column("known").is_null()
        found = found.drop([*on, "known"])
        if unknown.any():  # keys not met yet (a few rows): computed, then put in their places
            at = unknown.arg_true()
            new = keys.select(pl.all().gather(at))
            table = self._known(name, new.unique(), on, compute)
            patch = new.join(table, on=on, how="left", maintain_order="left")
            found = found.with_columns(
                found.get_column(c).scatter(at, patch.get_column(c)) for c in found.columns
            )
        return rows.with_columns(found)

    def _forget(self) -> None:
        """Start the tables afresh when one is full (the class numbers stay: blocks being
        worked on hold them; they grow with the person classes only)."""
        with self.lock:
            if any(table.height > _KNOWN_LIMIT for table in self.tables.values()):
                self.tables.clear()

    # -- what both passes read of a block ------------------------------------------------------

    def _frame(self, block: _Block, *, learning: bool) -> tuple[Any, int, int]:
        """A block's rows that are read: those ``--where`` keeps of the items mapped (when
        ``learning``, the first pass: of WBC and bands), with their analyte, value, unit and
        panel and (not when learning) person and lab range; and how many rows are not read,
        how many of them of other tests."""
        pl = _polars()
        layout = self.layout
        cells = block.cells
        keep = pl.lit(True)
        for index, values in self.writer.where_index:
            column = cells.get_column(f"c{index}")
            matching = [v for v in column.unique().to_list() if v in values or v.strip() in values]
            keep = keep & pl.col(f"c{index}").is_in(matching)
        head = cells.select(self._cell(self.plan.item_at).alias("it"), keep.alias("keep"))
        items = self._known("items", head.select("it").unique(), ["it"], self._items)
        head = head.join(items, on="it", how="left", maintain_order="left")
        known = pl.col("an").is_in(["wbc", BANDS]) if learning else pl.col("an").is_not_null()
        counted = head.select(
            (pl.col("keep") & known).alias("read"),
            (pl.col("keep") & pl.col("an").is_null()).sum().alias("other"),
        )
        read = counted.get_column("read")
        other = int(counted.get_column("other")[0])
        left = block.rows - int(read.sum())
        value = self._cell(layout.value)
        if layout.fallback != layout.value:
            value = pl.when(value != "").then(value).otherwise(self._cell(layout.fallback))
        unit = self._cell(layout.unit) if layout.has_unit else pl.lit("")
        keys = [
            self._cell(at).str.strip_chars(_WHITESPACE).alias(name)
            for at, name in zip(self.plan.panel_at, self.keys, strict=True)
        ]
        has_key = pl.any_horizontal([k != "" for k in keys]) if keys else pl.lit(False)
        person: list[Any] = []
        if not learning:
            person += [self._cell(i).alias(n) for i, n in zip(self.person_at, "ase", strict=True)]
            person += [self._cell(i).alias(f"l{n}") for n, i in enumerate(self.layout.lab_at)]
        chosen = cells.with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("at"),
            head.get_column("an"), head.get_column("ip"),
        ).filter(read)  # fmt: skip
        frame = chosen.select(
            "at", "an", "ip", value.alias("v"), unit.alias("u"), *keys, has_key.alias("has_key"),
            *person,
        )  # fmt: skip
        return frame, left, other

    def _items(self, new: Any) -> Any:
        pl = _polars()
        found = []
        for (cell,) in new.iter_rows():
            item = self.long.item_of(cell)
            analyte = None if item is None else item.analyte
            found.append((cell, analyte, bool(item and item.percent)))
        schema = {"it": pl.String, "an": pl.String, "ip": pl.Boolean}
        return pl.DataFrame(found, schema=schema, orient="row")

    def _unit(self, unit: str) -> str | None:
        return unit if self.layout.has_unit else None

    # -- the first pass: each panel's WBC and bands --------------------------------------------

    def _learn(self, data: bytes, last: bool) -> Any:
        """The WBC and bands of each panel of a block (None: none): one row per panel and kind."""
        pl = _polars()
        self._forget()
        block = self._taken(data, second=False)
        frame = self._frame(block, learning=True)[0].filter(pl.col("has_key"))
        if not frame.height:
            return None
        rows = self.long.rows

        def values(new: Any) -> Any:
            found: list[tuple[Any, ...]] = []
            for analyte, percent, value, unit in new.iter_rows():
                if analyte == "wbc":
                    got = rows.wbc_value(value, self._unit(unit))
                else:
                    got = rows.bands_value(value, self._unit(unit), Item(BANDS, percent))
                if got is None:
                    found.append((analyte, percent, value, unit, _NONE, None))
                elif isinstance(got, float):
                    found.append((analyte, percent, value, unit, _NUMBER, got))
                else:
                    found.append((analyte, percent, value, unit, _KINDS[got], None))
            schema = {"an": pl.String, "ip": pl.Boolean, "v": pl.String, "u": pl.String,
                      "kind": pl.Int64, "num": pl.Float64}  # fmt: skip
            return pl.DataFrame(found, schema=schema, orient="row")

        on = ["an", "ip", "v", "u"]
        table = self._known("panel values", frame.select(on).unique(), on, values)
        frame = frame.join(table, on=on, how="left", maintain_order="left").filter(
            pl.col("kind") != _NONE
        )
        number = pl.col("kind") == _NUMBER
        part = frame.group_by([*self.keys, "an"], maintain_order=True).agg(
            (pl.col("kind") == _BOUND).any().alias("bound"),
            (pl.col("kind") == _CONFLICT).any().alias("conflict"),
            number.sum().alias("numbers"),
            pl.col("num").filter(number).first().alias("first"),
            pl.col("num").filter(number).min().alias("low"),
            pl.col("num").filter(number).max().alias("high"),
        )
        return part

    def _add_part(self, part: Any) -> None:
        """A block's panels, kept in the file's order (merged when they double)."""
        self.parts.append(part)
        held = sum(p.height for p in self.parts)
        if held > 2 * self.merged + (1 << 16):
            self.parts = [self._merge()]
            self.merged = self.parts[0].height

    def _merge(self) -> Any:
        """The parts as one table, one row per panel and kind, in the order first met."""
        pl = _polars()
        if not self.parts:
            schema = {**dict.fromkeys(self.keys, pl.String), "an": pl.String, "bound": pl.Boolean,
                      "conflict": pl.Boolean, "numbers": pl.UInt32, "first": pl.Float64,
                      "low": pl.Float64, "high": pl.Float64}  # fmt: skip
            return pl.DataFrame(schema=schema)
        return (
            pl.concat(self.parts, how="vertical_relaxed")
            .group_by([*self.keys, "an"], maintain_order=True)
            .agg(
                pl.col("bound").any(),
                pl.col("conflict").any(),
                pl.col("numbers").sum(),
                pl.col("first").drop_nulls().first(),
                pl.col("low").min(),
                pl.col("high").max(),
            )
        )

    def _totals(self) -> Any:
        """Each panel's WBC and bands: kind and number (``wk``, ``wn``, ``bk``, ``bn``)."""
        pl = _polars()
        merged = self._merge()
        self.parts = []

        def close(column: str) -> Any:  # math.isclose(first, column, AGREE_* tolerances)
            first, other = pl.col("first"), pl.col(column)
            largest = pl.max_horizontal(first.abs(), other.abs())
            return (first - other).abs() <= pl.max_horizontal(
                largest * AGREE_REL_TOL, pl.lit(AGREE_ABS_TOL)
            )

        kind = (
            pl.when(pl.col("conflict") | (pl.col("bound") & (pl.col("numbers") > 0)))
            .then(_CONFLICT)
            .when(pl.col("bound"))
            .then(_BOUND)
            .when(close("low") & close("high"))
            .then(_NUMBER)
            .otherwise(_CONFLICT)
        )
        merged = merged.with_columns(kind.alias("kind"))
        merged = merged.with_columns(
            pl.when(pl.col("kind") == _NUMBER).then(pl.col("first")).alias("num")
        )
        wbc = merged.filter(pl.col("an") == "wbc").select(
            *self.keys, pl.col("kind").alias("wk"), pl.col("num").alias("wn")
        )
        bands = merged.filter(pl.col("an") == BANDS).select(
            *self.keys, pl.col("kind").alias("bk"), pl.col("num").alias("bn")
        )
        if not self.keys:
            return None
        totals = wbc.join(bands, on=self.keys, how="full", coalesce=True)
        # the numbers as the note of a worked-out count writes them (few distinct)
        for number, shown in (("wn", "ws"), ("bn", "bs")):
            texts = self._numbers(totals.get_column(number))
            totals = totals.join(texts.rename({"n": number, "shown": shown}), on=number, how="left")
        # the bands' part of a neutrophil count's note, as it is written
        totals = totals.with_columns((" plus " + pl.col("bs") + " % bands").alias("bs"))
        return totals

    # -- the second pass: every row's cells ---------------------------------------------------

    def _write_rows(self, data: bytes, totals: Any, last: bool) -> _Done:
        """A block's output bytes, and what its rows count for in the summary."""
        pl = _polars()
        self._forget()
        block = self._taken(data, second=True)
        tally = _Tally(block.rows)
        rows, tally.skipped, tally.other = self._frame(block, learning=False)
        block.cells = None  # read: what is held of the block is its lines (flat memory)
        rows = rows.with_columns(pl.lit(_KEYED, dtype=pl.Int64).alias("how"))
        if self.keys:
            # the block's own panels first: a hash table of them, not of every panel
            panels = totals.join(rows.select(self.keys), on=self.keys, how="semi")
            rows = rows.join(panels, on=self.keys, how="left").drop(self.keys)
        else:
            rows = rows.with_columns(
                pl.lit(None, pl.Int64).alias("wk"), pl.lit(None, pl.Int64).alias("bk"),
                pl.lit(None, pl.Float64).alias("wn"), pl.lit(None, pl.Float64).alias("bn"),
                pl.lit(None, pl.String).alias("ws"), pl.lit(None, pl.String).alias("bs"),
            )  # fmt: skip
        rows = rows.with_columns(pl.col("wk").fill_null(_NONE), pl.col("bk").fill_null(_NONE))
        rows = self._people(rows)
        rows = self._percentages(rows)
        suffix = pl.Series("suffix", [self.unchecked], dtype=pl.String).extend_constant(
            self.unchecked, block.rows - 1
        )
        keyed = rows.filter(pl.col("how") == _KEYED)
        worked = rows.select(
            "how", "at", "an", "class", "n6", "pt", "pw", "pq", "ps", "ws", "bs", "wk", "wn", "bk",
            "bn", *(("l0", "l1") if self.layout.has_lab_range else ()),
        ).filter(pl.col("how") == _VECTOR)  # fmt: skip
        del rows
        for part in (self._keyed(keyed, block, tally), self._worked(worked, block, tally)):
            if part.height:
                suffix = suffix.scatter(part.get_column("at"), part.get_column("suffix"))
        del keyed, worked
        lines = pl.DataFrame({"line": block.lines, "suffix": suffix})
        if not last:
            return lines, tally
        out = io.BytesIO()
        self._write_lines(lines, out)
        return out.getbuffer()[: -len(self.end)], tally

    def _people(self, rows: Any) -> Any:
        """The rows with ``class``: each distinct (analyte, age, sex, ethnicity) once to its
        person class, numbered across the analytes' interpreters."""
        pl = _polars()
        panel_rows = self.long.rows

        def compute(new: Any) -> Any:
            found = []
            for analyte, age, sex, ethnicity in new.iter_rows():
                person = panel_rows.interpreter(analyte).person(age, sex, ethnicity)
                key = (analyte, id(person))
                number = self.numbers.get(key)
                if number is None:
                    number = self.numbers[key] = len(self.people)
                    self.people.append((analyte, age, sex, ethnicity))
                    self.person_classes.append(person)  # keeps the id unique
                found.append((analyte, age, sex, ethnicity, number))
            schema = {"an": pl.String, "a": pl.String, "s": pl.String, "e": pl.String,
                      "class": pl.Int64}  # fmt: skip
            return pl.DataFrame(found, schema=schema, orient="row")

        on = ["an", "a", "s", "e"]
        return self._joined("people", rows, on, compute)

    def _percentages(self, rows: Any) -> Any:
        """Each distinct (analyte, value, unit) cell read once: is it a percentage, and of
        which number; the rows whose count can be worked out for the block at once get
        ``how`` = vector, their count ``x`` (9 places) and its text ``text`` (6 places)."""
        pl = _polars()
        panel_rows = self.long.rows

        def compute(new: Any) -> Any:
            found = []
            for analyte, percent, value, unit in new.iter_rows():
                read = _PLAIN
                number = text = warned = shown = None
                special = False
                item_unit = self._unit(unit)
                if percent and not (item_unit or "").strip() and not value.rstrip().endswith("%"):
                    item_unit = "%"
                parsed = panel_rows.interpreter(analyte).parse(value, item_unit)
                count = parsed.count
                if analyte != BANDS and count is not None and count.unit == "%":
                    read = _PERCENT
                    plain = not count.comparator
                    if plain and all(len(w) <= MESSAGE_LIMIT for w in parsed.warnings):
                        read, number, text = _WORKED, count.value, parsed.value_text
                        warned, special = self._escaped(parsed.warnings)
                        shown = note_number(count.value)
                found.append((analyte, percent, value, unit, read, number, text, warned, special,
                              shown))  # fmt: skip
            schema = {"an": pl.String, "ip": pl.Boolean, "v": pl.String, "u": pl.String,
                      "read": pl.Int64, "pn": pl.Float64, "pt": pl.String, "pw": pl.String,
                      "pq": pl.Boolean, "ps": pl.String}  # fmt: skip
            return pl.DataFrame(found, schema=schema, orient="row")

        on = ["an", "ip", "v", "u"]
        rows = self._joined("percentages", rows, on, compute)
        with_bands = (pl.col("an") == "neutrophils") & (pl.col("bk") == _NUMBER)
        total = pl.when(with_bands).then(pl.col("pn") + pl.col("bn")).otherwise(pl.col("pn"))
        product = total * pl.col("wn") / 100.0
        rows = rows.with_columns(product.alias("x"))
        # round(x, 9) and then 6 places, as Python does, where no tie is near
        nines = pl.col("x") * 1e9
        sixes = pl.col("r9") * 1e6
        rows = rows.with_columns(((nines + 0.5).floor() / 1e9).alias("r9"))
        rows = rows.with_columns((sixes + 0.5).floor().alias("n6"))
        usable = (
            (pl.col("read") == _WORKED)
            & pl.col("has_key")
            & (pl.col("wk") == _NUMBER)
            & ((pl.col("an") != "neutrophils") | pl.col("bk").is_in([_NONE, _NUMBER]))
            & (pl.col("x") >= 0)
            & (pl.col("x") < _LARGEST)
            & ((nines - nines.floor() - 0.5).abs() > _TIE)
            & ((sixes - sixes.floor() - 0.5).abs() > _TIE)
        )
        how = pl.when(usable).then(_VECTOR).otherwise(pl.col("how"))
        return rows.with_columns(how.alias("how"))

    def _escaped(self, warnings: Iterable[str]) -> tuple[str, bool]:
        """Warnings as the warnings cell begins with them (each followed by "; "), quotes
        doubled, and whether they make the cell quoted (a delimiter, quote or line end)."""
        text = "".join(f"{w}; " for w in warnings)
        special = any(c in text for c in (self.layout.delimiter, '"', "\r", "\n"))
        return text.replace('"', '""'), special

    def _panel(self, wk: int, wn: float | None, bk: int, bn: float | None) -> Panel:
        wbc = wn if wk == _NUMBER else _VALUES.get(wk)
        bands = bn if bk == _NUMBER else _VALUES.get(bk)
        return Panel(wbc, bands)  # type: ignore[arg-type]

    def _row_cells(self, line: str, row: dict[str, Any]) -> tuple[tuple[str, ...], int, str | None]:
        """The cells, category and analyte of one row, read by the row loop's own reading."""
        fields = next(csv.reader((line,), delimiter=self.layout.delimiter), [])
        panel = self._panel(row["wk"], row["wn"], row["bk"], row["bn"])
        record = Record(fields, b"", b"", 1, None)
        with self.lock:
            result, percent, category, analyte = self.long.read(record, 0, lambda _: panel)
        return self.long.cells(result, percent, analyte, fields), category, analyte

    def _keyed(self, rows: Any, block: _Block, tally: _Tally) -> Any:
        """The suffixes of rows read once per distinct key (rows whose messages would quote a
        long cell of their own are read one by one)."""
        pl = _polars()
        if not rows.height:
            return pl.DataFrame(schema={"at": pl.Int64, "suffix": pl.String})
        # what of the panel a row's cells depend on: a count's only the WBC's being unusable
        unusable = (pl.col("an") == "wbc") & pl.col("wk").is_in([_BOUND, _CONFLICT])
        plain = pl.col("read") == _PLAIN
        rows = rows.with_columns(
            pl.when(plain).then(pl.lit(-1)).otherwise(pl.col("has_key").cast(pl.Int64)).alias("pk"),
            pl.when(plain).then(pl.when(unusable).then(_CONFLICT).otherwise(_NONE))
            .otherwise(pl.col("wk")).alias("wk"),
            pl.when(plain).then(-1.0).otherwise(pl.col("wn").fill_null(-1.0)).alias("wn"),
            pl.when(plain).then(_NONE).otherwise(pl.col("bk")).alias("bk"),
            pl.when(plain).then(-1.0).otherwise(pl.col("bn").fill_null(-1.0)).alias("bn"),
        )  # fmt: skip
        on = ["class", "an", "ip", "v", "u", "l0", "l1", "pk", "wk", "wn", "bk", "bn"]
        # each distinct key with the rows that have it (their places in the block)
        keys = rows.group_by(on).agg(pl.col("at"))
        lines = block.lines

        def compute(new: Any) -> Any:
            found = []
            for key in new.iter_rows(named=True):
                cells, category, _ = self._row_cells(lines[key["at"]], key)
                if cells is not None and any(len(c) > MESSAGE_LIMIT for c in cells[-2:]):
                    found.append((*(key[n] for n in on), None, category))  # a long message
                    continue
                encoded = self.layout.csv_line(cells).decode("utf-8")
                found.append((*(key[n] for n in on), encoded, category))
            schema = dict(rows.select(on).schema)
            schema.update({"suffix": pl.String, "category": pl.Int64})
            return pl.DataFrame(found, schema=schema, orient="row")

        first = keys.select(*on, pl.col("at").list.first())  # a row of each key, for its line
        table = self._known("keyed", first, on, compute)
        keys = keys.join(table, on=on, how="left")
        count = tally.add
        shared = pl.col("suffix").is_not_null()
        counted = keys.filter(shared).group_by("category").agg(pl.col("at").list.len().sum())
        for category, rows_of in counted.iter_rows():
            count(category, rows_of)
        suffixes = keys.filter(shared).select("at", "suffix").explode("at")
        own = keys.filter(~shared).explode("at")
        if not own.height:
            return suffixes
        mine = []
        for row in own.iter_rows(named=True):
            cells, category, _ = self._row_cells(lines[row["at"]], row)
            count(category, 1)
            mine.append((row["at"], self.layout.csv_line(cells).decode("utf-8")))
        schema = {"at": pl.Int64, "suffix": pl.String}
        return pl.concat([suffixes, pl.DataFrame(mine, schema=schema, orient="row")])

    def _worked(self, rows: Any, block: _Block, tally: _Tally) -> Any:
        """The suffixes of the percentages worked out for the block at once: what each distinct
        (class, count) gets is found on their table, then joined to the rows."""
        pl = _polars()
        if not rows.height:
            return pl.DataFrame(schema={"at": pl.Int64, "suffix": pl.String})
        counts = self._counts(rows.select("class", "n6").unique())
        rows = rows.join(counts, on=["class", "n6"], how="left")
        count = tally.add
        any_long = bool(rows.get_column("long").any())
        short = rows.filter(~pl.col("long")) if any_long else rows
        for category, rows_of in short.group_by("category").len().iter_rows():
            count(category, rows_of)
        # the warnings cell: the count's, the percentage's (their quotes doubled already),
        # the note of how it was worked out; quoted as csv quotes a cell (minimal quoting)
        # where a delimiter, quote or line end is in it: the note's own words hold one or not
        # (the same on every row), the warnings' texts were looked at once each
        delimiter = self.layout.delimiter
        lab = pl.lit(False)
        if self.layout.has_lab_range:
            lab = pl.any_horizontal([pl.col(c).str.contains(_NOT_BLANK) for c in ("l0", "l1")])
        written = "worked out as % plus % bands of the panel's white cell count of × 10⁹/L"
        quoted = pl.lit(any(c in written + "0123456789.-+e" for c in (delimiter, '"')))
        quoted = quoted | pl.col("wq") | pl.col("pq")
        if delimiter in "; " + _LAB_NOTE:
            quoted = quoted | lab
        short = short.with_columns(lab.alias("lab"), quoted.alias("quoted"))
        # a flag the same on every row is a constant text (most files), else chosen per row
        flags = short.select(
            pl.col("lab").any().alias("lab any"), pl.col("lab").all().alias("lab all"),
            pl.col("quoted").any().alias("quoted any"), pl.col("quoted").all().alias("quoted all"),
        ).row(0, named=True)  # fmt: skip

        def part(flag: str, text: str) -> list[Any]:
            if flags[f"{flag} all"]:
                return [pl.lit(text)]
            return [pl.when(pl.col(flag)).then(pl.lit(text))] if flags[f"{flag} any"] else []

        mark = part("quoted", '"')
        with_bands = (pl.col("an") == "neutrophils") & (pl.col("bk") == _NUMBER)
        suffix = pl.concat_str(
            "an", pl.lit(delimiter), "value", pl.lit(delimiter), "pt", pl.lit(delimiter), "mid",
            pl.lit(delimiter), *mark, "warned", "pw", pl.lit("worked out as "), "ps", pl.lit(" %"),
            pl.when(with_bands).then(pl.col("bs")),
            pl.lit(" of the panel's white cell count of "), "ws", pl.lit(" × 10⁹/L"),
            *part("lab", "; " + _LAB_NOTE), *mark, pl.lit(delimiter), "error", ignore_nulls=True,
        )  # fmt: skip
        suffixes = short.select("at", suffix.alias("suffix"))
        if not any_long:
            return suffixes
        long = rows.filter(pl.col("long"))
        mine = []
        for row in long.iter_rows(named=True):
            cells, category, _ = self._row_cells(block.lines[row["at"]], row)
            count(category, 1)
            mine.append((row["at"], self.layout.csv_line(cells).decode("utf-8")))
        schema = {"at": pl.Int64, "suffix": pl.String}
        return pl.concat([suffixes, pl.DataFrame(mine, schema=schema, orient="row")])

    def _counts(self, counts: Any) -> Any:
        """What each distinct (class, count in millionths) gets: its ``value`` cell, the cells
        after ``cbc_percent`` up to the warnings (``mid``), the warnings before the panel's
        note (``warned``), ``error``, ``category`` and ``long`` (a message too long to share:
        the row loop's reading)."""
        pl = _polars()
        separator = self.long.separator
        # the 6-place text of the count, and the count it reads as (made of integers: polars
        # divides by a number as it multiplies by its inverse, a bit off at times)
        # (the six places as the last six digits of a million more; their zeros, and a dot
        # left alone, taken off the end)
        millions = pl.col("n6").cast(pl.Int64)
        whole = (millions // 1_000_000).cast(pl.String)
        places = (millions % 1_000_000 + 1_000_000).cast(pl.String).str.slice(1)
        dot = pl.concat_str(whole, pl.lit("."), places).str.strip_chars_end("0")
        counts = counts.with_columns(dot.str.strip_chars_end(".").alias("dot"))
        text = pl.col("dot")
        if separator != ".":
            text = text.str.replace(".", separator, literal=True)
        counts = counts.with_columns(text.alias("text"), pl.col("dot").cast(pl.Float64).alias("y"))
        counts = self._places(counts)
        outcomes = self._known(
            "places", counts.group_by("class", "place").agg(pl.col("text").first()),
            ["class", "place"], self._outcomes,
        )  # fmt: skip
        counts = counts.join(outcomes.drop("text"), on=["class", "place"], how="left")
        # a place whose result quotes the count: each count read on its own
        each = counts.filter(~pl.col("shared")).select("class", "text")
        if each.height:
            own = self._known("counts", each, ["class", "text"], self._outcomes)
            own = own.rename({c: f"{c}_own" for c in own.columns if c not in ("class", "text")})
            counts = counts.join(own, on=["class", "text"], how="left")
            counts = counts.with_columns(
                pl.when(pl.col("shared")).then(pl.col(name)).otherwise(pl.col(f"{name}_own"))
                for name in ("mid", "warned", "wq", "error", "shows", "category", "long")
            )
        value = pl.when(pl.col("shows")).then(pl.col("text")).otherwise(pl.lit(""))
        return counts.select(
            "class",
            "n6",
            value.alias("value"),
            "mid",
            "warned",
            "wq",
            "error",
            "category",
            "long",
        )

    def _numbers(self, numbers: Any) -> Any:
        """Distinct numbers as the panel note writes them (3 places, one kept)."""
        pl = _polars()
        found = [(n, note_number(n)) for n in numbers.unique().drop_nulls().to_list()]
        return pl.DataFrame(found, schema={"n": pl.Float64, "shown": pl.String}, orient="row")

    def _places(self, counts: Any) -> Any:
        """Each distinct (class, count): its place among the class's edges (0 below the
        first; 2i + 1 on edge i; 2i + 2 above it, below the next)."""
        pl = _polars()
        with self.lock:
            new = set(counts.get_column("class").unique().to_list()) - self.edged
            if new:
                found = [(number, edge, at) for number in sorted(new)
                         for at, edge in enumerate(self.person_classes[number].edges)]  # fmt: skip
                schema = {"class": pl.Int64, "edge": pl.Float64, "at_edge": pl.Int64}
                added = pl.DataFrame(found, schema=schema, orient="row")
                self.edge_table = pl.concat([self.edge_table, added]).sort("edge")
                self.edged |= new
            edges = self.edge_table
        placed = counts.sort("y").join_asof(
            edges, left_on="y", right_on="edge", by="class", strategy="backward",
            coalesce=False, check_sortedness=False,
        )  # fmt: skip
        place = (
            pl.when(pl.col("at_edge").is_null())
            .then(0)
            .when(pl.col("edge") == pl.col("y"))
            .then(2 * pl.col("at_edge") + 1)
            .otherwise(2 * pl.col("at_edge") + 2)
        )
        return placed.with_columns(place.alias("place")).drop("edge", "at_edge", "class_right",
                                                                  strict=False)  # fmt: skip

    def _outcomes(self, new: Any) -> Any:
        """What the row engine makes of one count (text) of each (class, place or count):
        the cells a worked-out percentage shares with it."""
        pl = _polars()
        found = []
        panel_rows = self.long.rows
        columns = new.columns
        for row in new.iter_rows(named=True):
            analyte, age, sex, ethnicity = self.people[row["class"]]
            interpreter = panel_rows.interpreter(analyte)
            text = row["text"]
            entry = interpreter.lookup(text, "10^9/L", age, sex, ethnicity)
            cells, category, warnings = entry.cells, entry.category, entry.result.warnings
            if category == _ERROR:
                shared = cells[0] == "" and not warnings
            else:
                flagged = category < CATEGORIES.index("indeterminate")
                shared = flagged and not interpreter.parse(text, "10^9/L").warnings
            mid = self.layout.csv_line((cells[1], cells[2], cells[4], cells[5], cells[8],
                                        cells[6])).decode("utf-8")  # fmt: skip
            long = any(len(w) > MESSAGE_LIMIT for w in warnings) or len(cells[11]) > MESSAGE_LIMIT
            error = self.layout.csv_line((cells[11],)).decode("utf-8") if cells[11] else ""
            warned, special = self._escaped(warnings)
            found.append((*(row[c] for c in columns), shared, mid, warned, special, error,
                          cells[0] != "", category, long))  # fmt: skip
        schema = dict(new.schema)
        schema.update({"shared": pl.Boolean, "mid": pl.String, "warned": pl.String,
                       "wq": pl.Boolean,
                       "error": pl.String, "shows": pl.Boolean, "category": pl.Int64,
                       "long": pl.Boolean})  # fmt: skip
        return pl.DataFrame(found, schema=schema, orient="row")
