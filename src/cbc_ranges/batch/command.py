"""``cbc-ranges batch`` and :func:`check_csv`: the run of one file, its summary and progress.

The steps: open the input, refuse an unsafe output, sniff the encoding and the
delimiter, read the header and find the columns, then write every record with
its result cells (:mod:`cbc_ranges.batch.writers`) through a temporary file.
"""

from __future__ import annotations

import argparse
import bz2
import codecs
import gzip
import io
import lzma
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, TextIO

from cbc_ranges.analytes import analyte_for_header
from cbc_ranges.batch import fast, fast_panels
from cbc_ranges.batch.columns import (
    OPTIONS,
    RANGE_ROLES,
    ROLES,
    detect,
    find_column,
    where_filters,
)
from cbc_ranges.batch.dates import DatedLayout, dated_layout
from cbc_ranges.batch.files import (
    APPENDED,
    CSVSource,
    Records,
    atomic_output,
    check_output,
    open_csv_source,
    open_input,
    raised_field_size_limit,
)
from cbc_ranges.batch.inputs import open_table
from cbc_ranges.batch.panels import (
    PanelOptions,
    WidePlan,
    long_plan,
    wide_plan,
    write_long,
    write_wide,
)
from cbc_ranges.batch.writers import (
    Layout,
    RowObserver,
    RowTexts,
    Writer,
    write_csv,
    write_jsonl,
)
from cbc_ranges.errors import BatchError, CBCError
from cbc_ranges.rows import RowInterpreter

if TYPE_CHECKING:
    from cbc_ranges.ranges import RangeTable

__all__ = ["BatchSummary", "OutputFormat", "check_csv", "configure_parser", "run_from_args"]

OutputFormat = Literal["csv", "jsonl"]


