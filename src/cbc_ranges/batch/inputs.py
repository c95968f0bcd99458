"""What an input file is before it is a CSV: compressed, a spreadsheet, or not a table at all.

The batch reads CSV text. Real lab files also come gzip-, bzip2- or
xz-compressed, as Excel or OpenDocument workbooks, and now and then as a PDF
report someone saved with a ``.csv`` name. The first bytes decide (never the
file name):

* **compressed** (gzip ``1f 8b``, bzip2 ``BZh``, xz ``fd 37 7a 58 5a 00``): the
  stream is decompressed as it is read, never whole into memory, and what comes
  out is looked at again (a ``.csv.gz`` is a CSV; a ``.tar.gz`` is refused);
* **spreadsheets** (``.xlsx``: a zip holding ``xl/``; ``.ods``: a zip whose
  ``mimetype`` is the OpenDocument spreadsheet; ``.xls``: an OLE2 file
  ``d0 cf 11 e0``) are read with ``python-calamine`` (the ``excel`` extra): each
  row of one sheet becomes a UTF-8 CSV record, its cells as text
  (:func:`cell_text`), and the batch reads that CSV;
* **anything else binary** (PDF, images, archives, databases, NUL-heavy data)
  is one :class:`~cbc_ranges.errors.BatchError` naming what it looks like.

Read more in ``docs/batch.md`` ("Compressed files and spreadsheets").
"""

from __future__ import annotations

import bz2
import csv
import datetime
import gzip
import io
import lzma
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import IO, Any

from cbc_ranges.batch.files import InputFile, Prefixed, read_head
from cbc_ranges.errors import BatchError

__all__ = ["COMPRESSIONS", "cell_text", "open_table", "recognise"]

#: magic bytes of the compressions read as a stream, and their names
COMPRESSIONS: dict[str, bytes] = {
    "gzip": b"\x1f\x8b",
    "bzip2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
}

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS = b"application/vnd.oasis.opendocument.spreadsheet"

