"""The columnar fast path of ``cbc-ranges batch``: blocks of plain lines read at once with polars.

A lab file repeats itself: a million rows hold a few thousand people and about
a hundred thousand (person class, unit, value) keys. The careful path
(:func:`cbc_ranges.batch.writers.write_csv`) pays a Python loop per row; this
path reads a block of lines (:data:`BLOCK_BYTES`, cut at a line end) with
polars, hands each distinct key of the block once to the same row steps
(:class:`~cbc_ranges.batch.writers.RowSteps`, the tree of the careful path's
hot loop, so the result cells are the same by construction) and writes
``line bytes + delimiter + result cells + line end`` for every row of the block
with polars' writer. Memory stays flat: at most ``jobs`` blocks are held at once.

A block is taken only when every line of it is one the careful path's hot
loop would take or that its careful step reads the same way: valid UTF-8, the
file's own line end on every line (``\\n`` or ``\\r\\n``), no blank line, the
header's field count on every line, and quotes only around whole fields on one
line (``"a,b"``, ``"a""b"``). A block that is not goes through the row loop
(the careful path) and the fast path goes on after it; so does a last line
without a line end. Which files may take the path at all is :func:`eligible`, the one
predicate to extend. ``--careful`` (``check_csv(careful=True)``) turns it off.
A listener with a ``block`` method (the teaching report's
:class:`~cbc_ranges.reporting.tally.Tally`) is handed each block it writes: the
kept rows' cells with their ``suffix``, ``category`` and place ``at``, the
block's first line number and its lines; a listener without one turns the
path off (it hears the row loop).
Read more in ``docs/batch.md`` (Speed).
"""

from __future__ import annotations

import codecs
import importlib.util
import io
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from itertools import chain
from typing import IO, Any

from cbc_ranges.batch.files import Records
from cbc_ranges.batch.writers import Layout, RowSteps, Writer
from cbc_ranges.rows import EMPTY_CELLS, PersonClass

__all__ = [
    "BLOCK_BYTES",
    "DEFAULT_JOBS_LIMIT",
    "FastCSV",
    "FastOptions",
    "default_jobs",
    "eligible",
]

#: bytes of input read as one block (cut at the last line end in it): 4 MiB keep the peak RSS
#: near 300 MiB; 16 MiB cost as much CPU and 480 MiB (1,000,000 rows, 2 cores)
BLOCK_BYTES = 1 << 22

# rows a table of known keys may hold before all start afresh
_KNOWN_LIMIT = 1 << 18

# polars >= 1.20: join(maintain_order=...) keeps the rows' order
_POLARS_AT_LEAST = (1, 20)

# bytes that can stand for "no separator" when a block is read as whole lines
_LINE_SEPARATORS = (b"\x1f", b"\x1e", b"\x1d", b"\x1c", b"\x01")


#: the most blocks read ahead by default: each holds its lines and cells (tens of MiB), and
#: polars already reads one block on every core
DEFAULT_JOBS_LIMIT = 4


