"""CSV file mechanics for the batch face: encodings, delimiters and atomic output.

A lab CSV is opened as a stream of records, never read whole:

* the **encoding** is chosen from the first 64 KiB: a byte-order mark wins (UTF-8,
  UTF-16, UTF-32); otherwise UTF-8 when the sample decodes as UTF-8, else cp1252
  (the Windows superset of Latin-1 that European spreadsheet exports use), so a
  ``µ`` written as the single byte ``0xB5`` still reads as ``µ``. A declared
  encoding (``--encoding``) is used strictly as given. A byte that turns out not
  to be UTF-8 later in a UTF-8 file is read as cp1252 instead of stopping the
  run (see :func:`legacy_fallback`);
* the **delimiter** is sniffed among ``,`` ``;`` tab and ``|``: the one that
  splits the header into the most fields and the following records into the
  same number of fields;
* the **output** goes to a temporary file next to the final one and is renamed
  into place only when the run completes (:func:`atomic_output`).

Nothing here knows what a WBC count is; see :mod:`cbc_ranges.batch` for that.
Read more in ``docs/batch.md``.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, TextIO

from cbc_ranges.errors import BatchError

__all__ = [
    "DELIMITERS",
    "LEGACY_FALLBACK",
    "SAMPLE_BYTES",
    "CSVSource",
    "atomic_output",
    "detect_encoding",
    "legacy_fallback",
    "open_csv_source",
    "raised_field_size_limit",
    "sniff_delimiter",
]

#: how many bytes of the head decide the encoding and the delimiter
SAMPLE_BYTES = 1 << 16

#: the delimiters the sniffer chooses among, in order of preference on a tie
DELIMITERS = (",", ";", "\t", "|")

#: name of the codec error handler that reads stray non-UTF-8 bytes as cp1252
LEGACY_FALLBACK = "cbc_ranges.legacy_fallback"

# byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def legacy_fallback(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode the offending bytes as cp1252 (Latin-1 where cp1252 has a hole).

    Registered as ``"cbc_ranges.legacy_fallback"``; used for UTF-8 files with a
    few legacy bytes, and for cp1252 files with bytes cp1252 leaves undefined.

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


codecs.register_error(LEGACY_FALLBACK, legacy_fallback)


def detect_encoding(sample: bytes, declared: str | None = None) -> tuple[str, str]:
    """Choose how to decode a file from the head of it: returns ``(codec, errors)``.

    >>> detect_encoding(b"wbc\\n4.2\\n")
    ('utf-8', 'cbc_ranges.legacy_fallback')
    >>> detect_encoding(b"\\xef\\xbb\\xbfwbc\\n")
    ('utf-8-sig', 'strict')
    >>> detect_encoding(b"unit\\nK/\\xb5L\\n")
    ('cp1252', 'cbc_ranges.legacy_fallback')
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
        return "cp1252", LEGACY_FALLBACK
    return "utf-8", LEGACY_FALLBACK


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


@dataclass
class CSVSource:
    """An opened CSV input: its text stream and what was detected about it."""

    name: str
    text: TextIO
    encoding: str
    errors: str
    delimiter: str
    lineterminator: str
    size: int | None
    position: Callable[[], int]
    had_bom: bool
    empty: bool