# formats a lab file is sometimes by mistake, by their first bytes
_NOT_TABLES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF file"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (extract the CSV first)"),
    (b"Rar!\x1a\x07", "a RAR archive (extract the CSV first)"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file (decompress it first: zstd -d)"),
    (b"PAR1\x15", "a Parquet file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"{\\rtf", "an RTF document"),
    (b"\x7fELF", "a program (ELF executable)"),
)
# magic bytes a text header could start with too ("MZB,wbc"): only with NUL bytes after them
_BINARY_ONLY: tuple[tuple[bytes, str], ...] = ((b"MZ", "a Windows program"),)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")

# a spreadsheet is copied here (it must be seekable), and so is the CSV made from it
_SPOOL_BYTES = 1 << 24
# how many compression layers are undone (a .csv.gz.gz is two)
_MAX_LAYERS = 3
# the share of NUL bytes that makes a head look like UTF-16/32 text in one byte order
_NUL_SHARE = 0.7


def recognise(head: bytes) -> str | None:
    """What the first bytes of a file say it is: a compression, a spreadsheet kind, or None.

    ``"zip"`` and ``"ole2"`` are containers whose content decides (a workbook or
    not); a format that is no table is a description such as ``"a PDF file"``.

    >>> recognise(b"\\x1f\\x8b\\x08"), recognise(b"%PDF-1.7"), recognise(b"wbc\\n4.2\\n")
    ('gzip', 'a PDF file', None)
    """
    for name, magic in COMPRESSIONS.items():
        if head.startswith(magic):
            return name
    if head.startswith(_ZIP):
        return "zip"
    if head.startswith(_OLE2):
        return "ole2"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "a tar archive (extract the CSV first)"
    for magic, what in _NOT_TABLES:
        if head.startswith(magic):
            return what
    for magic, what in _BINARY_ONLY:
        if head.startswith(magic) and b"\x00" in head[:1024]:
            return what
    return None


def _nul_verdict(head: bytes) -> str | None:
    """None for text; the encoding to declare for UTF-16/32 without a mark; else "binary"."""
    if b"\x00" not in head or head.startswith(_BOMS):
        return None
    sample = head[:4096]
    for width, names in ((4, ("utf-32-le", "utf-32-be")), (2, ("utf-16-le", "utf-16-be"))):
        shares = []
        for residue in range(width):
            part = sample[residue::width]
            shares.append(part.count(0) / len(part) if part else 0.0)
        # ASCII text in UTF-16-LE: every even byte a character, every odd byte NUL
        low = [i for i, share in enumerate(shares) if share < 1 - _NUL_SHARE]
        if len(low) == 1 and all(s >= _NUL_SHARE for i, s in enumerate(shares) if i != low[0]):
            if low[0] == 0:
                return names[0]
            if low[0] == width - 1:
                return names[1]
    return "binary"


def not_a_csv(name: str, what: str) -> BatchError:
    """The one error for an input in a format the batch does not read."""
    return BatchError(f"{name}: this looks like {what}, not a CSV", raw=name)


class _Decompressed(io.RawIOBase):
    """A compressed stream read as its decompressed bytes; damage is a BatchError."""

    def __init__(self, kind: str, compressed: IO[bytes], name: str) -> None:
        self._kind = kind
        self._name = name
        self._file: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile
        if kind == "gzip":
            self._file = gzip.GzipFile(fileobj=compressed, mode="rb")
        elif kind == "bzip2":
            self._file = bz2.BZ2File(compressed, "rb")
        else:
            self._file = lzma.LZMAFile(compressed, "rb")  # noqa: SIM115 - closed with the input

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        try:
            return self._file.readinto(buffer)
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as error:
            raise BatchError(
                f"{self._name} is a damaged {self._kind} file: {error}", raw=self._name
            ) from None


def _consumed(raw: Prefixed) -> Callable[[], int]:
    """How many bytes of the file were read (the compressed ones), for the progress line."""
    return lambda: raw.consumed


def cell_text(value: object) -> str:
    """A spreadsheet cell as text: what the cell holds, the way a person would type it.

    Numbers without float noise (15 significant digits, as Excel shows them;
    whole numbers without ``.0``), dates and times in ISO 8601 (a date-time at
    midnight is a date), ``TRUE``/``FALSE``, empty cells empty.

    >>> [cell_text(v) for v in (40.0, 0.1 + 0.2, 4500, True, None, "K/uL")]
    ['40', '0.3', '4500', 'TRUE', '', 'K/uL']
    >>> cell_text(datetime.datetime(2024, 1, 5)), cell_text(datetime.datetime(2024, 1, 5, 8, 30))
    ('2024-01-05', '2024-01-05T08:30:00')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        seconds = int(value.total_seconds())
        sign = "-" if seconds < 0 else ""
        hours, rest = divmod(abs(seconds), 3600)
        return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return str(value)


def _spool(head: bytes, stream: IO[bytes], stack: ExitStack) -> IO[bytes]:
    """The whole input in a seekable temporary file (in memory up to 16 MiB)."""
    spool: IO[bytes] = stack.enter_context(
        tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    )
    spool.write(head)
    while chunk := stream.read(1 << 20):
        spool.write(chunk)
    spool.seek(0)
    return spool


def _zip_kind(data: IO[bytes], name: str) -> str:
    """``"xlsx"`` or ``"ods"`` for a workbook; anything else zipped is refused."""
    try:
        with zipfile.ZipFile(data) as archive:
            names = archive.namelist()
            mimetype = archive.read("mimetype").strip() if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise BatchError(f"{name} is a damaged zip file: {error}", raw=name) from None
    finally:
        data.seek(0)
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if mimetype == _ODS:
        return "ods"
    if any(n.startswith("word/") for n in names):
        raise not_a_csv(name, "a Word document")
    if any(n.startswith("ppt/") for n in names):
        raise not_a_csv(name, "a PowerPoint presentation")
    if mimetype.startswith(b"application/vnd.oasis.opendocument."):
        raise not_a_csv(name, f"an OpenDocument file ({mimetype.decode('ascii', 'replace')})")
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    raise not_a_csv(
        name, f"a zip archive ({len(names)} file{'s' * (len(names) != 1)}: {shown}; unzip it first)"
    )


_KIND_NAMES = {"xlsx": "an Excel workbook", "xls": "an Excel 97-2003 workbook",
               "ods": "an OpenDocument spreadsheet"}  # fmt: skip


def _workbook(kind: str, data: IO[bytes], name: str) -> Any:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        raise BatchError(
            f"{name} is {_KIND_NAMES[kind]}: reading spreadsheets needs the excel extra "
            "(pip install 'cbc-ranges[excel]'), or save the sheet as CSV",
            raw=name,
        ) from None
    try:
        return CalamineWorkbook.from_filelike(data)
    except Exception as error:  # calamine raises its own error types
        if kind == "xls":
            raise not_a_csv(name, "an Office 97-2003 file that is not an Excel workbook") from None
        raise BatchError(f"{name} is a damaged {kind} workbook: {error}", raw=name) from None


def _sheet_rows(workbook: Any, sheet: str | None, name: str) -> tuple[str, Iterator[list[Any]]]:
    names: list[str] = list(workbook.sheet_names)
    if not names:
        raise BatchError(f"{name}: the workbook has no sheets", raw=name)
    if sheet is None:
        chosen = names[0]
    elif sheet in names:
        chosen = sheet
    elif sheet.isdigit() and 1 <= int(sheet) <= len(names):
        chosen = names[int(sheet) - 1]  # a 1-based sheet number
    else:
        raise BatchError(
            f"--sheet {sheet!r}: no such sheet in {name}; it has "
            + ", ".join(repr(n) for n in names),
            raw=sheet,
            suggestions=[n for n in names if n.lower() == sheet.lower()],
        )
    return chosen, iter(workbook.get_sheet_by_name(chosen).iter_rows())


def _sheet_as_csv(rows: Iterator[list[Any]], stack: ExitStack) -> tuple[IO[bytes], int]:
    """The rows as UTF-8 CSV (``\\n`` line ends, quoted as :mod:`csv` does); and its size.

    Every row keeps the sheet's width; a row with no text at all is a blank line.
    """
    spool: IO[bytes] = stack.enter_context(
        tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    )
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\n")
    for row in rows:
        cells = [cell_text(value) for value in row]
        if any(cells):  # every row as wide as the sheet, so no row is ragged
            writer.writerow(cells)
        else:
            text.write("\n")  # an empty row stays a blank line
    text.flush()
    text.detach()
    size = spool.tell()
    spool.seek(0)
    return spool, size


@contextmanager
def open_table(
    opened: InputFile, *, sheet: str | None = None, declared: bool = False
) -> Iterator[InputFile]:
    """The CSV inside an opened input: decompressed, converted from a sheet, or as it is.

    Yields an :class:`InputFile` whose ``head`` holds the first bytes already read
    and whose ``notes`` say what was undone. ``declared`` (an ``--encoding``
    was given) turns off the guess that NUL bytes mean binary data.

    >>> import gzip
    >>> with open_table(InputFile("a.csv.gz", io.BytesIO(gzip.compress(b"wbc\\n4\\n")))) as t:
    ...     t.head, t.notes
    (b'wbc\\n4\\n', ('decompressed from gzip',))
    """
    with ExitStack() as stack:
        current = opened
        name = opened.name
        layers = 0
        while True:
            head = current.head if current.head is not None else read_head(current.binary)
            kind = recognise(head)
            if kind in COMPRESSIONS and layers < _MAX_LAYERS:
                layers += 1
                raw = Prefixed(head, current.binary, name)
                position = current.position or _consumed(raw)
                compressed = io.BufferedReader(raw, 1 << 16)
                stream = io.BufferedReader(_Decompressed(kind, compressed, name), 1 << 16)
                current = replace(
                    current,
                    binary=stream,
                    head=None,
                    position=position,
                    notes=(*current.notes, f"decompressed from {kind}"),
                )
                continue
            if kind in ("zip", "ole2"):
                data = _spool(head, current.binary, stack)
                workbook_kind = "xls" if kind == "ole2" else _zip_kind(data, name)
                workbook = _workbook(workbook_kind, data, name)
                chosen, rows = _sheet_rows(workbook, sheet, name)
                table, size = _sheet_as_csv(rows, stack)
                yield replace(
                    current,
                    binary=table,
                    head=None,
                    size=size,
                    position=None,
                    notes=(
                        *current.notes,
                        f"read from sheet {chosen!r} of {_KIND_NAMES[workbook_kind]} "
                        "(cells as text, written as UTF-8 CSV)",
                    ),
                )
                return
            inside = ", once decompressed" if layers else ""
            if kind is not None:
                raise not_a_csv(name, kind + inside)
            if not declared:
                verdict = _nul_verdict(head)
                if verdict == "binary":
                    offset = head.index(b"\x00")
                    raise not_a_csv(name, f"binary data (a NUL byte at offset {offset:,}){inside}")
                if verdict is not None:
                    raise BatchError(
                        f"{name} looks like {verdict.upper()} text without a byte-order mark: "
                        f"give --encoding {verdict}",
                        raw=name,
                    )
            if sheet is not None:
                raise BatchError(
                    f"--sheet applies to spreadsheets; {name} is a text file", raw=sheet
                )
            yield replace(current, head=head)
            return