def default_jobs() -> int:
    """The ``--jobs`` default: the cores this process may use, at most :data:`DEFAULT_JOBS_LIMIT`.

    >>> 1 <= default_jobs() <= DEFAULT_JOBS_LIMIT
    True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, DEFAULT_JOBS_LIMIT))


@dataclass(frozen=True)
class FastOptions:
    """What a run asks for, as far as the fast path cares.

    ``converted``: the output is re-encoded; ``readable``: the input's lines come
    from a binary stream that can be read in blocks; ``careful``: the caller
    turned the fast path off.
    """

    output_format: str
    text: bool
    converted: bool
    line_codec: str
    wide: bool
    readable: bool
    careful: bool = False
    jobs: int = 1


def _polars_usable() -> bool:
    if importlib.util.find_spec("polars") is None:
        return False
    try:
        version = metadata.version("polars")
    except metadata.PackageNotFoundError:
        return False
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    return numbers >= _POLARS_AT_LEAST


def eligible(layout: Layout, options: FastOptions) -> bool:
    """Whether a run may take the fast path (its blocks are still checked one by one).

    Today's single-WBC layout, CSV out in the input's own UTF-8 bytes, no
    ``--text`` (its text depends on the exact person cells), and polars
    installed (an optional dependency: without it the careful path runs).

    >>> from cbc_ranges.batch.columns import Columns
    >>> layout = Layout(Columns({"value": 0}, {}, None), 1, "utf-8", ",")
    >>> eligible(layout, FastOptions("jsonl", False, False, "utf-8", False, True))
    False
    """
    return (
        not options.careful
        and options.output_format == "csv"
        and not options.text
        and not options.converted
        and not options.wide
        and options.line_codec == "utf-8"
        and layout.codec == "utf-8"
        and options.readable
        and len(layout.delimiter) == 1
        and layout.delimiter.isascii()
        and layout.delimiter not in '"\r\n'
        and _polars_usable()
    )


def _polars() -> Any:
    """polars, imported on first use only (``import cbc_ranges`` stays light)."""
    import polars

    return polars


@dataclass
class _Block:
    """A block read by polars: its lines, the cells the row steps read, its row count."""

    rows: int
    lines: Any  # polars Series of the lines without their ends
    cells: Any  # polars DataFrame: one column per cell index the row steps read


class _Forward:
    """What polars writes to: each write goes to ``stream``, and what that raises is kept
    (polars hands back an OSError of its own in its place)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.stream.write(data)
        except BaseException as error:
            self.error = error
            raise


