"""The teaching report: one HTML page that explains a whole file of WBC counts.

``cbc-ranges report lab.csv`` and :func:`report` read a file (or a pandas or
polars DataFrame) exactly as ``cbc-ranges batch`` does, in one pass, and make a
self-contained HTML page: for each analyte the headline counts, the spread of
values with the reference bands, values against age, flags by sex, age group
and ancestry group, grades, unit spellings, the rows that could not be read,
the sources cited and how the report was made. The plots need matplotlib
(``pip install 'cbc-ranges[report]'``); without it the page has every table
and says so. Read more in ``docs/report.md``.

The package is ``reporting`` rather than ``report`` so that importing it can
never hide the function :func:`cbc_ranges.report`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cbc_ranges.errors import BatchError
from cbc_ranges.reporting.tally import SAMPLE_SIZE, SEED, AnalyteTally, ErrorRow, Tally

if TYPE_CHECKING:
    from cbc_ranges.batch import BatchSummary

__all__ = ["Report", "default_output", "report"]

# check_csv's options that write a CSV: the report takes none of them
_OUTPUT_OPTIONS = frozenset({"output", "format", "output_encoding", "text", "progress", "observer"})


@dataclass(frozen=True)
class Report:
    """A finished teaching report: its HTML and the counts behind it.

    ``html`` is the whole page; :meth:`save` writes it, and a notebook shows
    it through :meth:`_repr_html_`. ``summary`` is the
    :class:`~cbc_ranges.batch.BatchSummary` of the same run (its counts are
    the report's), ``tallies`` the counts by analyte.
    """

    html: str
    fragment: str
    summary: BatchSummary
    tallies: Mapping[str, AnalyteTally]
    error_rows: tuple[ErrorRow, ...]
    input_path: str | None = None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (through a temporary file; never over the input)."""
        from cbc_ranges.batch.files import atomic_output, check_output

        identity = None
        if self.input_path is not None:
            try:
                status = os.stat(self.input_path)
                identity = (status.st_dev, status.st_ino)
            except OSError:
                identity = None
        check_output(path, identity)
        with atomic_output(path) as stream:
            stream.write(self.html.encode("utf-8"))
        return Path(path)

    def _repr_html_(self) -> str:
        """The report inside a notebook (its style scoped to the report)."""
        return self.fragment


def default_output(source: str | os.PathLike[str]) -> str:
    """``<stem>.report.html`` next to the input (``lab.csv.gz``: ``lab.report.html``).

    >>> default_output("data/lab.csv.gz")
    'data/lab.report.html'
    """
    path = Path(source)
    if path.suffix.lower() in (".gz", ".bz2", ".xz"):
        path = path.with_suffix("")
    return str(path.with_name(f"{path.stem}.report.html"))


def report(
    source: str | os.PathLike[str] | IO[bytes] | Any,
    *,
    sample_size: int = SAMPLE_SIZE,
    **options: Any,
) -> Report:
    """The teaching report of a file, a binary stream or a pandas or polars DataFrame.

    ``options`` are those of :func:`~cbc_ranges.batch.check_csv` that say how to
    read the input (``value_col``, ``unit_col``, ``age_col``, ``sex_col``,
    ``ethnicity_col``, the lab range columns, ``default_unit``, ``where``,
    ``table``, ``encoding``, ``delimiter``, ``sheet``). A DataFrame is read as
    the CSV it writes, so its rows are numbered from 1 in the report. Raises
    :class:`~cbc_ranges.errors.BatchError` when the input cannot be read, as
    ``cbc-ranges batch`` does.

    >>> import io
    >>> page = report(io.BytesIO(b"age,sex,wbc\\n40,F,3.1 K/uL\\n50,M,abc\\n"))
    >>> page.summary.low, page.summary.errors, "not a diagnosis" in page.html
    (1, 1, True)
    """
    from cbc_ranges import __version__
    from cbc_ranges.batch import check_csv
    from cbc_ranges.ranges import get_table
    from cbc_ranges.reporting import plots
    from cbc_ranges.reporting.page import Provenance, render_page

    refused = sorted(_OUTPUT_OPTIONS & set(options))
    if refused:
        raise TypeError(f"report() takes no option {', '.join(map(repr, refused))}")
    row_word = "line"
    input_path: str | None = None
    frame = _frame_csv(source)
    if frame is not None:
        data, input_name = frame
        checksum = f"SHA-256 {hashlib.sha256(data).hexdigest()} (of the frame written as CSV)"
        readable: str | os.PathLike[str] | IO[bytes] = io.BytesIO(data)
        row_word = "row"
    elif isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-":
        input_path = os.fspath(source)
        input_name = Path(input_path).name
        checksum = _file_checksum(input_path)
        readable = source
    elif isinstance(source, (str, os.PathLike)):
        input_name, checksum, readable = "standard input", "not computed (standard input)", "-"
    else:
        name = getattr(source, "name", None)
        input_name = Path(name).name if isinstance(name, str) else "a stream"
        checksum, readable = "not computed (a stream)", source
    tally = Tally(sample_size=sample_size, seed=SEED)
    with open(os.devnull, "wb") as sink:
        summary = check_csv(readable, sink, observer=tally, **options)
    tallies = tally.finish()
    _check_counts(tallies, summary, tally.unassigned)
    table = get_table(options.get("table"))
    provenance = Provenance(
        version=__version__,
        input_name=input_name,
        checksum=checksum,
        table=table,
        options={key: value for key, value in options.items() if key != "table"}
        | {"table": table.name},
        made=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        plots=plots.available(),
        sample_size=sample_size,
    )
    # the ids of the page's plots: from what the page shows, so that two reports shown in one
    # notebook (two streams, say) never share an id, and the same input gives the same ids
    shown = [(t.flags, [(r.value, r.age_years) for r in t.sample[:200]]) for t in tallies.values()]
    seed = repr((input_name, checksum, summary.rows_read, shown))
    prefix = "r" + hashlib.sha256(seed.encode()).hexdigest()[:10]
    error_rows = tuple(tally.error_rows)
    if row_word == "row":  # a frame: line 2 of its CSV is its first row
        error_rows = tuple(ErrorRow(row.line - 1, row.cells, row.message) for row in error_rows)
    document, fragment = render_page(
        tallies,
        summary,
        error_rows,
        tally.errors,
        provenance,
        prefix=prefix,
        row_word=row_word,
        unassigned=tally.unassigned,
    )
    return Report(document, fragment, summary, tallies, error_rows, input_path)


def _check_counts(
    tallies: Mapping[str, AnalyteTally], summary: BatchSummary, unassigned: int = 0
) -> None:
    """The report's counts are the batch's, or there is no report (never a wrong page).

    The rows the summary counts are those of the analytes it counts (a wide file's
    differential is not), and ``unassigned`` records whose test could not be read.
    """
    counted_tallies = [tally for tally in tallies.values() if tally.in_summary]
    flags = [sum(tally.flags[index] for tally in counted_tallies) for index in range(5)]
    flags[4] += unassigned
    counted = [summary.low, summary.normal, summary.high, summary.indeterminate, summary.errors]
    if flags != counted:
        raise BatchError(
            f"the report counted {sum(flags):,} rows where the batch run checked "
            f"{sum(counted):,}: this way of reading the file is not in the report yet",
            raw=summary.input,
        )


def _file_checksum(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as error:
        raise BatchError(f"cannot read {path}: {error.strerror or error}", raw=path) from None
    return f"SHA-256 {digest.hexdigest()}"


def _frame_csv(source: object) -> tuple[bytes, str] | None:
    """A pandas or polars DataFrame as CSV bytes and a name; None for anything else."""
    module = type(source).__module__.split(".")[0]
    if module == "pandas" and type(source).__name__ == "DataFrame":
        text = source.to_csv(index=False)  # type: ignore[attr-defined]
        rows, columns = source.shape  # type: ignore[attr-defined]
        return text.encode("utf-8"), f"a pandas DataFrame ({rows:,} rows, {columns} columns)"
    if module == "polars" and type(source).__name__ == "DataFrame":
        text = source.write_csv()  # type: ignore[attr-defined]
        rows, columns = source.shape  # type: ignore[attr-defined]
        return text.encode("utf-8"), f"a polars DataFrame ({rows:,} rows, {columns} columns)"
    return None