@dataclass(frozen=True)
class BatchSummary:
    """What a batch run did: where it read and wrote, which columns it used, what it found.

    ``rows_read`` counts data rows (blank lines aside); it always equals
    ``low + normal + high + indeterminate + errors + skipped``. ``skipped`` counts
    the rows not checked: left out by ``--where``, and in whole panels the rows
    of other tests and of bands (which have no range of their own).
    ``output_encoding`` is the encoding of the output (that of the input unless
    converted with ``output_encoding=``).
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
    output_encoding: str = "utf-8"
    ref_low_column: str | None = None
    ref_high_column: str | None = None
    ref_range_column: str | None = None

    @property
    def checked(self) -> int:
        """Rows that were interpreted or explained (all rows but the ``skipped`` ones)."""
        return self.rows_read - self.skipped

    @property
    def columns(self) -> dict[str, str | None]:
        """The header used for each role (``value``, ``unit``... and the lab's own range:
        ``ref_low``, ``ref_high``, ``ref_range``), None when not used."""
        return {
            "value": self.value_column,
            "unit": self.unit_column,
            "age": self.age_column,
            "sex": self.sex_column,
            "ethnicity": self.ethnicity_column,
            "ref_low": self.ref_low_column,
            "ref_high": self.ref_high_column,
            "ref_range": self.ref_range_column,
        }

    def text(self) -> str:
        """The summary as a few lines of text (what the command prints on stderr).

        >>> summary = BatchSummary("a.csv", "a.wbc.csv", "csv", "utf-8", ",", "wbc", None, None,
        ...     None, None, rows_read=3, normal=2, errors=1)
        >>> print(summary.text())  # doctest: +NORMALIZE_WHITESPACE
        cbc-ranges batch: 3 rows read from a.csv (utf-8, ',' delimited)
          flagged: 0 low, 2 normal, 0 high; 0 indeterminate; 1 error; 0 not checked
          columns: value='wbc'
          written to a.wbc.csv
        """
        used = ", ".join(f"{role}={name!r}" for role, name in self.columns.items() if name)
        if self.default_unit:
            used += f"; default unit {self.default_unit!r}"
        written = f"  written to {self.output}"
        if self.output_encoding != self.encoding and self.format == "csv":
            written += f" (converted to {self.output_encoding})"
        lines = [
            f"cbc-ranges batch: {self.rows_read:,} rows read from {self.input} "
            f"({self.encoding}, {self.delimiter!r} delimited)",
            f"  flagged: {self.low:,} low, {self.normal:,} normal, {self.high:,} high; "
            f"{self.indeterminate:,} indeterminate; {self.errors:,} "
            f"error{'' if self.errors == 1 else 's'}; {self.skipped:,} not checked",
            f"  columns: {used or 'none'}",
            written,
        ]
        lines += [f"  note: {warning}" for warning in self.warnings]
        return "\n".join(lines)


_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")
_NO_PANELS = PanelOptions()


def _default_output(source: str | os.PathLike[str] | IO[bytes], output_format: str) -> str:
    """``<stem>.wbc.csv`` next to the input (``lab.csv.gz``, ``lab.xlsx``: ``lab.wbc.csv``)."""
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-":
        path = Path(source)
        if path.suffix.lower() in _COMPRESSED_SUFFIXES:
            path = path.with_suffix("")
        return str(path.with_name(f"{path.stem}.wbc.{output_format}"))
    return "-"


@contextmanager
def _compressed(stream: IO[bytes], target: object) -> Iterator[IO[bytes]]:
    """The output stream, compressed when the output path ends in .gz, .bz2 or .xz."""
    suffix = ""
    if isinstance(target, (str, os.PathLike)):
        suffix = Path(os.fspath(target)).suffix.lower()
    if suffix not in _COMPRESSED_SUFFIXES:
        yield stream
        return
    packed: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile
    if suffix == ".gz":
        # mtime=0 and no name: the same input gives the same bytes; level 6 as gzip(1)
        packed = gzip.GzipFile(filename="", mode="wb", fileobj=stream, compresslevel=6, mtime=0)
    elif suffix == ".bz2":
        packed = bz2.BZ2File(stream, "wb")
    else:
        packed = lzma.LZMAFile(stream, "wb")  # noqa: SIM115 - closed by the with below
    with packed:
        yield packed  # type: ignore[misc]


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise BatchError(f"unknown output encoding {encoding!r}", raw=encoding) from None


def check_csv(
    source: str | os.PathLike[str] | IO[bytes],
    output: str | os.PathLike[str] | IO[bytes] | None = None,
    *,
    value_col: str | None = None,
    unit_col: str | None = None,
    age_col: str | None = None,
    sex_col: str | None = None,
    ethnicity_col: str | None = None,
    ref_low_col: str | None = None,
    ref_high_col: str | None = None,
    ref_range_col: str | None = None,
    default_unit: str | None = None,
    where: Mapping[str, Iterable[str]] | Sequence[str] | str | None = None,
    table: RangeTable | str | None = None,
    format: OutputFormat = "csv",
    encoding: str | None = None,
    delimiter: str | None = None,
    output_encoding: str | None = None,
    sheet: str | None = None,
    text: bool = False,
    progress: bool = False,
    analyte_col: str | None = None,
    analyte_map: str | Mapping[str, str] | None = None,
    panel_cols: str | Sequence[str] | None = None,
    birth_date_col: str | None = None,
    date_col: str | None = None,
    jobs: int | None = None,
    careful: bool = False,
    observer: RowObserver | None = None,
) -> BatchSummary:
    """Check every row of a CSV file and write it with the ``wbc_*`` columns appended.

    ``source`` is a path, ``"-"`` for stdin or a binary file object;
    ``output`` a path, ``"-"`` for stdout or a binary file object, by default
    ``<stem>.wbc.csv`` (or ``.wbc.jsonl``) next to the input. ``where`` keeps
    only matching rows for checking (``"itemid=51300,51301"``, a list of such
    strings, or ``{"itemid": ["51300", "51301"]}``); the others pass through
    with empty result columns. ``ref_low_col``/``ref_high_col`` or
    ``ref_range_col`` name the columns of the lab's own reference range (found
    by their header otherwise, such as MIMIC-IV's ``ref_range_lower`` and
    ``ref_range_upper``): a row with one is flagged against it. The CSV output
    keeps the input's bytes and encoding unless ``output_encoding`` converts it. ``jobs``
    is how many blocks the columnar fast path reads ahead (default: the cores, at most 4),
    ``careful=True`` turns that path off (:mod:`cbc_ranges.batch.fast`; the output is the
    same). Returns a
    :class:`BatchSummary`; raises :class:`~cbc_ranges.errors.BatchError`
    when the file cannot be processed. ``analyte_col``, ``analyte_map`` and
    ``panel_cols`` read a long file as whole panels (``docs/batch.md``, "Whole
    panels"); a wide file with differential columns gets their results too.
    ``birth_date_col`` and ``date_col`` (both) give each row its exact age on
    the test date ("Exact ages from dates"). ``observer`` (a
    :class:`~cbc_ranges.batch.writers.RowObserver`) is told about every record
    as it is read; the teaching report (:mod:`cbc_ranges.reporting`) listens so.

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
    if jobs is not None and jobs < 1:
        raise BatchError(
            f"--jobs is a number of blocks read ahead, at least 1, not {jobs}", raw=str(jobs)
        )
    converted = _codec_name(output_encoding) if output_encoding else None
    if format == "jsonl" and converted not in (None, "utf-8"):
        raise BatchError("JSON lines are always UTF-8: --output-encoding applies to CSV only")
    target = output if output is not None else _default_output(source, format)
    filters = where_filters(where)
    given = {
        "value": value_col,
        "unit": unit_col,
        "age": age_col,
        "sex": sex_col,
        "ethnicity": ethnicity_col,
        "ref_low": ref_low_col,
        "ref_high": ref_high_col,
        "ref_range": ref_range_col,
    }
    started = time.perf_counter()
    if isinstance(target, (str, os.PathLike)):
        shown = os.fspath(target)
    else:
        name = getattr(target, "name", None)
        shown = name if isinstance(name, str) else "<stream>"
    with raised_field_size_limit(), open_input(source) as given_input:
        check_output(target, given_input.identity)
        with open_table(given_input, sheet=sheet, declared=bool(encoding)) as opened:
            csv_source = open_csv_source(opened, encoding=encoding, delimiter=delimiter)
            records = Records(csv_source)
            try:
                summary = _run(
                    records,
                    target,
                    shown=shown,
                    given=given,
                    filters=filters,
                    default_unit=default_unit,
                    table=table,
                    output_format=format,
                    converted=converted,
                    progress=progress,
                    text=text,
                    panels=PanelOptions(analyte_col, analyte_map, panel_cols),
                    dates=(birth_date_col, date_col),
                    jobs=jobs,
                    careful=careful,
                    observer=observer,
                )
            finally:
                records.close()
        if opened.notes:
            summary = replace(summary, warnings=(*opened.notes, *summary.warnings))
    return replace(summary, seconds=time.perf_counter() - started)


class _Transcoder:
    """A binary stream that re-encodes what is written (whole records) into another encoding.

    Records are decoded as the input's cells are (``decode``); a leading
    byte-order mark is replaced by the output's own (``bom``).
    """

    def __init__(
        self, stream: IO[bytes], decode: Callable[[bytes], str], target: str, bom: bytes
    ) -> None:
        self.stream = stream
        self.decode = decode
        self.target = target
        self.first = True
        if bom:
            stream.write(bom)

    def write(self, data: bytes) -> int:
        text = self.decode(data)
        if self.first:
            self.first = False
            text = text.removeprefix("\ufeff")
        return self.stream.write(text.encode(self.target, APPENDED))


_BOM = {
    "utf-8": codecs.BOM_UTF8,
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
    "utf-32-le": codecs.BOM_UTF32_LE,
    "utf-32-be": codecs.BOM_UTF32_BE,
}


def _output_codec(
    source: CSVSource, converted: str | None, output_format: str, to_file: bool
) -> tuple[str | None, str, bytes]:
    """(the codec records are re-encoded into, None to keep their bytes; its name; the BOM).

    Appended text is encoded like the lines as carried (the file's own bytes,
    or UTF-8 for a UTF-16/32 file); a transcoder turns whole records into
    another encoding when the output needs one.
    """
    if output_format == "jsonl":
        return None, "utf-8", b""
    little = source.bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE)
    if converted is None:
        if not source.wide:
            return None, source.encoding, b""
        wide = source.encoding + ("-le" if little else "-be")
        return (wide if wide in _BOM else source.encoding), source.encoding, source.bom
    if converted == source.line_codec and not source.wide:
        return None, converted, b""
    if converted in ("utf-16", "utf-32"):
        converted += "-le"
    bom = _BOM.get(converted, b"") if converted.startswith(("utf-16", "utf-32")) else b""
    if converted == "utf-8" and to_file:
        bom = codecs.BOM_UTF8  # spreadsheet programs read a converted file right
    return converted, converted, bom


