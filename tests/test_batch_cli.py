"""``cbc-ranges batch`` from the command line, and the shipped examples."""

from __future__ import annotations

import csv
import io
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from cbc_ranges.cli import main
from cbc_ranges.rows import RESULT_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def read(path: Path, delimiter: str = ",", encoding: str = "utf-8-sig") -> list[list[str]]:
    text = path.read_text(encoding=encoding)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def test_readme_quick_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # cbc-ranges batch examples/teaching_wbc.csv -o checked.csv
    out = tmp_path / "checked.csv"
    assert main(["batch", str(EXAMPLES / "teaching_wbc.csv"), "-o", str(out)]) == 0
    rows = read(out)
    assert rows[0][-len(RESULT_COLUMNS) :] == list(RESULT_COLUMNS)
    assert len(rows) == len(read(EXAMPLES / "teaching_wbc.csv"))
    err = capsys.readouterr().err
    assert "rows read" in err and "low" in err and "written to" in err
    assert "\r" not in err  # stderr is not a terminal here: no progress bar


def test_quiet_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "checked.csv"
    assert main(["batch", str(EXAMPLES / "teaching_wbc.csv"), "-o", str(out), "-q"]) == 0
    assert capsys.readouterr() == ("", "")


def test_every_example_is_checked(tmp_path: Path) -> None:
    labevents = tmp_path / "labevents.csv"
    assert main(["batch", str(EXAMPLES / "labevents_sample.csv"), "-o", str(labevents), "-q",
                 "--where", "itemid=51300,51301"]) == 0  # fmt: skip
    rows = read(labevents)
    flagged = [r for r in rows[1:] if r[4] in ("51300", "51301")]
    others = [r for r in rows[1:] if r[4] not in ("51300", "51301")]
    assert flagged and all(r[-len(RESULT_COLUMNS) + 1] for r in flagged)  # a flag on every one
    assert others and all(r[-len(RESULT_COLUMNS) :] == [""] * len(RESULT_COLUMNS) for r in others)
    european = tmp_path / "european.csv"
    assert main(["batch", str(EXAMPLES / "european_wbc.csv"), "-o", str(european), "-q"]) == 0
    rows = read(european, ";", "cp1252")  # the output keeps the input's encoding
    assert rows[0][3] == "Leukozyten" and "µ" in "".join(r[4] for r in rows)
    assert sum(1 for r in rows[1:] if r[-1]) == 1  # the one "n. b." (not measured) row


def test_examples_are_what_the_generator_writes(tmp_path: Path) -> None:
    # the generator writes next to itself: run a copy in a scratch folder and compare bytes
    script = tmp_path / "make_examples.py"
    script.write_text((EXAMPLES / "make_examples.py").read_text())
    runpy.run_path(str(script), run_name="__main__")
    for name in (
        "teaching_wbc.csv",
        "labevents_sample.csv",
        "european_wbc.csv",
        "panels_sample.csv",
        "cbc_wide.csv",
    ):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name
        assert (EXAMPLES / name).stat().st_size < 50_000


def test_a_file_that_cannot_be_processed_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cbc-ranges: error: no such file") and err.count("\n") == 1
    ambiguous = tmp_path / "two.csv"
    ambiguous.write_text("wbc,leukocytes\n4.2,4.2\n")
    assert main(["batch", str(ambiguous)]) == 2
    err = capsys.readouterr().err
    assert "'wbc'" in err and "'leukocytes'" in err and "--value-col" in err
    assert main(["batch", str(ambiguous), "-o", str(ambiguous)]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert main(["batch", str(ambiguous), "--value-col", "wbc", "--default-unit", "mg/dL"]) == 2
    assert "mass concentration" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["two.csv"]


def test_options_choose_columns_and_format(tmp_path: Path) -> None:
    source = tmp_path / "lab.tsv"
    source.write_text("a\tb\tc\n30\tF\t3.1\n")
    out = tmp_path / "lab.jsonl"
    code = main(["batch", str(source), "-o", str(out), "-q", "--value-col", "c", "--age-col",
                 "a", "--sex-col", "b", "--default-unit", "K/uL", "--format", "jsonl",
                 "--delimiter", "tab"])  # fmt: skip
    assert code == 0
    assert '"wbc_flag": "low"' in out.read_text()


def test_stdin_to_stdout() -> None:
    data = b"age,sex,wbc\n40,F,3.1 K/uL\n40,M,7.2 K/uL\n"
    done = subprocess.run(
        [sys.executable, "-m", "cbc_ranges", "batch", "-", "-o", "-"],
        input=data,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout.decode(), newline="")))
    assert [r[4] for r in rows[1:]] == ["low", "normal"]
    assert b"<stdin>" in done.stderr and b"2 rows read" in done.stderr


def test_stdin_defaults_to_stdout() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cbc_ranges", "batch", "-", "-q"],
        input=b"wbc\n12.5\n",
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout.decode().splitlines()[1].startswith("12.5,12.5,high,H,")


def test_help_is_the_module_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    out = capsys.readouterr().out
    assert "--where" in out and "not a" in out and "diagnosis" in out
