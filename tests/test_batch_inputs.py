"""Inputs that are not plain CSV text: compressed files, spreadsheets, Excel's sep= line,
binary files refused by name, and the --text columns."""

from __future__ import annotations

import bz2
import csv
import datetime
import gzip
import io
import json
import lzma
import sys
import tarfile
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cbc_ranges import rows
from cbc_ranges.batch import check_csv, fast
from cbc_ranges.batch.inputs import cell_text, recognise
from cbc_ranges.cli import main
from cbc_ranges.errors import BatchError
from cbc_ranges.rows import RESULT_COLUMNS

CSV = b"""id,age,sex,wbc,unit
1,30,F,3.2,K/uL
2,30,M,7.5,10^9/L
3,30,F,"12,5",K/uL
4,8,M,4500,cells/uL
5,40,F,abc,K/uL
"""

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


class Pipe(io.RawIOBase):
    """A stream that can only be read, like standard input from a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(min(len(buffer), 4096))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def run(data: bytes, **options: object) -> tuple[bytes, object]:
    out = io.BytesIO()
    summary = check_csv(Pipe(data), out, **options)  # type: ignore[arg-type]
    return out.getvalue(), summary


class ReadOnly:
    """A stream with read() and nothing else (no readinto), as some wrappers are."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


class NoReadinto(io.RawIOBase):
    """A raw stream whose readinto is the base class's (NotImplementedError)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


@pytest.mark.parametrize("stream", [ReadOnly, NoReadinto])
def test_a_stream_without_readinto_is_read(stream: Callable[[bytes], object]) -> None:
    # blocks are read straight into a buffer where the stream can; these cannot
    big = CSV + b"".join(b"%d,40,F,%d.5,K/uL\n" % (n, n % 20) for n in range(6, 60_000))
    expected = run(big)[0]
    out = io.BytesIO()
    check_csv(stream(big), out)  # type: ignore[arg-type]
    assert out.getvalue() == expected


# ---------------------------------------------------------------- compressed input


@pytest.mark.parametrize("kind", sorted(COMPRESS))
def test_compressed_input_gives_the_plain_output(kind: str) -> None:
    plain, plain_summary = run(CSV)
    packed, summary = run(COMPRESS[kind](CSV))
    assert packed == plain
    assert summary.rows_read == plain_summary.rows_read == 5  # type: ignore[attr-defined]
    assert f"decompressed from {kind}" in summary.warnings  # type: ignore[attr-defined]


def test_compressed_rows_come_back_byte_for_byte() -> None:
    data = "age;unit;wbc\r\n40;K/µL;4,2\r\n".encode() + b"41;K/\xb5L;5\r\n"
    out, _ = run(gzip.compress(data))
    lines = out.split(b"\r\n")
    for given, written in zip(data.split(b"\r\n")[:-1], lines, strict=False):
        assert written.startswith(given + b";")


def test_compressed_twice_and_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"  # no .gz in the name
    path.write_bytes(gzip.compress(bz2.compress(CSV)))
    summary = check_csv(path, tmp_path / "out.csv")
    assert summary.rows_read == 5
    assert (tmp_path / "out.csv").read_bytes() == run(CSV)[0]


def test_default_output_of_a_compressed_file_is_plain_csv(tmp_path: Path) -> None:
    path = tmp_path / "teaching.csv.gz"
    path.write_bytes(gzip.compress(CSV))
    summary = check_csv(path)
    assert summary.output == str(tmp_path / "teaching.wbc.csv")
    assert (tmp_path / "teaching.wbc.csv").read_bytes() == run(CSV)[0]


@pytest.mark.parametrize(("suffix", "unpack"), [(".gz", gzip.decompress),
                         (".bz2", bz2.decompress), (".xz", lzma.decompress)])  # fmt: skip
def test_output_named_gz_is_compressed(
    tmp_path: Path, suffix: str, unpack: Callable[[bytes], bytes]
) -> None:
    target = tmp_path / f"out.csv{suffix}"
    check_csv(io.BytesIO(CSV), target)
    assert unpack(target.read_bytes()) == run(CSV)[0]


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    check_csv(io.BytesIO(CSV), tmp_path / "a.csv.gz")
    check_csv(io.BytesIO(CSV), tmp_path / "b.csv.gz")
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()


def test_a_damaged_compressed_file_is_one_error_and_no_output(tmp_path: Path) -> None:
    whole = gzip.compress(CSV * 200)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BatchError, match="damaged gzip file"):
        check_csv(path, tmp_path / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.csv.gz"]


@pytest.mark.parametrize("careful", [True, False], ids=["careful", "fast-path"])
def test_compressed_input_is_streamed_not_decompressed_whole(
    careful: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fast path holds a few blocks of lines: made small here, so the bound shows
    monkeypatch.setattr(fast, "BLOCK_BYTES", 1 << 16)
    rows = b"".join(b"%d,40,F,%d.1,K/uL\n" % (i, i % 9) for i in range(150_000))
    data = gzip.compress(b"id,age,sex,wbc,unit\n" + rows, compresslevel=1)
    assert len(rows) > 3_000_000
    tracemalloc.start()
    try:
        summary = check_csv(Pipe(data), _Sink(), careful=careful)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.rows_read == 150_000
    assert peak < len(rows) // 2, peak  # the caches, not the file


class _Sink(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return len(data)


def test_compressed_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lzma.compress(CSV))))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    assert main(["batch", "-", "-q"]) == 0
    sys.stdout.flush()
    assert out.getvalue() == run(CSV)[0]


# ---------------------------------------------------------------- spreadsheets


def _xlsx(tmp_path: Path) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Results"
    sheet.append(["age", "sex", "WBC", "unit", "drawn"])
    sheet.append([40, "F", 3.2, "K/uL", datetime.date(2024, 1, 5)])
    sheet.append([50, "M", 0.1 + 0.2, "K/uL", datetime.datetime(2024, 1, 5, 8, 30)])
    sheet.append([])
    sheet.append([30, "F", 7, None, None])
    sheet.append([30, "F", 'a, "b"\nc', "K/uL", None])
    other = book.create_sheet("Other")
    other.append(["wbc", "unit"])
    other.append([12, "K/uL"])
    path = tmp_path / "lab.xlsx"
    book.save(path)
    return path


def test_xlsx_rows_become_csv_records(tmp_path: Path) -> None:
    pytest.importorskip("python_calamine")
    path = _xlsx(tmp_path)
    summary = check_csv(path)
    out = tmp_path / "lab.wbc.csv"
    assert summary.output == str(out)
    text = out.read_bytes().decode("utf-8")
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert records[0] == ["age", "sex", "WBC", "unit", "drawn", *RESULT_COLUMNS]
    assert records[1][:7] == ["40", "F", "3.2", "K/uL", "2024-01-05", "3.2", "low"]
    # no float noise, a date-time in ISO 8601
    assert records[2][:6] == ["50", "M", "0.3", "K/uL", "2024-01-05T08:30:00", "0.3"]
    assert records[3] == []  # an empty row stays a blank line
    assert records[4][:6] == ["30", "F", "7", "", "", "7"]  # every row as wide as the sheet
    assert records[5][2] == 'a, "b"\nc' and "not start with a number" in records[5][-1]
    assert summary.rows_read == 4 and summary.low == 2
    assert any("sheet 'Results'" in w for w in summary.warnings)


def test_sheet_by_name_or_number_and_a_missing_sheet(tmp_path: Path) -> None:
    pytest.importorskip("python_calamine")
    path = _xlsx(tmp_path)
    for sheet in ("Other", "2"):
        out, _ = run(path.read_bytes(), sheet=sheet)  # from a pipe: spooled
        assert out.decode().splitlines()[1].startswith("12,K/uL,12,high")
    with pytest.raises(BatchError, match=r"no such sheet.*'Results', 'Other'"):
        check_csv(path, tmp_path / "x.csv", sheet="Nope")
    with pytest.raises(BatchError, match="--sheet applies to spreadsheets"):
        run(CSV, sheet="Other")


_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def _ods() -> bytes:
    cells = "".join(
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="{kind}"'
            + (f' office:value="{v}"' if kind == "float" else "")
            + f"><text:p>{v}</text:p></table:table-cell>"
            for kind, v in row
        )
        + "</table:table-row>"
        for row in ((("string", "age"), ("string", "wbc")), (("float", "40"), ("float", "3.2")))
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Labs">{cells}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", _MANIFEST)
    return buffer.getvalue()


def test_ods_is_read_too() -> None:
    pytest.importorskip("python_calamine")
    out, summary = run(_ods())
    assert out.decode().splitlines()[1].startswith("40,3.2,3.2,low")
    assert any("OpenDocument spreadsheet" in w for w in summary.warnings)  # type: ignore[attr-defined]


def test_compressed_spreadsheet(tmp_path: Path) -> None:
    pytest.importorskip("python_calamine")
    out, _ = run(gzip.compress(_xlsx(tmp_path).read_bytes()))
    assert out.decode().splitlines()[1].startswith("40,F,3.2,K/uL,2024-01-05,3.2,low")


def test_without_the_extra_the_error_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _xlsx(tmp_path).read_bytes()
    monkeypatch.setitem(sys.modules, "python_calamine", None)
    with pytest.raises(BatchError, match=r"Excel workbook.*cbc-ranges\[excel\]"):
        run(data)
    with pytest.raises(BatchError, match=r"Excel 97-2003 workbook.*excel extra"):
        run(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)


def test_an_office_file_that_is_no_workbook() -> None:
    pytest.importorskip("python_calamine")
    with pytest.raises(BatchError, match="not an Excel workbook"):
        run(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("", ""),
        ("K/uL", "K/uL"),
        (4500.0, "4500"),
        (3.2, "3.2"),
        (0.1 + 0.2, "0.3"),
        (1 / 3, "0.333333333333333"),
        (7, "7"),
        (False, "FALSE"),
        (datetime.date(2024, 2, 29), "2024-02-29"),
        (datetime.datetime(2024, 2, 29, 0, 0), "2024-02-29"),
        (datetime.datetime(2024, 2, 29, 23, 5, 1), "2024-02-29T23:05:01"),
        (datetime.time(8, 30), "08:30:00"),
        (datetime.timedelta(hours=26, minutes=3), "26:03:00"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


# ---------------------------------------------------------------- refused formats


def _zip(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name.replace("__", "/"), content)
    return buffer.getvalue()


def _tar_gz() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("lab.csv")
        info.size = len(CSV)
        archive.addfile(info, io.BytesIO(CSV))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        (_zip(lab__csv="wbc\n4\n"), r"a zip archive \(1 file: lab/csv; unzip it first\)"),
        (_zip(word__document__xml="<w/>"), "a Word document"),
        (_tar_gz(), "a tar archive .*, once decompressed"),
        (b"SQLite format 3\x00" + b"\x00" * 100, "an SQLite database"),
        (bytes(range(256)) * 4, r"binary data \(a NUL byte at offset 0\)"),
        (b"wbc\n4.2\n\x00\x00\x00\x00", r"binary data \(a NUL byte at offset 8\)"),
    ],
)
def test_binary_formats_are_named_never_the_encoding_advice(data: bytes, what: str) -> None:
    with pytest.raises(BatchError, match=f"this looks like {what}, not a CSV") as caught:
        run(data)
    assert "--encoding" not in str(caught.value)


def test_utf16_without_a_mark_gets_the_encoding_to_give() -> None:
    with pytest.raises(BatchError, match="give --encoding utf-16-le"):
        run("wbc,unit\n4.2,K/µL\n".encode("utf-16-le"))
    with pytest.raises(BatchError, match="give --encoding utf-32-be"):
        run("wbc,unit\n4.2,K/µL\n".encode("utf-32-be"))
    out, _ = run("wbc\n4.2\n".encode("utf-16-le"), encoding="utf-16-le")
    assert out.decode("utf-16-le").startswith("wbc,wbc_value")


def test_the_cli_says_what_the_file_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.csv"
    path.write_bytes(b"%PDF-1.4\n")
    assert main(["batch", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"cbc-ranges: error: {path}: this looks like a PDF file, not a CSV"


def test_recognise() -> None:
    assert recognise(b"BZh91AY") == "bzip2"
    assert recognise(b"\xfd7zXZ\x00\x00") == "xz"
    assert recognise(b"PK\x03\x04") == "zip"
    assert recognise(b"id,wbc\n") is None
    # text headers that start like a magic number stay text
    for header in (b"MZB,wbc\n1,4\n", b"PAR1,wbc\n", b"GIF8,wbc\n", b"%PDF,wbc\n"):
        assert recognise(header) is None
    assert recognise(b"MZ\x90\x00\x03\x00") == "a Windows program"


# ---------------------------------------------------------------- Excel's sep= line


@pytest.mark.parametrize(
    ("line", "delimiter"), [(b"sep=;", ";"), (b"sep=,", ","), (b"sep=\t", "\t"), (b"SEP=|", "|")]
)
@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_excel_sep_line_names_the_delimiter_and_is_kept(
    line: bytes, delimiter: str, end: bytes
) -> None:
    d = delimiter.encode()
    body = [b"age" + d + b"sex" + d + b"WBC", b"40" + d + b"F" + d + b"3.2"]
    data = line + end + end.join(body) + end
    out, summary = run(data)
    assert summary.delimiter == delimiter  # type: ignore[attr-defined]
    assert summary.rows_read == 1 and summary.low == 1  # type: ignore[attr-defined]
    lines = out.split(end)
    assert lines[0] == line  # byte for byte, no result columns
    assert lines[1].startswith(body[0] + d + b"wbc_value")
    assert lines[2].startswith(body[1] + d + (b"3,2" if delimiter == ";" else b"3.2"))


def test_sep_line_with_a_bom_and_a_given_delimiter() -> None:
    data = b"\xef\xbb\xbfsep=;\r\nage;WBC\r\n40;3,2\r\n"
    out, summary = run(data)
    assert out.startswith(b"\xef\xbb\xbfsep=;\r\nage;WBC;wbc_value")
    assert summary.rows_read == 1  # type: ignore[attr-defined]
    out, _ = run(b"sep=;\nWBC\n4\n", delimiter=",")  # the option wins; the line stays a preamble
    assert out.split(b"\n")[:2] == [
        b"sep=;",
        b"WBC," + b",".join(c.encode() for c in RESULT_COLUMNS),
    ]


def test_a_sep_line_alone_is_an_empty_file() -> None:
    out, summary = run(b"sep=;\n")
    assert out == b"sep=;\n" and summary.rows_read == 0  # type: ignore[attr-defined]


# ---------------------------------------------------------------- --text


def test_text_columns_quote_newlines_and_read_back() -> None:
    data = b"age,sex,wbc,unit\n40,F,3.2,K/uL\n40,F,3.2,K/uL\n8,M,abc,K/uL\n\n30,M,7.5,K/uL\n"
    out, summary = run(data, text=True)
    records = list(csv.reader(io.StringIO(out.decode(), newline="")))
    assert records[0][-2:] == ["wbc_summary", "wbc_text"]
    rows = [r for r in records[1:] if r]
    assert len(rows) == summary.rows_read == 4  # type: ignore[attr-defined]
    assert all(len(r) == 4 + len(RESULT_COLUMNS) + 2 for r in rows)
    assert "\n\n" in rows[0][-1] and rows[0][-2].startswith("This white blood cell count")
    assert rows[2][-2:] == ["", ""] and rows[2][-3]  # an error row: no text, its error
    assert "within the usual range" in rows[3][-2]
    # the input bytes still come first on every row
    assert out.split(b"\n")[1].startswith(b"40,F,3.2,K/uL,3.2,low")


def test_text_is_composed_once_per_distinct_row(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = rows.interpret_count

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rows, "interpret_count", counting)
    data = b"age,sex,wbc\n" + b"40,F,3.2\n" * 50 + b"41,F,3.2\n" * 50
    run(data, text=True)
    assert len(calls) == 2


def test_text_in_jsonl_and_in_a_cp1252_file() -> None:
    out, _ = run(b"age,sex,wbc\n40,F,3.2\n40,F,\n", text=True, format="jsonl")
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["wbc_summary"] and "\n\n" in first["wbc_text"]
    assert second["wbc_summary"] is None and second["wbc_text"] is None
    data = "age;sex;WBC;unit\n40;F;3,2;K/µL\n".encode("cp1252")
    out, summary = run(data, text=True)
    assert summary.encoding == "cp1252"  # type: ignore[attr-defined]
    assert out.startswith(data.split(b"\n")[0])
    text = out.decode("cp1252")
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert "10^9/L" in records[1][-1]  # 10⁹ has a plain spelling in cp1252


def test_text_with_where_leaves_skipped_rows_empty() -> None:
    data = b"itemid,wbc\n51300,3.2\n99,3.2\n"
    out, summary = run(data, text=True, where="itemid=51300")
    records = list(csv.reader(io.StringIO(out.decode(), newline="")))
    assert records[1][-2] and records[2][-2:] == ["", ""]
    assert summary.skipped == 1  # type: ignore[attr-defined]