def _run(
    records: Records,
    target: str | os.PathLike[str] | IO[bytes],
    *,
    shown: str,
    given: Mapping[str, str | None],
    filters: list[tuple[str, frozenset[str]]],
    default_unit: str | None,
    table: RangeTable | str | None,
    output_format: OutputFormat,
    converted: str | None,
    progress: bool,
    text: bool = False,
    panels: PanelOptions = _NO_PANELS,
    dates: tuple[str | None, str | None] = (None, None),
    jobs: int | None = None,
    careful: bool = False,
    observer: RowObserver | None = None,
) -> BatchSummary:
    source = records.source
    warnings: list[str] = []
    if source.encoding == "cp1252":
        warnings.append("the file is not UTF-8: it was read as cp1252 (Windows Latin-1)")
    to_file = isinstance(target, (str, os.PathLike)) and os.fspath(target) != "-"
    transcode, out_codec, bom = _output_codec(source, converted, output_format, to_file)
    base = (source.name, shown, output_format, source.encoding, source.delimiter)
    number = 0
    blanks: list[bytes] = []
    first = records.next(1)
    if source.separator_line and first is not None:
        blanks.append(first.body + first.end)  # Excel's "sep=;": kept, never the header
        number += first.lines
        first = records.next(number + 1)
    while first is not None and not first.body:
        blanks.append(first.body + first.end)  # blank lines before the header
        number += first.lines
        first = records.next(number + 1)
    if first is None:  # an empty (or blank) file gives the same bytes back
        with atomic_output(target) as stream, _compressed(stream, target) as packed:
            packed.write(b"".join(blanks))
        return BatchSummary(
            *base,
            value_column=None,
            unit_column=None,
            age_column=None,
            sex_column=None,
            ethnicity_column=None,
            warnings=(*warnings, "the file is empty"),
            output_encoding=out_codec,
        )
    number += first.lines
    header = [cell.removeprefix("\ufeff") if i == 0 else cell for i, cell in
              enumerate(first.fields)]  # fmt: skip
    columns = detect(header, given)
    if not default_unit and columns.header_unit:
        from cbc_ranges.count import try_parse_count

        if try_parse_count("1", columns.header_unit) is not None:
            default_unit = columns.header_unit
            warnings.append(
                f"cells without a unit are read in {default_unit!r}, the unit in the header"
            )
    where_index = [(find_column(header, column, "--where"), values) for column, values in filters]
    semicolon = source.delimiter == ";"
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
    layout = Layout(columns, len(header), source.line_codec, source.delimiter)
    # exact ages from a birth date and a test date (batch/dates.py): every row read carefully
    layout, notes = dated_layout(
        layout, columns, header, birth_date_col=dates[0], date_col=dates[1]
    )
    warnings += notes
    # whole panels (batch/panels.py): a long file by item when asked, a wide one by its headers
    long = long_plan(header, columns, panels)
    wide = None if long is not None else wide_plan(header, columns)
    named = analyte_for_header(header[columns.index["value"]])
    if long is None and named is not None and named[0] != "wbc":  # e.g. --value-col ANC
        warnings.append(
            f"the WBC value column {header[columns.index['value']]!r} is headed as "
            f"{named[0]} ({named[1]}): it is read as a WBC and compared with WBC ranges"
        )
    if long is not None and text:
        raise BatchError("--text explains WBC rows only; leave it out when reading whole panels")
    if long is None and not filters and "itemid" in (h.strip().lower() for h in header):
        warnings.append("a long lab file: --analyte-col itemid reads whole blood count panels")
    ticker = _Progress(source) if progress else None
    options = fast.FastOptions(
        output_format, text, transcode is not None, source.line_codec, source.wide,
        isinstance(source.lines, io.BufferedReader), careful, jobs or fast.default_jobs(),
    )  # fmt: skip
    # the fast path covers one WBC value per row; panels and ages from dates take the row loop
    plain = long is None and wide is None and not isinstance(layout, DatedLayout)
    # a listener hears the rows of the row loop; one with ``block`` (the report) hears the blocks
    listens = observer is None or getattr(observer, "block", None) is not None
    taken = output_format == "csv" and plain and listens and fast.eligible(layout, options)
    # a long file of whole panels has its own columnar path (batch/fast_panels.py); no listener
    panels_taken = (
        long is not None
        and observer is None
        and not isinstance(layout, DatedLayout)
        and fast.eligible(layout, options)
    )
    if ticker is not None and not taken and not panels_taken:
        records.lines = ticker.wrap(records.lines)
    try:
        with atomic_output(target) as stream, _compressed(stream, target) as packed:
            out: IO[bytes] = packed
            if transcode is not None:
                out = _Transcoder(packed, source.decode, transcode, bom)  # type: ignore[assignment]
            texts = RowTexts(interpreter) if text else None
            writer = Writer(records, out, layout, interpreter, where_index, texts)
            if observer is not None:
                observer.start(writer)
                writer.observer = observer
            if output_format == "csv":
                for blank in blanks:
                    out.write(blank)
            if long is not None:
                panel_notes = None
                if panels_taken:
                    panel_notes = fast_panels.FastPanels(
                        long, writer, source.lines, jobs=options.jobs,  # type: ignore[arg-type]
                        advance=ticker.advance if ticker else None, start=number,
                    ).write(first)  # fmt: skip
                    if panel_notes is None and ticker is not None:  # the row loop, from the start
                        records.lines = ticker.wrap(records.lines)
                if panel_notes is None:
                    panel_notes = write_long(long, writer, first, number, output_format)
                warnings += panel_notes
            elif wide is not None:
                warnings += write_wide(wide, writer, first, number, output_format)
            elif isinstance(layout, DatedLayout) and output_format == "csv":
                write_wide(WidePlan({}, {}), writer, first, number, output_format)
            elif output_format == "csv":
                columnar = None
                if taken:
                    columnar = fast.FastCSV(
                        writer, source.lines, jobs=options.jobs,  # type: ignore[arg-type]
                        advance=ticker.advance if ticker else None, start=number,
                    )  # fmt: skip
                write_csv(writer, first, number, columnar)
            else:
                write_jsonl(writer, first, number)
    finally:
        if ticker is not None:
            ticker.close()
    if records.notes:
        warnings.append(
            f"{records.notes:,} line{'s' if records.notes != 1 else ''} not in the file's "
            f"encoding ({source.encoding}): their bytes were kept, wbc_warnings says how they "
            "were read"
        )
    counts = writer.counts
    return BatchSummary(
        *base,
        value_column=columns.names.get("value"),
        unit_column=columns.names.get("unit"),
        age_column=columns.names.get("age"),
        sex_column=columns.names.get("sex"),
        ethnicity_column=columns.names.get("ethnicity"),
        ref_low_column=columns.names.get("ref_low"),
        ref_high_column=columns.names.get("ref_high"),
        ref_range_column=columns.names.get("ref_range"),
        rows_read=sum(counts) + writer.skipped,
        low=counts[0],
        normal=counts[1],
        high=counts[2],
        indeterminate=counts[3],
        errors=counts[4],
        skipped=writer.skipped,
        default_unit=default_unit,
        warnings=tuple(warnings),
        output_encoding=out_codec,
    )


