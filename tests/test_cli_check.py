"""The check, ranges and schema subcommands of cbc-ranges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from cbc_ranges.cli import main
from cbc_ranges.models import Interpretation
from cbc_ranges.ranges import COLUMNS, get_table, render_markdown


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_prints_flag_range_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "3.2", "--unit", "K/uL", "--age", "45", "--sex", "F")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "flag: low (L)"
    assert "range: 4.5–11.0 × 10⁹/L for females aged 18 years and over [cleveland-2022]" in lines
    assert any(line.startswith("leukopenia: yes") for line in lines)
    assert "not a diagnosis" in out
    assert "[cleveland-2022] Low White Blood Cell Count (Leukopenia): Causes" in out


def test_check_shows_warnings_and_the_unit_read(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "4,200 cells/µL", "--sex", "m")
    assert code == 0
    assert "value: 4.2 × 10⁹/L (read from '4,200 cells/µL')" in out
    assert "warning: age not given: the adult ranges were used" in out


def test_check_for_a_child_says_no_threshold(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "12", "--age", "6 months")
    assert code == 0
    assert "flag: high (H)" in out
    assert "leukopenia: not assessed" in out


def test_check_json_is_an_interpretation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "check", "<1.0", "--age", "30", "--sex", "male", "--ethnicity", "Arab", "--json"
    )
    assert code == 0
    result = Interpretation.model_validate_json(out)
    assert (result.flag, result.code, result.leukopenia) == ("low", "L", True)
    assert result.person.ethnicity == "middle_eastern"


def test_check_with_a_user_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    path.write_text(
        ",".join(COLUMNS)
        + "\nf,wbc,reference_interval,18,,years,female,any,4,10,K/uL,wikipedia,x\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "check", "5", "--age", "30", "--sex", "m", "--table", str(path))
    assert code == 0
    assert out.startswith("flag: indeterminate\n")
    assert "range: none applies" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["check", "abc"], "abc"),
        (["check", "5", "--unit", "mg/dL"], "mg/dL"),
        (["check", "5", "--age", "-3 years"], "age"),
        (["check", "5", "--table", "nope"], "nope"),
        (["ranges", "--table", "missing.csv"], "no such file"),
    ],
)
def test_errors_are_one_line_on_stderr_with_a_non_zero_exit(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code != 0
    assert out == ""
    assert err.startswith("cbc-ranges: error: ")
    assert err.count("\n") == 1
    assert words in err


def test_ranges_prints_the_table_with_its_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ranges")
    assert code == 0
    assert out == render_markdown(get_table())
    assert "## Sources" in out


def test_schema_is_the_json_schema_of_interpretation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema == Interpretation.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    main(["check", "4.2", "--age", "3", "--json"])
    instance = json.loads(capsys.readouterr().out)
    jsonschema.validate(instance, schema)


def test_the_installed_command_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cbc_ranges", "check", "11.0", "--sex", "female", "--age", "30"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("flag: normal (N)")
