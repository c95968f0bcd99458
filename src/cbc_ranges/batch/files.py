"""CSV file mechanics for the batch: encodings, records as bytes, and safe output.

The batch never rewrites the text of an input row: it reads **bytes**, one
physical line at a time, decodes a copy to interpret it, and writes the original
bytes back with the result columns appended before the line's own terminator.

* the **encoding** is chosen from the first 64 KiB: a byte-order mark wins
  (UTF-8, UTF-16, UTF-32); otherwise UTF-8 when the non-ASCII lines of the sample
  are mostly valid UTF-8, else cp1252 (the Windows superset of Latin-1 that
  European spreadsheet exports use). Whatever the guess, a cell is *read* as
  UTF-8 where its bytes are valid UTF-8 and as cp1252 where they are not
  (:func:`legacy_fallback`), so the guess never turns valid UTF-8 into mojibake;
  a line that is not in the file's encoding keeps its bytes and gets a note.
  A declared encoding (``--encoding``) is used strictly;
* the **delimiter** is sniffed among ``,`` ``;`` tab and ``|``;
* a **record** is one physical line (split on ``\\n``), or several when a quoted
  field holds a line break; a quote left open at the end of the file is an
  error on the line that opened it and the lines after it are read again as
  records (:class:`Records`);
* the **output** goes to a temporary file next to the final one, renamed into
  place only when the run completes (:func:`atomic_output`); only a regular file
  is ever written, never the input, and SIGTERM or SIGHUP remove the temporary.

Nothing here knows what a WBC count is; see :mod:`cbc_ranges.batch`.
Read more in ``docs/batch.md``.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, NamedTuple

from cbc_ranges.errors import BatchError

__all__ = [
    "APPENDED",
    "DELIMITERS",
    "LEGACY_FALLBACK",
    "SAMPLE_BYTES",
    "CSVSource",
    "InputFile",
    "Prefixed",
    "Record",
    "Records",
    "atomic_output",
    "check_output",
    "detect_encoding",
    "excel_separator",
    "legacy_fallback",
    "open_csv_source",
    "open_input",
    "raised_field_size_limit",
    "read_head",
    "sniff_delimiter",
]

#: how many bytes of the head decide the encoding and the delimiter
SAMPLE_BYTES = 1 << 16

#: the delimiters the sniffer chooses among, in order of preference on a tie
DELIMITERS = (",", ";", "\t", "|")

#: name of the codec error handler that reads stray non-UTF-8 bytes as cp1252
LEGACY_FALLBACK = "cbc_ranges.legacy_fallback"

#: name of the codec error handler for appended text a legacy encoding cannot write
APPENDED = "cbc_ranges.appended"

# byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# a quoted record this large is kept on disk while it is read, not in memory
_SPOOL_BYTES = 1 << 24


def legacy_fallback(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode the offending bytes as cp1252 (Latin-1 where cp1252 has a hole).

    Registered as ``"cbc_ranges.legacy_fallback"``; a cell is read with
    ``cell.decode("utf-8", LEGACY_FALLBACK)``: UTF-8 where valid, cp1252 where not.

    >>> b"4.2 K/\\xb5L".decode("utf-8", errors=LEGACY_FALLBACK)
    '4.2 K/µL'
    """
    if not isinstance(error, UnicodeDecodeError):
        raise error
    chunk = bytes(error.object[error.start : error.end])
    try:
        text = chunk.decode("cp1252")
    except UnicodeDecodeError:
        text = chunk.decode("latin-1")  # every byte is a Latin-1 character
    return text, error.end


# what appended text writes for a character the output encoding lacks (never a bare digit:
# "10⁹" must not become "109")
_PLAIN = {
    **{sup: "^" + digit for sup, digit in zip("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789", strict=True)},
    "⁻": "^-",
    "≤": "<=",
    "≥": ">=",
    "μ": "u",
    "µ": "u",
    "×": "x",
    "–": "-",
    "—": "-",
    "…": "...",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
}