class _Progress:
    """A one-line progress report on stderr: rows, rows/s and, for a file, an ETA."""

    every = 1 << 14

    def __init__(self, source: CSVSource, stream: TextIO | None = None) -> None:
        self.source = source
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.shown = False
        self.rows = 0  # rows counted by advance (the fast path's blocks)
        self.last = self.started

    def wrap(self, rows: Iterable[bytes]) -> Iterator[bytes]:
        every = self.every
        for n, row in enumerate(rows, start=self.rows + 1):
            if n % every == 0:
                now = time.monotonic()
                if now - self.last >= 0.2:
                    self.last = now
                    self.show(n, now)
            yield row

    def advance(self, rows: int) -> None:
        """Count rows written by a block of the fast path, and show them."""
        self.rows += rows
        now = time.monotonic()
        if now - self.last >= 0.2:
            self.last = now
            self.show(self.rows, now)

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


def configure_parser(parser: argparse.ArgumentParser, *, writes_csv: bool = True) -> None:
    """Add the ``batch`` arguments to an argument parser (``cbc-ranges batch --help``).

    ``writes_csv=False`` leaves out what only a CSV output takes (``-o``,
    ``--format``, ``--output-encoding``, ``--text``): ``cbc-ranges report`` reads
    its input with these arguments and adds its own ``-o``.
    """
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="CSV file to check (also gzip/bzip2/xz-compressed, or a spreadsheet), or - for stdin",
    )
    if writes_csv:
        parser.add_argument(
            "-o",
            "--output",
            metavar="OUTPUT",
            help="where to write (- for stdout); default: <input stem>.wbc.csv next to the input",
        )
    helps = {
        "ref_low": "the column of the lab's own lower reference limit (in the value's unit)",
        "ref_high": "the column of the lab's own upper reference limit (in the value's unit)",
        "ref_range": "the column of the lab's own reference range as text (3.5-10.5, <10.5)",
    }
    for role in (*ROLES, *RANGE_ROLES):
        parser.add_argument(
            OPTIONS[role],
            dest=f"{role}_col",
            metavar="C",
            help=f"{helps.get(role, f'the {role} column')}: header name or 1-based number "
            "('' for none)",
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
    if writes_csv:
        parser.add_argument(
            "--format", choices=("csv", "jsonl"), default="csv", help="output format"
        )
    parser.add_argument(
        "--encoding", metavar="E", help="input encoding (default: UTF-8, else cp1252)"
    )
    if writes_csv:
        parser.add_argument(
            "--output-encoding",
            metavar="E",
            help="encoding of the CSV output (default: the input's; e.g. utf-8 converts)",
        )
    parser.add_argument(
        "--delimiter", metavar="D", help="input delimiter (default: sniffed among , ; tab |)"
    )
    parser.add_argument(
        "--sheet",
        metavar="NAME",
        help="the sheet of a spreadsheet input (.xlsx, .xls, .ods) to read: its name or "
        "1-based number (default: the first)",
    )
    if writes_csv:
        parser.add_argument(
            "--text",
            action="store_true",
            help="add wbc_summary and wbc_text: the plain-language explanation of each count",
        )
    parser.add_argument(
        "--jobs",
        metavar="N",
        type=int,
        help="blocks the columnar fast path reads ahead, one thread each "
        "(default: this machine's cores, at most 4)",
    )
    parser.add_argument(
        "--careful",
        action="store_true",
        help="read every row through the careful path, never the columnar fast path "
        "(the output is the same)",
    )
    parser.add_argument(
        "--analyte-col",
        metavar="C",
        help="whole panels in a long file: the column naming each row's test (item id or label)",
    )
    parser.add_argument(
        "--analyte-map",
        metavar="MAP",
        help="which test is which analyte: a preset (mimic-iv, mimic-iii, labels; default all), "
        "a file, or KEY=ANALYTE,... (51256=neutrophils%%)",
    )
    parser.add_argument(
        "--panel-cols",
        metavar="C,...",
        help="the columns that identify one blood draw (default: specimen_id, else "
        "subject_id,hadm_id,charttime)",
    )
    parser.add_argument(
        "--birth-date-col",
        metavar="C",
        help="the birth date column (YYYY-MM-DD): with --date-col, each row's exact age",
    )
    parser.add_argument(
        "--date-col",
        metavar="C",
        help="the column of the test's date (YYYY-MM-DD, a time after it is ignored)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no summary on stderr"
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``cbc-ranges batch`` from parsed arguments; returns the exit code (0 when done).

    Bad input is a :class:`~cbc_ranges.errors.BatchError` (one line, exit 2 in
    the CLI); any other failure is turned into one too, so that the command
    never prints a traceback. A closed pipe (``| head``) passes through.
    """
    jobs = getattr(args, "jobs", None)
    if jobs is not None and jobs > 0 and "polars" not in sys.modules:
        # polars sizes its thread pool when imported (the fast path imports it)
        os.environ.setdefault("POLARS_MAX_THREADS", str(jobs))
    delimiter = args.delimiter
    if delimiter in ("\\t", "tab", "TAB"):
        delimiter = "\t"
    try:
        summary = check_csv(
            args.input,
            args.output,
            value_col=args.value_col,
            unit_col=args.unit_col,
            age_col=args.age_col,
            sex_col=args.sex_col,
            ethnicity_col=args.ethnicity_col,
            ref_low_col=getattr(args, "ref_low_col", None),
            ref_high_col=getattr(args, "ref_high_col", None),
            ref_range_col=getattr(args, "ref_range_col", None),
            default_unit=args.default_unit,
            where=args.where,
            table=args.table,
            format=args.format,
            encoding=args.encoding,
            delimiter=delimiter,
            output_encoding=getattr(args, "output_encoding", None),
            sheet=getattr(args, "sheet", None),
            text=getattr(args, "text", False),
            jobs=jobs,
            careful=getattr(args, "careful", False),
            progress=not args.quiet and sys.stderr.isatty(),
            analyte_col=getattr(args, "analyte_col", None),
            analyte_map=getattr(args, "analyte_map", None),
            panel_cols=getattr(args, "panel_cols", None),
            birth_date_col=getattr(args, "birth_date_col", None),
            date_col=getattr(args, "date_col", None),
        )
    except (CBCError, BrokenPipeError, KeyboardInterrupt):
        raise
    except OSError as error:
        raise BatchError(f"{error.strerror or error}", raw=args.input) from None
    except Exception as error:  # a bug must still end in one line, not a traceback
        raise BatchError(
            f"internal error ({type(error).__name__}: {error}); please report it", raw=args.input
        ) from None
    if not args.quiet:
        print(summary.text(), file=sys.stderr)
    return 0
