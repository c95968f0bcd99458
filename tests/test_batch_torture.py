"""Batch under torture: mixed encodings, stray quotes, huge cells, unsafe outputs, signals.

What must hold whatever the input: every input row's bytes come out unchanged
before the appended result columns, the output reads back as CSV with every
input line accounted for, and the command ends with one line, never a traceback.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cbc_ranges.batch import check_csv, files
from cbc_ranges.batch.files import LEGACY_FALLBACK, SAMPLE_BYTES
from cbc_ranges.cli import main
from cbc_ranges.errors import BatchError
from cbc_ranges.rows import RESULT_COLUMNS

N = len(RESULT_COLUMNS)
csv.field_size_limit(1 << 30)


def run(data: bytes, **options: object) -> tuple[bytes, object]:
    out = io.BytesIO()
    summary = check_csv(io.BytesIO(data), out, **options)  # type: ignore[arg-type]
    return out.getvalue(), summary


def lines_of(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def assert_lines_kept(data: bytes, output: bytes) -> None:
    """Quote-free input: line for line, the input bytes, the results, the same line end."""
    given_lines, out_lines = lines_of(data), lines_of(output)
    assert len(given_lines) == len(out_lines)
    for before, after in zip(given_lines, out_lines, strict=True):
        body = before.rstrip(b"\r")
        assert after.startswith(body)
        assert after.endswith(before[len(body) :])  # the line's own "\r" (if any) stays last


def parsed(output: bytes, encoding: str = "utf-8") -> list[list[str]]:
    text = output.decode(encoding, LEGACY_FALLBACK)
    return list(csv.reader(io.StringIO(text, newline="")))


# -- encodings -------------------------------------------------------------------------------


def test_late_bytes_after_the_sample_are_kept_with_a_note() -> None:
    head = b"id,wbc,unit\n" + b"1,4.2,K/uL\n" * (SAMPLE_BYTES // 11 + 50)
    data = head + b"2,4.2,K/\xb5L\n3,\xff\xfe,K/uL\n"
    output, summary = run(data)
    assert_lines_kept(data, output)
    out = lines_of(output)
    assert out[-3].startswith(b"2,4.2,K/\xb5L,4.2,low,")  # not re-encoded to "µ" in UTF-8
    assert out[-2].startswith(b"3,\xff\xfe,K/uL,")  # not "ÿþ"
    rows = parsed(output)
    assert "line" in rows[-2][-2] and "not valid UTF-8" in rows[-2][-2]
    assert summary.encoding == "utf-8"  # type: ignore[attr-defined]


def test_one_stray_byte_does_not_make_utf8_into_mojibake() -> None:
    data = b"id,wbc,unit\n" + "1,4.2,K/µL\n".encode() * 50 + b"2,4.2,K/\xb5L\n"
    output, summary = run(data)
    assert summary.encoding == "utf-8"  # type: ignore[attr-defined]
    assert_lines_kept(data, output)
    rows = parsed(output)
    assert {r[2] for r in rows[1:]} == {"K/µL"} and {r[4] for r in rows[1:]} == {"low"}
    assert "K/ÂµL".encode() not in output


def test_a_cp1252_file_stays_cp1252_and_a_utf8_line_in_it_is_read_as_utf8() -> None:
    data = b"Alter;Leukozyten;Einheit\n" + "40;3,2;Tsd/µl\n".encode("cp1252") * 3
    data += "41;3,2;Tsd/µl\n".encode()  # pasted from a UTF-8 export
    output, summary = run(data)
    assert summary.output_encoding == "cp1252"  # type: ignore[attr-defined]
    assert_lines_kept(data, output)
    rows = list(csv.reader(io.StringIO(output.decode("cp1252"), newline=""), delimiter=";"))
    assert rows[1][4] == "low" and rows[4][4] == "low" and rows[4][2] == "Tsd/Âµl"
    assert "UTF-8 in a file read as cp1252" in rows[4][-2]


def test_appended_text_a_legacy_encoding_lacks_gets_a_plain_spelling() -> None:
    assert "10⁹/L ≤ 4 – ok".encode("cp1252", files.APPENDED) == b"10^9/L <= 4 \x96 ok"
    assert "10⁻⁹ ☃".encode("latin-1", files.APPENDED) == b"10^-9 ?"


def test_a_utf16_file_comes_back_utf16_with_its_bytes() -> None:
    text = "age,sex,wbc\r\n40,F,3.1 K/µL\r\n"
    data = text.encode("utf-16")
    output, summary = run(data)
    assert summary.output_encoding == "utf-16"  # type: ignore[attr-defined]
    decoded = output.decode("utf-16")
    assert decoded.startswith("age,sex,wbc,wbc_value") and "40,F,3.1 K/µL,3.1,low" in decoded
    assert output.startswith(data[:2])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(
            st.sampled_from(
                [
                    b"4.2",
                    b"K/\xb5L",
                    "K/µL".encode(),
                    b"\xff\xfe",
                    b"",
                    b"  x ",
                    b"7,5",
                    b"\xe2\x82",
                    b"abc",
                    b"12 K/uL",
                    b"\x81",
                    "é".encode("cp1252"),
                ]
            ),
            min_size=1,
            max_size=4,
        ),
        max_size=15,
    ),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
def test_any_bytes_come_back_unchanged(rows: list[list[bytes]], end: bytes, mixed: bool) -> None:
    lines = [b"id,wbc,unit"] + [b",".join(row) for row in rows]
    ends = [end if not (mixed and i % 3 == 2) else b"\r\n" for i in range(len(lines))]
    data = b"".join(line + e for line, e in zip(lines, ends, strict=True))
    output, _ = run(data)
    assert_lines_kept(data, output)


# -- quotes ----------------------------------------------------------------------------------


def test_an_unclosed_quote_is_one_error_row_and_the_rest_are_rows() -> None:
    data = b'age,sex,wbc\n40,F,"4.2\n41,M,5\n42,F,6\n'
    output, summary = run(data)
    assert summary.rows_read == 3 and summary.errors == 1  # type: ignore[attr-defined]
    rows = parsed(output)
    assert len(rows) == 4 and all(len(r) == 3 + N for r in rows)
    assert rows[1][:3] == ["40", "F", "4.2"] and "line 2" in rows[1][-1]
    assert rows[2][:5] == ["41", "M", "5", "5", "normal"] and rows[3][4] == "normal"
    out = lines_of(output)
    assert out[1].startswith(b'40,F,"4.2",') and out[2].startswith(b"41,M,5,5,normal")


def test_two_unclosed_quotes_and_a_closed_one() -> None:
    data = b'id,note,wbc\n1,"two\nlines",4.2\n2,"open,5\n3,x,6\n'
    output, summary = run(data)
    rows = parsed(output)
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert rows[1][1] == "two\nlines" and rows[1][4] == "low"
    assert "line 4" in rows[2][-1] and rows[3][4] == "normal"
    assert summary.rows_read == 3  # type: ignore[attr-defined]


def test_an_unclosed_quote_in_jsonl_names_its_line() -> None:
    output, _ = run(b'age,sex,wbc\n40,F,"4.2\n41,M,5\n', format="jsonl")
    objects = output.decode().splitlines()
    assert len(objects) == 2 and "line 2" in objects[0] and '"normal"' in objects[1]


# -- huge cells ------------------------------------------------------------------------------


def test_a_huge_value_cell_is_not_echoed_whole() -> None:
    data = b"id,wbc\n1," + b"9x" * 200_000 + b"\n2,4.2\n"
    output, _ = run(data)
    assert len(output) < len(data) + 2_000
    rows = parsed(output)
    assert 0 < len(rows[1][-1]) <= 300  # the cell is quoted by a short prefix at most
    assert rows[2][3] == "low"


def test_a_huge_sex_cell_is_not_echoed_in_every_warning() -> None:
    data = b"sex,wbc\n" + (b"z" * 50_000 + b",4.2\n") * 3
    output, _ = run(data)
    assert len(output) < len(data) + 3_000


# -- safe output -----------------------------------------------------------------------------


def _batch(*args: str, stdin: IO[bytes]) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "cbc_ranges", "batch", *args]
    return subprocess.run(command, stdin=stdin, capture_output=True, check=False)


def test_stdin_redirected_from_the_output_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"wbc\n4.2\n")
    with open(source, "rb") as stdin:
        done = _batch("-", "-o", str(source), stdin=stdin)
    assert done.returncode == 2 and b"is the input file" in done.stderr
    assert done.stderr.count(b"\n") == 1 and source.read_bytes() == b"wbc\n4.2\n"


def test_a_symlink_to_the_input_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"wbc\n4.2\n")
    (tmp_path / "link.csv").symlink_to(source)
    with pytest.raises(BatchError, match="is the input file"):
        check_csv(source, tmp_path / "link.csv")


def test_a_symlink_output_writes_the_file_it_points_to(tmp_path: Path) -> None:
    source, real = tmp_path / "in.csv", tmp_path / "real.csv"
    source.write_bytes(b"wbc\n4.2\n")
    real.write_bytes(b"old\n")
    (tmp_path / "link.csv").symlink_to(real)
    check_csv(source, tmp_path / "link.csv")
    assert (tmp_path / "link.csv").is_symlink() and real.read_bytes().startswith(b"wbc,wbc_value")


def test_a_fifo_is_refused(tmp_path: Path) -> None:
    source, fifo = tmp_path / "in.csv", tmp_path / "pipe"
    source.write_bytes(b"wbc\n4.2\n")
    os.mkfifo(fifo)
    with pytest.raises(BatchError, match="not a regular file"):
        check_csv(source, fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_is_refused_and_left_alone(tmp_path: Path) -> None:
    source, device = tmp_path / "in.csv", tmp_path / "null"
    source.write_bytes(b"wbc\n4.2\n")
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    assert main(["batch", str(source), "-o", str(device), "-q"]) == 2
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "null"]


class _FullDisk(io.RawIOBase):
    def __init__(self, fd: int) -> None:
        os.close(fd)

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_one_line_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"wbc\n4.2\n" * 1000)
    monkeypatch.setattr(files, "_open_output", _FullDisk)
    assert main(["batch", str(source), "-o", str(tmp_path / "out.csv"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cbc-ranges: error: cannot write") and "No space left" in err
    assert err.count("\n") == 1 and os.listdir(tmp_path) == ["in.csv"]


def _big_input(path: Path, rows: int) -> None:
    with open(path, "wb") as out:
        out.write(b"id,age,sex,wbc,unit\n")
        for start in range(0, rows, 10_000):
            out.write(b"".join(b"%d,%d,F,%d.%d,K/uL\n" % (n, n % 90, n % 17, n % 10)
                               for n in range(start, start + 10_000)))  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_run_leaves_no_temporary(tmp_path: Path, signum: int) -> None:
    source = tmp_path / "big.csv"
    _big_input(source, 1_500_000)
    target = tmp_path / "out" / "checked.csv"
    target.parent.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "cbc_ranges", "batch", str(source), "-o", str(target), "-q"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not os.listdir(target.parent) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert os.listdir(target.parent), "the run never started writing"
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == -signum, err
    assert os.listdir(target.parent) == [] and b"Traceback" not in err


def _long_input(path: Path, draws: int) -> None:
    """A long file of whole panels: a WBC and a neutrophil percentage per draw."""
    with open(path, "wb") as out:
        out.write(b"specimen_id,itemid,value,valueuom,anchor_age,gender\n")
        line = b"%d,51301,%d.%d,K/uL,40,F\n%d,51256,%d.5,%%,40,F\n"
        out.write(b"".join(line % (n, 3 + n % 9, n % 10, n, 40 + n % 30) for n in range(draws)))


@pytest.mark.parametrize(
    ("build", "options", "header"),
    [
        (_big_input, "", b"id,age,sex,wbc,unit,wbc_value"),
        (_long_input, "--analyte-col itemid", b"specimen_id,itemid,value,valueuom"),
    ],
    ids=["wbc", "panels"],
)
def test_a_closed_pipe_is_quiet(
    tmp_path: Path, build: Callable[[Path, int], None], options: str, header: bytes
) -> None:
    # the columnar paths (polars writes each block): the reader going away stops the run
    # without a word, as it does in the row loop
    source = tmp_path / "big.csv"
    build(source, 200_000)
    command = f"{sys.executable} -m cbc_ranges batch {source} {options} -o - | head -1"
    done = subprocess.run(command, shell=True, capture_output=True, check=False)
    assert done.stdout.startswith(header)
    assert done.stderr == b""