class _Prefixed(io.RawIOBase):
    """A binary stream that first replays the bytes already read for sniffing."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
        else:
            data = self._rest.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.consumed += n
        return n


def _read_head(stream: IO[bytes]) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < SAMPLE_BYTES:
        chunk = stream.read(SAMPLE_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


@contextmanager
def open_csv_source(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Iterator[CSVSource]:
    """Open a CSV path, ``"-"`` (stdin) or a binary file object for streaming reads.

    Raises :class:`~cbc_ranges.errors.BatchError` when the file is missing,
    unreadable or not text.

    >>> with open_csv_source(io.BytesIO("a;b\\n1;K/\\xb5L\\n".encode("latin-1"))) as source:
    ...     source.encoding, source.delimiter, source.text.read()
    ('cp1252', ';', 'a;b\\n1;K/µL\\n')
    """
    owned: BinaryIO | None = None
    size: int | None = None
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) == "-":
        name = "<stdin>"
        binary: IO[bytes] = sys.stdin.buffer
    elif isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        try:
            owned = open(name, "rb")  # noqa: SIM115 - closed in the finally below
            size = os.fstat(owned.fileno()).st_size
        except FileNotFoundError:
            raise BatchError(f"no such file: {name}", raw=name) from None
        except IsADirectoryError:
            raise BatchError(f"is a directory, not a CSV file: {name}", raw=name) from None
        except OSError as error:
            raise BatchError(f"cannot open {name}: {error.strerror}", raw=name) from None
        binary = owned
    else:
        name = getattr(source, "name", "<stream>")
        name = name if isinstance(name, str) else "<stream>"
        binary = source
    try:
        try:
            head = _read_head(binary)
        except OSError as error:
            raise BatchError(f"cannot read {name}: {error.strerror}", raw=name) from None
        codec, errors = detect_encoding(head, encoding)
        prefixed = _Prefixed(head, binary)
        text = io.TextIOWrapper(
            io.BufferedReader(prefixed, buffer_size=1 << 16),
            encoding=codec,
            errors=errors,
            newline="",
        )
        sample_text = _decode_sample(head, codec, errors, name)
        complete = len(head) < SAMPLE_BYTES
        chosen = delimiter or sniff_delimiter(sample_text, complete=complete)
        if len(chosen) != 1:
            raise BatchError(f"a delimiter is one character, not {chosen!r}", raw=chosen)
        newline_at = sample_text.find("\n")
        terminator = "\r\n" if newline_at > 0 and sample_text[newline_at - 1] == "\r" else "\n"
        yield CSVSource(
            name=name,
            text=text,
            encoding=codec,
            errors=errors,
            delimiter=chosen,
            lineterminator=terminator,
            size=size,
            position=lambda: prefixed.consumed,
            had_bom=codec in ("utf-8-sig", "utf-16", "utf-32"),
            empty=not sample_text.strip(),
        )
    finally:
        if owned is not None:
            owned.close()


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


@contextmanager
def atomic_output(
    target: str | os.PathLike[str] | IO[bytes],
    *,
    encoding: str = "utf-8",
) -> Iterator[TextIO]:
    """A text stream whose content appears under ``target`` only if the block completes.

    A path is written through a temporary file in the same directory, then
    renamed into place with :func:`os.replace`; on any error or interrupt the
    temporary file is removed and an existing file under ``target`` is left as
    it was. ``"-"`` writes to stdout, a binary file object is written directly.

    >>> buffer = io.BytesIO()
    >>> with atomic_output(buffer) as stream:
    ...     _ = stream.write("K/µL\\n")
    >>> buffer.getvalue()
    b'K/\\xc2\\xb5L\\n'
    """
    if isinstance(target, (str, os.PathLike)) and os.fspath(target) == "-":
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:  # stdout replaced by a text stream (an embedding app, a test)
            yield sys.stdout
            sys.stdout.flush()
            return
        with _wrapped(buffer, encoding) as stream:
            yield stream
        return
    if not isinstance(target, (str, os.PathLike)):
        with _wrapped(target, encoding) as stream:
            yield stream
        return
    final = Path(target)
    directory = final.parent
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{final.name}.", suffix=".part")
    except OSError as error:
        raise BatchError(f"cannot write to {directory}: {error.strerror}", raw=str(final)) from None
    try:
        with open(fd, "w", encoding=encoding, newline="", buffering=1 << 20) as stream:
            yield stream
        mode = 0o644
        with suppress(OSError):
            mode = os.stat(final).st_mode & 0o7777  # keep the mode of a file we replace
        os.chmod(temporary, mode)
        try:
            os.replace(temporary, final)
        except OSError as error:
            raise BatchError(f"cannot write {final}: {error.strerror}", raw=str(final)) from None
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


@contextmanager
def _wrapped(binary: IO[bytes], encoding: str) -> Iterator[TextIO]:
    stream = io.TextIOWrapper(binary, encoding=encoding, newline="", write_through=False)
    try:
        yield stream
        stream.flush()
    finally:
        stream.detach()  # leave the caller's binary stream open
