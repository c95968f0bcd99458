"""The CSV mechanics under batch: encodings, delimiter sniffing, records, atomic output."""

from __future__ import annotations

import codecs
import csv
import io
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cbc_ranges.batch.files import (
    LEGACY_FALLBACK,
    SAMPLE_BYTES,
    atomic_output,
    detect_encoding,
    open_csv_source,
    open_input,
    raised_field_size_limit,
    sniff_delimiter,
)
from cbc_ranges.errors import BatchError


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"wbc\n4.2\n", "utf-8"),
        (codecs.BOM_UTF8 + b"wbc\n", "utf-8-sig"),
        ("wbc\n".encode("utf-16"), "utf-16"),
        ("wbc\n".encode("utf-32"), "utf-32"),
        ("unit\nK/µL\n".encode("cp1252"), "cp1252"),
        ("unit\nK/µL\n".encode(), "utf-8"),
        # a sample cut inside a two-byte character is still UTF-8
        ("unit\nK/µ".encode()[:-1], "utf-8"),
    ],
)
def test_detect_encoding(head: bytes, expected: str) -> None:
    assert detect_encoding(head)[0] == expected


def test_declared_encoding_is_strict_and_checked() -> None:
    assert detect_encoding(b"x", "latin-1") == ("iso8859-1", "strict")
    assert detect_encoding(codecs.BOM_UTF8 + b"x", "utf-8") == ("utf-8-sig", "strict")
    with pytest.raises(BatchError, match="unknown encoding"):
        detect_encoding(b"x", "no-such-codec")


def test_nul_bytes_are_refused() -> None:
    with pytest.raises(BatchError, match="NUL"):
        detect_encoding(b"PK\x03\x04\x00\x00binary")


def test_legacy_fallback_reads_stray_bytes_as_cp1252() -> None:
    assert b"K/\xb5L \x80".decode("utf-8", errors=LEGACY_FALLBACK) == "K/µL €"
    # 0x81 is a hole in cp1252: read as Latin-1 rather than failing
    assert b"\x81".decode("cp1252", errors=LEGACY_FALLBACK) == "\x81"


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1;4,2;3\n", ";"),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a|b\n1|2\n", "|"),
        ('"x, y";b\n"1,5";2\n', ";"),
        ("wbc\n4.2\n", ","),
        ("", ","),
    ],
)
def test_sniff_delimiter(sample: str, expected: str) -> None:
    assert sniff_delimiter(sample, complete=True) == expected


@given(
    st.sampled_from([",", ";", "\t"]),
    st.lists(
        st.lists(st.text(alphabet="abc 1,;.\t\n\"'", max_size=6), min_size=3, max_size=3),
        min_size=1,
        max_size=8,
    ),
)
def test_sniffing_finds_the_delimiter_of_a_written_file(
    delimiter: str, body: list[list[str]]
) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows([["id", "wbc", "unit"], *body])
    assert sniff_delimiter(buffer.getvalue(), complete=True) == delimiter


def _read_all(data: bytes, **options: str) -> tuple[str, list[bytes]]:
    with open_input(io.BytesIO(data)) as opened:
        source = open_csv_source(opened, **options)
        return source.encoding, list(source.lines)


def test_a_late_non_utf8_byte_does_not_stop_the_read() -> None:
    # the head is plain ASCII, the Latin-1 µ comes after the sample: its bytes are kept
    data = b"wbc,unit\n" + b"4.2,K/uL\n" * (SAMPLE_BYTES // 9 + 10) + b"5.0,K/\xb5L\n"
    encoding, lines = _read_all(data)
    assert encoding == "utf-8"
    assert lines[-1] == b"5.0,K/\xb5L\n"
    assert len(lines) == SAMPLE_BYTES // 9 + 12


def test_stream_replays_the_sniffed_head_exactly() -> None:
    body = "".join(f"{i},{i * 0.1:.1f}\n" for i in range(20000)).encode()
    _, lines = _read_all(b"id,wbc\n" + body)
    assert b"".join(lines) == b"id,wbc\n" + body


def test_utf16_lines_are_carried_as_utf8() -> None:
    encoding, lines = _read_all("wbc\nK/µL\n".encode("utf-16"))
    assert encoding == "utf-16" and lines == [b"wbc\n", "K/µL\n".encode()]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="no such file"), open_input(tmp_path / "nope.csv"):
        pass
    with pytest.raises(BatchError, match="directory"), open_input(tmp_path):
        pass


def test_field_size_limit_is_raised_then_restored() -> None:
    before = csv.field_size_limit()
    with raised_field_size_limit():
        assert csv.field_size_limit() >= 1 << 30
    assert csv.field_size_limit() == before


def test_atomic_output_renames_only_on_success(tmp_path: Path) -> None:
    final = tmp_path / "out.csv"
    final.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_output(final) as stream:
        stream.write(b"half a file")
        raise RuntimeError("crash")
    assert final.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.csv"]  # no temporary left behind
    with atomic_output(final) as stream:
        stream.write(b"new\n")
    assert final.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_atomic_output_survives_keyboard_interrupt(tmp_path: Path) -> None:
    final = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt), atomic_output(final) as stream:
        stream.write(b"x")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_atomic_output_to_a_binary_stream_leaves_it_open() -> None:
    buffer = io.BytesIO()
    with atomic_output(buffer) as stream:
        stream.write("µ".encode())
    assert buffer.getvalue() == "µ".encode() and not buffer.closed


def test_atomic_output_onto_a_directory_is_a_batch_error(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(BatchError, match="cannot write"), atomic_output(tmp_path / "taken") as out:
        out.write(b"x")
    with pytest.raises(BatchError, match="cannot write"), atomic_output(tmp_path / "no" / "x"):
        pass
    assert os.listdir(tmp_path) == ["taken"]