def appended_text(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler for appended text: a plain spelling, else ``?``.

    >>> "10⁹/L ≤ 4".encode("cp1252", errors=APPENDED)
    b'10^9/L <= 4'
    """
    if not isinstance(error, UnicodeEncodeError):
        raise error
    parts: list[str] = []
    run = False  # inside a run of superscripts: one caret for the run (10⁻⁹ -> 10^-9)
    for char in error.object[error.start : error.end]:
        plain = _PLAIN.get(char, "?")
        if plain.startswith("^"):
            plain = plain[1:] if run else plain
            run = True
        else:
            run = False
        parts.append(plain)
    return "".join(parts), error.end


codecs.register_error(LEGACY_FALLBACK, legacy_fallback)
codecs.register_error(APPENDED, appended_text)


def detect_encoding(sample: bytes, declared: str | None = None) -> tuple[str, str]:
    """Choose how to decode a file from the head of it: returns ``(codec, errors)``.

    ``errors`` is ``"strict"`` for a declared encoding or a byte-order mark,
    else :data:`LEGACY_FALLBACK`.

    >>> detect_encoding(b"wbc\\n4.2\\n")
    ('utf-8', 'cbc_ranges.legacy_fallback')
    >>> detect_encoding(b"\\xef\\xbb\\xbfwbc\\n")
    ('utf-8-sig', 'strict')
    >>> detect_encoding(b"unit\\nK/\\xb5L\\n")
    ('cp1252', 'cbc_ranges.legacy_fallback')
    >>> detect_encoding("K/µL\\n".encode() * 3 + b"K/\\xb5L\\n")  # mostly UTF-8
    ('utf-8', 'cbc_ranges.legacy_fallback')
    """
    if declared:
        try:
            name = codecs.lookup(declared).name
        except LookupError:
            raise BatchError(f"unknown encoding {declared!r}", raw=declared) from None
        if name == "utf-8" and sample.startswith(codecs.BOM_UTF8):
            name = "utf-8-sig"  # a declared UTF-8 must not leak the mark into the first header
        return name, "strict"
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name, "strict"
    if b"\x00" in sample:
        raise BatchError(
            "the file holds NUL bytes: it is not a text CSV, or it is UTF-16/UTF-32 "
            "without a byte-order mark (give --encoding)"
        )
    try:
        # final=False: a sample cut in the middle of a character is still UTF-8
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8", LEGACY_FALLBACK
    lines = sample.split(b"\n")
    if len(sample) >= SAMPLE_BYTES and len(lines) > 1:
        lines.pop()  # the last line of a cut sample may be cut inside a character
    valid = invalid = 0
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            invalid += 1
        else:
            valid += 1
    return ("utf-8" if valid >= invalid else "cp1252"), LEGACY_FALLBACK


def _records(text: str, delimiter: str, limit: int = 50) -> list[list[str]]:
    records: list[list[str]] = []
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            records.append(record)
            if len(records) > limit:
                break
    except csv.Error:
        pass
    return records


def sniff_delimiter(sample: str, *, complete: bool = False) -> str:
    """The delimiter of a CSV from its first lines: ``,``, ``;``, tab or ``|``.

    ``complete`` says the sample is the whole file (its last record is not cut).

    >>> sniff_delimiter("id;wbc;unit\\n1;4,2;G/L\\n")
    ';'
    >>> sniff_delimiter("wbc\\n4.2\\n")
    ','
    """
    best: tuple[bool, float, int, int] | None = None
    chosen = ","
    for rank, delimiter in enumerate(DELIMITERS):
        records = _records(sample, delimiter)
        if not records:
            continue
        if not complete and len(records) > 1:
            records = records[:-1]  # the last record of a cut sample may be cut too
        width = len(records[0])
        body = [r for r in records[1:] if r]
        same = sum(len(r) == width for r in body) / len(body) if body else 1.0
        score = (width > 1, round(same, 1), width, -rank)
        if best is None or score > best:
            best, chosen = score, delimiter
    return chosen


_SEPARATOR_LINE = re.compile(r"\ufeff?sep=(\\t|[^\r\n\"])\r?\n", re.IGNORECASE)


def excel_separator(sample: str) -> str | None:
    """The delimiter an Excel CSV names on its first line (``sep=;``), None without one.

    >>> excel_separator("sep=;\\nwbc;unit\\n"), excel_separator("sep=\\\\t\\n")
    (';', '\\t')
    >>> excel_separator("wbc\\n") is None
    True
    """
    match = _SEPARATOR_LINE.match(sample)
    if match is None:
        return None
    return "\t" if match[1] == "\\t" else match[1]


class Prefixed(io.RawIOBase):
    """A binary stream that first replays the bytes already read for sniffing.

    It can seek (to an absolute position) when the stream after the head can: a
    second pass over a file (whole panels) reads it again rather than a copy.
    """

    def __init__(self, head: bytes, rest: IO[bytes], name: str) -> None:
        self._whole = memoryview(head)
        self._head = self._whole
        self._rest = rest
        self._readinto: Callable[[memoryview | bytearray], int | None] | None = getattr(
            rest, "readinto", None
        )
        self._name = name
        self.consumed = 0
        try:
            self._start: int | None = rest.tell() if rest.seekable() else None
        except (AttributeError, OSError, ValueError):
            self._start = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._start is not None

    def tell(self) -> int:
        return self.consumed

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self._start is None or whence != io.SEEK_SET or offset < 0:
            raise io.UnsupportedOperation("seek")
        head = len(self._whole)
        self._head = self._whole[min(offset, head) :]
        self._rest.seek(self._start + max(0, offset - head))
        self.consumed = offset
        return offset

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
        else:
            try:
                n = self._fill(buffer)
            except OSError as error:
                raise BatchError(
                    f"cannot read {self._name}: {error.strerror or error}", raw=self._name
                ) from None
        self.consumed += n
        return n

    def _fill(self, buffer: memoryview | bytearray) -> int:
        """Bytes of the stream after the head, straight into ``buffer`` where the stream can
        (no copy of a large block), else read and copied."""
        readinto = self._readinto
        if readinto is not None:
            try:
                return int(readinto(buffer) or 0)
            except (NotImplementedError, io.UnsupportedOperation):
                self._readinto = None
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_head(stream: IO[bytes]) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < SAMPLE_BYTES:
        chunk = stream.read(SAMPLE_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


@dataclass
class InputFile:
    """An opened input: its binary stream, size and identity (device, inode) when a file.

    ``head`` holds the first bytes when they were already read from ``binary``
    (they come first); ``position`` says how many bytes of the file were read
    (the compressed bytes of a compressed file), for the progress line;
    ``notes`` what was done to the file to reach its CSV (decompressed...).
    """

    name: str
    binary: IO[bytes]
    size: int | None = None
    identity: tuple[int, int] | None = None
    head: bytes | None = None
    position: Callable[[], int] | None = None
    notes: tuple[str, ...] = ()


def _identity(stream: object) -> tuple[int, int] | None:
    """(st_dev, st_ino) of a stream that is a regular file; None otherwise."""
    try:
        status = os.fstat(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return (status.st_dev, status.st_ino) if stat.S_ISREG(status.st_mode) else None


@contextmanager
def open_input(source: str | os.PathLike[str] | IO[bytes]) -> Iterator[InputFile]:
    """Open a CSV path, ``"-"`` (stdin) or a binary file object; nothing is read yet.

    >>> with open_input(io.BytesIO(b"wbc\\n")) as opened:
    ...     opened.name, opened.identity
    ('<stream>', None)
    """
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) == "-":
        yield InputFile("<stdin>", sys.stdin.buffer, None, _identity(sys.stdin.buffer))
        return
    if not isinstance(source, (str, os.PathLike)):
        name = getattr(source, "name", "<stream>")
        yield InputFile(name if isinstance(name, str) else "<stream>", source, None, None)
        return
    name = os.fspath(source)
    try:
        owned = open(name, "rb")  # noqa: SIM115 - closed in the finally below
    except FileNotFoundError:
        raise BatchError(f"no such file: {name}", raw=name) from None
    except IsADirectoryError:
        raise BatchError(f"is a directory, not a CSV file: {name}", raw=name) from None
    except OSError as error:
        raise BatchError(f"cannot open {name}: {error.strerror}", raw=name) from None
    try:
        status = os.fstat(owned.fileno())
        if stat.S_ISDIR(status.st_mode):
            raise BatchError(f"is a directory, not a CSV file: {name}", raw=name)
        regular = stat.S_ISREG(status.st_mode)
        yield InputFile(
            name,
            owned,
            status.st_size if regular else None,
            (status.st_dev, status.st_ino) if regular else None,
        )
    finally:
        owned.close()


@dataclass
class CSVSource:
    """An opened CSV input: its physical lines as bytes and what was detected about it.

    ``lines`` yields each physical line with its terminator, as bytes in
    ``line_codec`` (the file's own bytes, except for UTF-16/32 files, whose
    lines are re-encoded as UTF-8 and encoded back on output).
    ``separator_line`` says the first line is Excel's ``sep=;`` (kept, not a header). ``decode``
    reads a cell or a line for interpretation; ``plain`` says whether a
    non-ASCII line is what the file's encoding says it is (no note needed).
    """

    name: str
    lines: Iterator[bytes]
    encoding: str
    declared: bool
    line_codec: str
    delimiter: str
    lineterminator: bytes
    size: int | None
    position: Callable[[], int]
    bom: bytes = b""
    separator_line: bool = False
    decode: Callable[[bytes], str] = field(default=lambda raw: raw.decode("utf-8"))
    plain: Callable[[bytes], bool] = field(default=lambda raw: True)

    @property
    def had_bom(self) -> bool:
        """Whether the file started with a byte-order mark."""
        return bool(self.bom)

    @property
    def wide(self) -> bool:
        """Whether the file is UTF-16 or UTF-32 (its lines are carried as UTF-8)."""
        return self.line_codec != self.encoding and self.encoding not in ("utf-8-sig",)

    def note(self, raw: bytes, number: int) -> str | None:
        """What a record's bytes need said about their encoding, None when nothing.

        Raises :class:`~cbc_ranges.errors.BatchError` for a declared encoding they do not fit.
        """
        if raw.isascii():
            return None
        if self.declared or self.wide:
            try:
                raw.decode(self.line_codec)
            except UnicodeDecodeError as error:
                raise BatchError(
                    f"{self.name} cannot be read as {self.encoding} on line {number:,}: "
                    f"byte {raw[error.start]:#04x} (try another --encoding)",
                    raw=self.name,
                ) from None
            return None
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as error:
            byte = raw[error.start]
        else:
            if self.encoding == "cp1252":
                return (
                    f"line {number:,} is UTF-8 in a file read as cp1252: its cells were read "
                    "as UTF-8, its bytes are kept"
                )
            return None
        if self.encoding != "cp1252":
            return (
                f"line {number:,} is not valid UTF-8 (byte {byte:#04x}): its cells were read "
                "as cp1252, its bytes are kept"
            )
        try:
            raw.decode("cp1252")
        except UnicodeDecodeError as error:
            return (
                f"line {number:,} holds byte {raw[error.start]:#04x}, which cp1252 leaves "
                "undefined: read as Latin-1, its bytes are kept"
            )
        return None


def _plain_check(encoding: str, declared: bool, wide: bool, codec: str) -> Callable[[bytes], bool]:
    if declared or wide:

        def plain(raw: bytes) -> bool:
            try:
                raw.decode(codec)
            except UnicodeDecodeError:
                return False
            return True

        return plain
    if encoding == "cp1252":

        def plain_legacy(raw: bytes) -> bool:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                return False  # UTF-8 in a cp1252 file: worth a note
            try:
                raw.decode("cp1252")
            except UnicodeDecodeError:
                return False
            return True

        return plain_legacy

    def plain_utf8(raw: bytes) -> bool:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    return plain_utf8


_SINGLE_BYTE = {"latin-1", "iso8859-1", "ascii", "utf-8", "utf-8-sig"}


def _byte_safe(codec: str) -> bool:
    """Whether lines of this codec can be split on ASCII bytes (UTF-8 or one byte a character)."""
    if codec in _SINGLE_BYTE:
        return True
    try:
        module = __import__(f"encodings.{codec.replace('-', '_')}", fromlist=["x"])
    except ImportError:
        return False
    return hasattr(module, "decoding_table")  # a charmap codec: one byte, one character


def _wide_lines(binary: IO[bytes], codec: str, name: str) -> Iterator[bytes]:
    """The lines of a UTF-16/32 (or other multi-byte) file as UTF-8 bytes."""
    text = io.TextIOWrapper(binary, encoding=codec, errors="strict", newline="\n")
    try:
        for line in text:
            yield line.encode("utf-8", "surrogatepass")
    except UnicodeDecodeError as error:
        raise BatchError(
            f"{name} cannot be read as {codec}: {error.reason} (try another --encoding)", raw=name
        ) from None
    finally:
        text.detach()


def open_csv_source(
    opened: InputFile,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> CSVSource:
    """Sniff an opened input (encoding, delimiter, line ends) and stream its lines.

    >>> with open_input(io.BytesIO("a;b\\n1;K/\\xb5L\\n".encode("latin-1"))) as opened:
    ...     source = open_csv_source(opened)
    ...     source.encoding, source.delimiter, list(source.lines)
    ('cp1252', ';', [b'a;b\\n', b'1;K/\\xb5L\\n'])
    """
    name, binary = opened.name, opened.binary
    try:
        head = read_head(binary) if opened.head is None else opened.head
    except OSError as error:
        raise BatchError(f"cannot read {name}: {error.strerror}", raw=name) from None
    codec, errors = detect_encoding(head, encoding)
    declared = bool(encoding)
    bom = b""
    for mark, _ in _BOMS:
        if head.startswith(mark) and codec in ("utf-8-sig", "utf-16", "utf-32"):
            bom = mark
            break
    line_codec = codec
    if codec in ("utf-16", "utf-32"):
        line_codec = codec + ("-le" if bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE) else "-be")
    prefixed = Prefixed(head[len(bom) :] if line_codec != codec else head, binary, name)
    wide = not _byte_safe(line_codec)
    sample_text = _decode_sample(head, codec, errors, name)
    lines: Iterator[bytes]
    if wide:
        lines = _wide_lines(io.BufferedReader(prefixed, 1 << 16), line_codec, name)
        carried = "utf-8"
    else:
        lines = iter(io.BufferedReader(prefixed, buffer_size=1 << 16))
        carried = "utf-8" if codec == "utf-8-sig" else codec
    complete = len(head) < SAMPLE_BYTES
    stated = excel_separator(sample_text)
    if stated is not None:  # Excel's "sep=;" line: it names the delimiter and is no header
        sample_text = sample_text[sample_text.index("\n") + 1 :]
    chosen = delimiter or stated or sniff_delimiter(sample_text, complete=complete)
    if len(chosen) != 1 or chosen in '\r\n"':
        raise BatchError(f"a delimiter is one character, not {chosen!r}", raw=chosen)
    newline_at = sample_text.find("\n")
    terminator = b"\r\n" if newline_at > 0 and sample_text[newline_at - 1] == "\r" else b"\n"
    if declared or wide:
        strict = carried

        def decode(raw: bytes) -> str:
            return raw.decode(strict, "replace")  # bad bytes were refused with their line

    else:

        def decode(raw: bytes) -> str:
            return raw.decode("utf-8", LEGACY_FALLBACK)

    return CSVSource(
        name=name,
        lines=lines,
        encoding=codec,
        declared=declared,
        line_codec=carried,
        delimiter=chosen,
        lineterminator=terminator,
        size=opened.size,
        position=opened.position or (lambda: prefixed.consumed),
        bom=bom,
        separator_line=stated is not None,
        decode=decode,
        plain=_plain_check(codec, declared, wide, carried),
    )


def _decode_sample(head: bytes, codec: str, errors: str, name: str) -> str:
    decoder = codecs.getincrementaldecoder(codec)(errors=errors)
    try:
        return decoder.decode(head, final=False)
    except UnicodeDecodeError as error:
        raise BatchError(
            f"{name} cannot be read as {codec}: byte {error.object[error.start]:#04x} "
            f"at offset {error.start} (try another --encoding)",
            raw=name,
        ) from None


class Record(NamedTuple):
    """One CSV record: its fields (decoded), its bytes and what it needs said.

    ``body`` is the record's bytes without its final line terminator ``end``;
    ``lines`` the physical lines it spans; ``unclosed`` is True for a line that
    opened a quote never closed (its fields are read from that line alone).
    """

    fields: list[str]
    body: bytes
    end: bytes
    lines: int
    note: str | None = None
    unclosed: bool = False


_START, _IN_FIELD, _QUOTED, _QUOTE_IN_QUOTED = range(4)


def _ends_quoted(line: bytes, quoted: bool, specials: re.Pattern[bytes], delimiter: int) -> bool:
    """Whether a quoted field is still open at the end of ``line`` (the rules of :mod:`csv`).

    A quote opens a field only at its start; inside, ``""`` is a quote and a
    lone ``"`` closes it; anything after the closing quote is kept as text.
    """
    state = _QUOTED if quoted else _START
    field_start = 0
    last = -2
    for match in specials.finditer(line):
        at = match.start()
        char = line[at]
        if state == _QUOTE_IN_QUOTED:
            if at == last + 1 and char == 34:
                state, last = _QUOTED, at  # "" inside a quoted field
                continue
            state = _IN_FIELD
        if state == _QUOTED:
            if char == 34:
                state = _QUOTE_IN_QUOTED
        elif char == delimiter or char in (10, 13):
            state, field_start = _START, at + 1
        elif state == _START and char == 34:
            state = _QUOTED if at == field_start else _IN_FIELD
        last = at
    return state == _QUOTED


class Records:
    """The records of a :class:`CSVSource`, read on demand by the writers.

    The hot loop of a writer reads plain lines itself; it hands a line here
    (:meth:`read`) when it holds a quote, is not plain in the file's encoding
    or ends oddly. A quoted field may pull further lines. When a quote is still
    open at the end of the file, the opening line comes back as an ``unclosed``
    record and the lines after it are read again (:attr:`resume`): one stray
    quote must not swallow the rest of a file. Lines pulled while a quote is
    open are kept in a spooled temporary file (memory stays flat).
    """

    def __init__(self, source: CSVSource) -> None:
        self.source = source
        self.lines: Iterator[bytes] = source.lines
        self.delimiter = source.delimiter
        self.extra = 0  # physical lines pulled beyond the one handed in
        self.notes = 0
        self.resume: Iterator[bytes] | None = None
        self.reopened_at = 0  # the line of the last quote never closed
        delimiter = source.delimiter.encode("ascii")
        self._delimiter = delimiter[0]
        self._specials = re.compile(b'["\r\n' + re.escape(delimiter) + b"]")
        # a line whose every field is plain or wholly quoted ("" inside): no quote left open.
        # Each part matches one way only, so the match is linear in the line
        field = b'(?:[^"\r\n' + re.escape(delimiter) + b']*|"(?:[^"]|"")*")'
        self._well_formed = re.compile(
            field + b"(?:" + re.escape(delimiter) + field + b")*(?:\r\n|\n|\r)?\\Z"
        )
        self._spools: list[IO[bytes]] = []

    def read(self, first: bytes, number: int) -> Record:
        """The record that starts with the physical line ``first`` (line ``number``)."""
        body = first.rstrip(b"\r\n")
        end = first[len(body) :]
        if (
            b'"' in first
            and self._well_formed.match(first) is None  # the usual quoted line: no scan
            and _ends_quoted(first, False, self._specials, self._delimiter)
        ):
            return self._quoted(first, number)
        note = self._note(first, number)
        text = self.source.decode(body)
        if not text:
            return Record([], body, end, 1, note)
        fields = self._fields(text) if '"' in text else text.split(self.delimiter)
        return Record(fields, body, end, 1, note)

    def next(self, number: int) -> Record | None:
        """The record at the next line (line ``number``), None at the end."""
        for line in self.lines:
            return self.read(line, number)
        if self.resume is not None:
            self.lines, self.resume = self.resume, None
            return self.next(number)
        return None

    def close(self) -> None:
        """Remove the temporary files of re-read lines."""
        for spool in self._spools:
            spool.close()
        self._spools.clear()

    def _note(self, raw: bytes, number: int) -> str | None:
        if raw.isascii():
            return None
        note = self.source.note(raw, number)
        if note is not None:
            self.notes += 1
        return note

    def _fields(self, text: str) -> list[str]:
        try:
            return next(csv.reader((text,), delimiter=self.delimiter), [])
        except csv.Error:  # a bare carriage return in an unquoted field
            return text.replace("\r", " ").split(self.delimiter)

    def _quoted(self, first: bytes, number: int) -> Record:
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
        for pulled, line in enumerate(self.lines, start=1):
            spool.write(line)
            if not _ends_quoted(line, True, self._specials, self._delimiter):
                spool.seek(0)
                raw = first + spool.read()
                spool.close()
                self.extra += pulled
                body = raw.rstrip(b"\r\n")
                note = self._note(raw, number)
                return Record(self._fields(self.source.decode(body)), body, raw[len(body) :],
                              pulled + 1, note)  # fmt: skip
        # the quote is never closed: the opening line is an error row, the rest is read again
        spool.seek(0)
        self._spools.append(spool)
        self.resume = iter(spool)
        self.reopened_at = number
        body = first.rstrip(b"\r\n")
        fields = self._fields(self.source.decode(body) + '"')
        return Record(fields, body, first[len(body) :], 1, self._note(first, number), True)


@contextmanager
def raised_field_size_limit(limit: int = 1 << 30) -> Iterator[None]:
    """Let :mod:`csv` read fields up to ``limit`` characters (its default is 128 KiB).

    >>> with raised_field_size_limit():
    ...     csv.field_size_limit() >= 1 << 30
    True
    """
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, limit))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def check_output(
    target: str | os.PathLike[str] | IO[bytes], input_identity: tuple[int, int] | None
) -> None:
    """Refuse an output that is not a regular file, or that is the input by any route.

    ``input_identity`` is the input's (st_dev, st_ino) (see :class:`InputFile`);
    standard output is compared with it too (``>> input.csv``).

    >>> check_output("-", None)
    """
    if not isinstance(target, (str, os.PathLike)):
        return
    path = os.fspath(target)
    if path == "-":
        if input_identity is not None and _identity(sys.stdout) == input_identity:
            raise BatchError(
                "standard output is the input file; the input is never overwritten", raw=path
            )
        return
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return  # a new file (its folder is checked when the temporary is made)
    except OSError as error:
        raise BatchError(f"cannot write {path}: {error.strerror}", raw=path) from None
    if stat.S_ISDIR(status.st_mode):
        raise BatchError(f"cannot write {path}: it is a directory", raw=path)
    if not stat.S_ISREG(status.st_mode):
        raise BatchError(
            f"cannot write {path}: not a regular file (a device, FIFO or socket); "
            "batch writes only regular files, or - for stdout",
            raw=path,
        )
    if input_identity is not None and (status.st_dev, status.st_ino) == input_identity:
        raise BatchError(
            f"the output {path} is the input file; the input is never overwritten "
            "(choose another -o)",
            raw=path,
        )


class _Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while a temporary output file was open."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated(signum)


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`_Terminated` for the block (main thread only).

    A signal that was ignored (``nohup``) stays ignored; the handlers in place
    before are restored after.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, object] = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None or signal.getsignal(number) == signal.SIG_IGN:
            continue
        previous[number] = signal.signal(number, _raise_terminated)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]


_STOP_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _block_stop_signals() -> set[int] | None:
    """Hold SIGTERM and SIGHUP back (main thread, POSIX); the mask before, to restore."""
    if not hasattr(signal, "pthread_sigmask") or (
        threading.current_thread() is not threading.main_thread()
    ):
        return None
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS))


def _restore_signal_mask(mask: set[int] | None) -> None:
    """Let held-back signals through again (a pending one is handled at once)."""
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _open_output(fd: int) -> BinaryIO:
    """The temporary output file as a buffered binary stream (a seam for disk-full tests)."""
    return open(fd, "wb", buffering=1 << 20)


def _write_error(where: str, error: OSError) -> BatchError:
    return BatchError(f"cannot write {where}: {error.strerror or error}", raw=where)


@contextmanager
def atomic_output(target: str | os.PathLike[str] | IO[bytes]) -> Iterator[BinaryIO]:
    """A binary stream whose content appears under ``target`` only if the block completes.

    A path is written through a temporary file in the same directory (that of
    the file a symlink points to), then renamed into place with
    :func:`os.replace`; on any error, interrupt, SIGTERM or SIGHUP the
    temporary file is removed and an existing file under ``target`` is left as
    it was. An OS error (disk full) is a :class:`~cbc_ranges.errors.BatchError`.
    ``"-"`` writes to stdout, a binary file object is written directly.

    >>> buffer = io.BytesIO()
    >>> with atomic_output(buffer) as stream:
    ...     _ = stream.write(b"K/uL\\n")
    >>> buffer.getvalue()
    b'K/uL\\n'
    """
    if not isinstance(target, (str, os.PathLike)) or os.fspath(target) == "-":
        where = "standard output" if isinstance(target, (str, os.PathLike)) else "the output"
        if isinstance(target, (str, os.PathLike)):
            sys.stdout.flush()
            binary: IO[bytes] | None = getattr(sys.stdout, "buffer", None)
        else:
            binary = target
        try:
            if binary is None:  # stdout replaced by a text stream (an embedding app, a test)
                capture = io.BytesIO()
                yield capture
                sys.stdout.write(capture.getvalue().decode("utf-8", "replace"))
            else:
                yield binary  # type: ignore[misc]
                binary.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise _write_error(where, error) from None
        return
    final = Path(os.path.realpath(target))
    shown = os.fspath(target)
    try:
        with _signals_raise():
            temporary: str | None = None
            # SIGTERM/SIGHUP wait while the temporary is made, so none can land between
            # its creation and the block that removes it
            blocked = _block_stop_signals()
            try:
                try:
                    fd, temporary = tempfile.mkstemp(
                        dir=final.parent, prefix=f".{final.name}.", suffix=".part"
                    )
                except OSError as error:
                    raise _write_error(f"to {final.parent}", error) from None
                finally:
                    _restore_signal_mask(blocked)
                with _open_output(fd) as stream:
                    yield stream
                mode = 0o644
                with suppress(OSError):
                    mode = os.stat(final).st_mode & 0o7777  # keep the mode of a file we replace
                os.chmod(temporary, mode)
                os.replace(temporary, final)
            except BaseException:
                if temporary is not None:
                    with suppress(OSError):
                        os.unlink(temporary)
                raise
    except _Terminated as stop:
        # the temporary is gone: now die of the signal as if it had never been caught
        signal.raise_signal(stop.signum)
        raise BatchError(f"stopped by signal {stop.signum}; nothing written", raw=shown) from None
    except OSError as error:
        raise _write_error(shown, error) from None