class FastCSV:
    """The fast path of one CSV output: called by ``write_csv`` with its row steps.

    ``reader`` is the input's binary stream, positioned after the header;
    ``advance`` is told how many lines each block wrote (the progress line).
    """

    def __init__(
        self,
        writer: Writer,
        reader: IO[bytes],
        *,
        jobs: int = 1,
        block_bytes: int | None = None,
        advance: Callable[[int], None] | None = None,
        start: int = 1,
    ) -> None:
        self.writer = writer
        # a listener of whole blocks (the teaching report), and the line number of the header
        self.listener: Callable[[int, Any, Any], None] | None = getattr(
            writer.observer, "block", None
        )
        self.start = start
        self.handed = 0  # lines handed to the row loop so far
        self.records: Records = writer.records
        self.reader = reader
        self.jobs = max(1, jobs)
        self.block_bytes = block_bytes or BLOCK_BYTES
        self.advance = advance
        layout = writer.layout
        self.layout = layout
        self.end = self.records.source.lineterminator
        self.delimiter = layout.delimiter.encode("ascii")
        # the cells the row steps read; an index equal to the width is an absent role
        roles = [layout.value, layout.unit, layout.fallback, layout.age, layout.sex]
        roles += [layout.ethnicity, *(layout.lab_at if layout.has_lab_range else ())]
        roles += [index for index, _ in writer.where_index]
        self.needed = sorted({i for i in roles if i < layout.width})
        self.person_at = [layout.age, layout.sex, layout.ethnicity]
        keys = {layout.value, layout.unit, layout.fallback}
        if layout.has_lab_range:
            keys.update(layout.lab_at)
        self.key_at = sorted(i for i in keys if i < layout.width)
        quoted_field = b'"(?:[^"]|"")*"'
        plain_field = b'[^"\r\n' + re.escape(self.delimiter) + b"]*"
        field = b"(?:" + plain_field + b"|" + quoted_field + b")"
        whole = b"^" + field + b"(?:" + re.escape(self.delimiter) + field + b")*$"
        self.well_formed = whole.decode("ascii")
        self.quoted_field = quoted_field.decode("ascii")
        self.skipped_suffix = layout.csv_line(EMPTY_CELLS)
        # what the keys met so far give (polars tables), and the class and count numbers
        self.tables: dict[str, Any] = {}
        self.classes: list[PersonClass] = []
        self.class_numbers: dict[PersonClass, int] = {}
        self.groups: dict[tuple[object, ...], int] = {}
        self.carry = b""

    # -- the run ------------------------------------------------------------------------------

    def __call__(self, steps: RowSteps) -> Iterator[bytes]:
        """The lines left to the row loop of ``write_csv``; the blocks the fast path can take
        are written as the loop reaches them, in the file's order."""
        if self.records.resume is not None:  # the header opened a quote never closed
            return self.records.lines
        return self._lines(steps)

    def _lines(self, steps: RowSteps) -> Iterator[bytes]:
        records = self.records
        pool = ThreadPoolExecutor(self.jobs) if self.jobs > 1 else None
        # blocks read ahead (by the pool, up to ``jobs``), written in their order
        queue: deque[tuple[bytes, Future[_Block | None] | None]] = deque()
        blocks = self._blocks()
        try:
            while True:
                while len(queue) < self.jobs and (data := next(blocks, None)) is not None:
                    queue.append((data, pool.submit(self._read, data) if pool else None))
                if not queue:
                    break
                data, future = queue.popleft()
                block = future.result() if future is not None else self._read(data)
                if block is not None:
                    self._write(block, steps)
                    # the row loop numbers the lines it is handed: these it is not
                    records.extra += block.rows
                    if self.advance is not None:
                        self.advance(block.rows)
                    continue
                # the row loop takes this block; the blocks read ahead are read again after it
                ahead = [queued for queued, _ in queue]
                queue.clear()
                yield from self._careful(data, b"".join(ahead))
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        last, self.carry = self.carry, b""
        if last:  # a last line without its line end (or lines left after a careful block)
            yield from self._careful(last, b"")

    def _careful(self, data: bytes, ahead: bytes) -> Iterator[bytes]:
        """The lines of ``data``, for the row loop. A record may pull lines after them (a quoted
        line break) through ``records.lines``: from ``ahead``, the line read in part, then the
        input; what it leaves of them is read in blocks again."""
        lines = iter(io.BytesIO(data))
        after = iter(io.BytesIO(ahead + self.carry + self.reader.readline()))
        self.records.lines = chain(lines, after, self.reader)
        handed = 0
        for line in lines:  # the same iterator: a pulled line is not handed again
            handed += 1
            self.handed += 1
            yield line
        self.carry = b"".join(after)
        if self.advance is not None:
            self.advance(handed)

    def _blocks(self) -> Iterator[bytes]:
        """Blocks of whole lines; the bytes after the last line end wait in :attr:`carry`."""
        read = self.reader.read
        while True:
            more = read(self.block_bytes)
            data = self.carry + more
            cut = data.rfind(b"\n") + 1
            self.carry = data[cut:]
            if cut:
                yield data[:cut]
            elif not more:
                return

    # -- one block: read (any thread), then rows (this thread, in order) ----------------------

    def _read(self, data: bytes, *, lines_kept: bool = True, taken: bool = False) -> _Block | None:
        """The block read by polars, or None when a line of it needs the careful path.

        ``lines_kept=False``: the cells alone are wanted (a block without quotes then
        has no ``lines``; its checks do not need them). ``taken``: the same bytes were
        taken before (a second pass over them): polars reads them without the checks."""
        rows = data.count(b"\n")
        if not taken and self._odd(data, rows):
            return None
        separator = next((s for s in _LINE_SEPARATORS if s not in data), None)
        if separator is None:
            return None
        pl = _polars()
        width = self.layout.width
        quoted = b'"' in data
        # polars gets a BytesIO rather than the bytes: given bytes, it copies them into fresh
        # memory on every read (about a thousand page faults for a 4 MiB block)
        try:
            lines = None
            if lines_kept or quoted:
                lines = pl.read_csv(
                    io.BytesIO(data), has_header=False, separator=separator.decode("ascii"),
                    quote_char=None, infer_schema=False, new_columns=["line"],
                ).get_column("line")  # fmt: skip
                if lines.len() != rows or lines.null_count():
                    return None
            if not taken:  # bytes taken before were checked then
                if quoted:
                    if not self._simply_quoted(lines, width):
                        return None
                elif data.count(self.delimiter) != rows * (width - 1):
                    return None  # with the reader's refusal of longer rows: every row is full
            cells = pl.read_csv(
                io.BytesIO(data), has_header=False, separator=self.layout.delimiter,
                quote_char='"' if quoted else None, infer_schema=False,
                # every column read: a long row raises only so (a short one is filled);
                # bytes taken before were read so, their needed cells are enough now
                columns=self.needed if taken else None,
                new_columns=[f"c{i}" for i in range(width)], truncate_ragged_lines=False,
            )  # fmt: skip
        except pl.exceptions.PolarsError:
            return None
        if cells.height != rows:
            return None
        cells = cells.select([pl.col(f"c{i}").fill_null("") for i in self.needed])
        return _Block(rows, lines, cells)

    def _odd(self, data: bytes, rows: int) -> bool:
        """Whether the bytes of a block hold a line the careful path must read: another line
        end, a blank line, a byte-order mark at the start, bytes that are not UTF-8."""
        end = self.end
        if end == b"\n":
            if b"\r" in data:
                return True
        elif data.count(b"\r") != rows or data.count(b"\r\n") != rows:
            return True
        if data.startswith(end) or b"\n" + end in data:
            return True  # a blank line stays a blank line: the careful path writes it
        if data.startswith(codecs.BOM_UTF8):
            return True  # polars drops a byte-order mark at the start of what it reads
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return True
        return False

    def _simply_quoted(self, lines: Any, width: int) -> bool:
        """Every line has quotes only around whole fields, and the header's field count."""
        pl = _polars()
        frame = pl.DataFrame({"line": lines})
        has_quote = pl.col("line").str.contains('"', literal=True)
        delimiter = re.escape(self.layout.delimiter)
        checked = frame.select(
            bad=(has_quote & ~pl.col("line").str.contains(self.well_formed)).any(),
            fields=pl.when(has_quote)
            .then(pl.col("line").str.replace_all(self.quoted_field, ""))
            .otherwise(pl.col("line"))
            .str.count_matches(delimiter)
            .ne(width - 1)
            .any(),
        )
        return not (checked["bad"][0] or checked["fields"][0])

    def _write(self, block: _Block, steps: RowSteps) -> None:
        """Every row of a block: each distinct key through the row steps once, then written."""
        pl = _polars()
        writer, layout = self.writer, self.layout
        cells = block.cells
        listener = self.listener
        if listener is not None:  # each row's place in the block: its line number
            cells = cells.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("at"))
        keep = pl.lit(True)
        for index, values in writer.where_index:
            column = cells.get_column(f"c{index}")
            matching = [v for v in column.unique().to_list() if v in values or v.strip() in values]
            keep = keep & pl.col(f"c{index}").is_in(matching)
        cells = cells.with_columns(keep=keep)
        kept = cells.filter(pl.col("keep"))
        writer.skipped += block.rows - kept.height
        self._forget()
        kept = self._classes(kept, steps)
        if layout.has_lab_range:
            kept = self._by_row_key(kept, steps)
        else:
            kept = self._by_count(kept, steps)
        if listener is not None:
            # the lines handed to the row loop, the lines before them and this block's own
            listener(self.start + 1 + self.handed + self.records.extra, kept, block.lines)
        if kept.height == block.rows:
            suffix = kept.get_column("suffix")
        else:
            suffix = self._spread(cells.get_column("keep"), kept.get_column("suffix"))
        self._write_lines(pl.DataFrame({"line": block.lines, "suffix": suffix}), writer.stream)

    def _write_lines(self, lines: Any, stream: IO[bytes]) -> None:
        """Each line's bytes (``line``), a delimiter, its result cells (``suffix``) and the
        line end, written by polars to ``stream`` (not to a buffer of ours first: one kept
        by Python's allocator per thread costs memory that is not given back)."""
        forward = _Forward(stream)
        try:
            lines.write_csv(
                forward, include_header=False, separator=self.layout.delimiter,
                quote_style="never", line_terminator=self.end.decode("ascii"), null_value="",
            )  # fmt: skip
        except OSError:
            if forward.error is not None:  # the stream's own error (a closed pipe stays one)
                raise forward.error from None
            raise

    def _cell(self, index: int) -> Any:
        """A cell the row steps read, as a polars expression (an absent role: empty)."""
        pl = _polars()
        return pl.col(f"c{index}") if index < self.layout.width else pl.lit("")

    def _known(self, name: str, distinct: Any, on: list[str], compute: Callable[[Any], Any]) -> Any:
        """The table of what the keys ``on`` give, with the keys of ``distinct`` not met in an
        earlier block computed (``compute`` gets them and returns ``on`` + what they give)."""
        pl = _polars()
        table = self.tables.get(name)
        new = distinct if table is None else distinct.join(table, on=on, how="anti")
        if table is None or new.height:
            added = compute(new)
            table = added if table is None else pl.concat([table, added], how="vertical")
            self.tables[name] = table
        return table

    def _forget(self) -> None:
        """Start the tables afresh when one is full (memory stays flat on any file)."""
        if any(table.height > _KNOWN_LIMIT for table in self.tables.values()):
            self.tables.clear()
            self.class_numbers.clear()
            self.classes.clear()
            self.groups.clear()

    def _classes(self, kept: Any, steps: RowSteps) -> Any:
        """The rows with a ``class`` column: each distinct (age, sex, ethnicity) once to its
        person class (the row steps' tree), numbered in :attr:`classes`."""
        pl = _polars()
        person = [self._cell(i).alias(name) for i, name in zip(self.person_at, "ase", strict=True)]
        kept = kept.with_columns(person)

        def compute(new: Any) -> Any:
            found: list[tuple[str, str, str, int]] = []
            for age, sex, ethnicity in new.iter_rows():
                rows = steps.class_rows(age.encode(), sex.encode(), ethnicity.encode())
                number = self.class_numbers.get(rows.person)
                if number is None:
                    number = self.class_numbers[rows.person] = len(self.classes)
                    self.classes.append(rows.person)
                found.append((age, sex, ethnicity, number))
            schema = {"a": pl.String, "s": pl.String, "e": pl.String, "class": pl.Int64}
            return pl.DataFrame(found, schema=schema, orient="row")

        table = self._known("people", kept.select("a", "s", "e").unique(), ["a", "s", "e"], compute)
        return kept.join(table, on=["a", "s", "e"], how="left", maintain_order="left")

    def _by_count(self, kept: Any, steps: RowSteps) -> Any:
        """Suffixes of a file without the lab's range: each distinct (value, unit) cells parsed
        once, then each distinct (class, count) once through the row steps' ``combine``.

        Two cells that read as the same count without a message (``7.3 K/uL``, ``7.3 G/L``)
        get the same outcome from the interpreter, which keeps outcomes by (class, count);
        cells with a warning or an error keep their own key (a message may quote them).
        """
        pl = _polars()
        layout = self.layout
        value = self._cell(layout.value)
        if layout.fallback != layout.value:
            value = pl.when(value != "").then(value).otherwise(self._cell(layout.fallback))
        kept = kept.with_columns(value.alias("v"), self._cell(layout.unit).alias("u"))

        def parse(new: Any) -> Any:
            pairs: list[tuple[str, str, int]] = []
            for v, u in new.iter_rows():
                parsed = steps.parsed(v.encode(), u.encode())
                count = parsed.count
                key: tuple[object, ...] = (
                    parsed.value_text,
                    None if count is None else (count.value, count.comparator),
                    parsed.warnings,
                    parsed.error,
                )
                if parsed.warnings or parsed.error:
                    key += (v, u)
                pairs.append((v, u, self.groups.setdefault(key, len(self.groups))))
            schema = {"v": pl.String, "u": pl.String, "group": pl.Int64}
            return pl.DataFrame(pairs, schema=schema, orient="row")

        pairs = self._known("pairs", kept.select("v", "u").unique(), ["v", "u"], parse)
        kept = kept.join(pairs, on=["v", "u"], how="left", maintain_order="left")
        keys = kept.group_by("class", "group").agg(
            pl.len().alias("rows"), *(pl.col(c).first() for c in ("v", "u", "a", "s", "e"))
        )

        def combine(new: Any) -> Any:
            found = []
            for number, group, _, v, u, age, sex, ethnicity in new.iter_rows():
                head, tail, category = steps.combine(
                    self.classes[number], v.encode(), u.encode(),
                    (age.encode(), sex.encode(), ethnicity.encode()),
                )  # fmt: skip
                found.append((number, group, self._suffix(head + tail), category))
            return pl.DataFrame(found, schema=self._suffix_schema(["class", "group"]),
                                orient="row")  # fmt: skip

        return self._suffixes(kept, keys, ["class", "group"], combine)

    def _suffixes(self, kept: Any, keys: Any, on: list[str], compute: Callable[[Any], Any]) -> Any:
        """The rows with their ``suffix``; the block's categories counted."""
        pl = _polars()
        table = self._known("suffixes", keys, on, compute)
        keys = keys.join(table, on=on, how="left")
        counts = self.writer.counts
        for category, rows in keys.group_by("category").agg(pl.col("rows").sum()).iter_rows():
            counts[category] += rows
        taken = (*on, "suffix", "category") if self.listener is not None else (*on, "suffix")
        return kept.join(table.select(*taken), on=on, how="left", maintain_order="left")

    def _suffix(self, found: bytes) -> str:
        """The result cells as appended to a line, without the delimiter before them and the
        line end (polars' writer adds them)."""
        return found[len(self.delimiter) : -len(self.end)].decode("utf-8")

    def _suffix_schema(self, on: list[str]) -> dict[str, Any]:
        pl = _polars()
        schema: dict[str, Any] = dict.fromkeys(on, pl.String)
        schema.update({"class": pl.Int64, "group": pl.Int64})
        return {**{name: schema[name] for name in on}, "suffix": pl.String, "category": pl.Int64}

    def _by_row_key(self, kept: Any, steps: RowSteps) -> Any:
        """Suffixes of a file with the lab's own range: each distinct (class, value, unit,
        range) cells once through the row steps' tree (the careful path's hot loop)."""
        pl = _polars()
        layout = self.layout
        on = ["class", *(f"c{i}" for i in self.key_at)]
        keys = kept.group_by(on).agg(
            pl.len().alias("rows"), *(pl.col(c).first() for c in ("a", "s", "e"))
        )
        width = layout.width

        def fill(new: Any) -> Any:
            found = []
            for key in new.iter_rows(named=True):
                row = [b""] * (width + 1)
                for index in self.key_at:
                    row[index] = key[f"c{index}"].encode()
                for index, name in zip(self.person_at, "ase", strict=True):
                    row[index] = key[name].encode()
                head, tail, category = steps.known(row) or steps.fill(row)
                found.append((*(key[name] for name in on), self._suffix(head + tail), category))
            return pl.DataFrame(found, schema=self._suffix_schema(on), orient="row")

        return self._suffixes(kept, keys, on, fill)

    def _spread(self, keep: Any, found: Any) -> Any:
        """The kept rows' suffixes at their places, the ``--where`` skipped rows' empty cells."""
        pl = _polars()
        skipped = self.skipped_suffix.decode("utf-8")
        places = keep.arg_true()
        spread = pl.Series("suffix", [skipped], dtype=pl.String).extend_constant(
            skipped, keep.len() - 1
        )
        return spread.scatter(places, found)
