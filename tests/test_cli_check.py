"""The check, ranges and schema subcommands of cbc-ranges."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

import cbc_ranges
from cbc_ranges.cli import main
from cbc_ranges.models import Interpretation
from cbc_ranges.ranges import get_table, render_markdown


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
    assert "flag: normal (N)" in out  # 6.1-17.5 for 1 to 23 months: 12 is typical at 6 months
    assert "leukopenia: not assessed" in out
    code, out, _ = run(capsys, "check", "12", "--age", "6 months", "--table", "documents")
    assert "flag: high (H)" in out  # the documents' one range for all children


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
    # the first table format, which still loads (ranges/README.md)
    path.write_text(
        "id,analyte,kind,age_from,age_to,age_unit,sex,ethnicity,low,high,unit,source,note\n"
        "f,wbc,reference_interval,18,,years,female,any,4,10,K/uL,wikipedia,x\n",
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
    assert schema.pop("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert schema.pop("$id") == (
        f"https://cbc-ranges.invalid/schemas/{cbc_ranges.__version__}/interpretation.json"
    )
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


# ------------------------------------------------------------------ output formats


def test_check_format_json_is_the_same_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "3.2", "--unit", "K/uL", "--age", "45", "--sex", "F"]
    _, by_alias, _ = run(capsys, *argv, "--json")
    _, by_name, _ = run(capsys, *argv, "--format", "json")
    assert by_alias == by_name
    assert Interpretation.model_validate_json(by_name).flag == "low"


def test_check_format_text_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "3.2", "--unit", "K/uL", "--age", "45", "--sex", "F"]
    assert run(capsys, *argv) == run(capsys, *argv, "--format", "text")


def test_check_format_fhir_prints_an_observation(capsys: pytest.CaptureFixture[str]) -> None:
    from fhir.resources.R4B.observation import Observation

    from cbc_ranges import interpret

    code, out, err = run(
        capsys, "check", "3.1", "--unit", "K/uL", "--age", "40", "--format", "fhir"
    )
    assert (code, err) == (0, "")
    resource = json.loads(out)
    assert resource == interpret("3.1", "K/uL", age=40).to_fhir()
    assert Observation.model_validate(resource).valueQuantity.code == "10*9/L"


def test_an_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", "4.2", "--format", "yaml"])
    assert exit_.value.code == 2
    assert "invalid choice: 'yaml'" in capsys.readouterr().err


# ------------------------------------------------------------------ never a traceback


def _command(
    *argv: str | bytes, stdout: int | None = subprocess.PIPE
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "cbc_ranges", *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=60,
        check=False,
    )


def _patched(handler_code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run the command in a fresh interpreter with ``run_check`` replaced by ``handler_code``."""
    code = (
        "import sys\n"
        "import cbc_ranges.cli as cli\n"
        f"def run_check(args):\n    {handler_code}\n"
        "cli.run_check = run_check\n"
        f"sys.exit(cli.main({list(argv)!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("fmt", ["--json", "text", "fhir"])
def test_undecodable_argv_bytes_are_read_as_replacement_characters(fmt: str) -> None:
    # $'\xff' in a shell: Python hands it over as a lone surrogate, which cannot be written
    format_args = ["--json"] if fmt == "--json" else ["--format", fmt]
    done = _command("check", "4.2", "--ethnicity", b"Black\xff", "--sex", b"f\xfe", *format_args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    out = done.stdout.decode("utf-8")  # valid UTF-8
    if fmt == "--json":
        assert Interpretation.model_validate_json(out).person.ethnicity_text == "Black\ufffd"


def test_lone_surrogates_in_process_are_replaced(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "4.2", "--ethnicity", "\udcff\ud800", "--json")
    assert (code, err) == (0, "")
    assert Interpretation.model_validate_json(out).person.ethnicity_text == "\ufffd" * 2


def test_an_input_error_is_one_line_with_exit_2_from_a_real_process() -> None:
    done = _command("check", "abc")
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode().startswith("cbc-ranges: error: ")
    assert done.stderr.count(b"\n") == 1


@pytest.mark.parametrize(
    ("raise_", "name"),
    [
        ("raise TypeError('unhashable type: list')", "TypeError"),
        ("raise AttributeError('no such thing')", "AttributeError"),
        ("raise RuntimeError('line one\\nline two')", "RuntimeError"),
    ],
)
def test_a_bug_is_one_line_internal_error_with_exit_1(raise_: str, name: str) -> None:
    done = _patched(raise_, "check", "4.2")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"cbc-ranges: internal error: {name}: ")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_a_bug_shows_its_traceback_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CBC_RANGES_TRACEBACK", "1")
    done = _patched("raise TypeError('a bug')", "check", "4.2")
    assert done.returncode == 1  # Python's own exit code for an uncaught exception
    assert "Traceback" in done.stderr


def test_a_bug_in_process_returns_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import cbc_ranges.cli as cli

    def broken(args: object) -> int:
        raise TypeError("a bug")

    monkeypatch.delenv("CBC_RANGES_TRACEBACK", raising=False)
    monkeypatch.setattr(cli, "run_check", broken)
    code, out, err = run(capsys, "check", "4.2")
    assert (code, out) == (1, "")
    assert err.startswith("cbc-ranges: internal error: TypeError: a bug")


def test_ctrl_c_exits_130_quietly() -> None:
    done = _patched("raise KeyboardInterrupt", "check", "4.2")
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "")


@pytest.mark.parametrize(
    "argv",
    [("ranges",), ("check", "4.2"), ("check", "4.2", "--format", "fhir"), ("schema",)],
)
def test_a_closed_stdout_exits_141_quietly(argv: tuple[str, ...]) -> None:
    # the reading end is closed before the command starts: every write meets a broken pipe
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = _command(*argv, stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert done.stderr == b""


@pytest.mark.parametrize(
    ("argv", "first"),
    [("ranges", "# "), ("--help", "usage: cbc-ranges"), ("--version", "cbc-ranges ")],
)
def test_head_reading_one_line_is_not_an_error(argv: str, first: str) -> None:
    shell = f"{sys.executable} -m cbc_ranges {argv} | head -1; echo status=${{PIPESTATUS[0]}}"
    done = subprocess.run(
        ["bash", "-c", shell], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.startswith(first)
    assert done.stdout.strip().splitlines()[-1] in ("status=0", "status=141")
    assert done.stderr == ""


@pytest.mark.parametrize("argv", [("--help",), ("--version",)])
def test_help_and_version_into_a_closed_pipe_are_quiet(argv: tuple[str, ...]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = _command(*argv, stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode in (0, 141)  # argparse itself ignores a failed write of its help
    assert done.stderr == b""


def test_version_prints_the_name_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"cbc-ranges {cbc_ranges.__version__}\n"
    done = _command("--version")
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode() == f"cbc-ranges {cbc_ranges.__version__}\n"


def test_check_reads_another_analyte(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    table = tmp_path / "diff.csv"
    table.write_text(
        "id,analyte,kind,age_from,age_unit,sex,population,low,high,unit,source\n"
        "anc,neutrophils,reference_interval,18,years,any,any,1.8,7.8,10^9/L,wikipedia\n"
        "pct,neutrophils,reference_interval,18,years,any,any,40,75,%,wikipedia\n",
        encoding="utf-8",
    )
    assert main(["check", "1.2", "--unit", "K/uL", "--analyte", "ANC", "--age", "40",
                 "--table", str(table), "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert (result["analyte"], result["flag"], result["reference"]["low"]) == (
        "neutrophils",
        "low",
        1.8,
    )
    assert main(["check", "80", "--unit", "%", "--analyte", "neutrophils", "--age", "40",
                 "--table", str(table), "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["flag"] == "high"
    assert main(["check", "1.2", "--analyte", "neutrofils"]) == 2
    assert "did you mean 'neutrophils'" in capsys.readouterr().err


def test_check_takes_duffy_wbc_and_grading(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "30", "--unit", "%", "--analyte", "neutrophils", "--wbc", "6.0 K/uL"]
    assert main([*argv, "--age", "40", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["count"]["value"], result["percentage"]) == (1.8, 30.0)
    assert main(["check", "0.5", "--age", "40", "--grading", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["grade"] is None
    assert main(["check", "2", "--duffy", "maybe"]) == 2
    assert "Duffy status 'maybe' cannot be read" in capsys.readouterr().err
    assert main(["check", "2", "--grading", "ctcae-5"]) == 2
    assert "did you mean 'ctcae-v5'" in capsys.readouterr().err


def test_check_text_shows_summary_severity_and_grade(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "0.8", "--unit", "K/uL", "--analyte", "ANC", "--age", "40"]) == 0
    out = capsys.readouterr().out
    assert "summary: This count of neutrophils is far below" in out
    assert "severity: moderate" in out
    assert "grade: 3 (CTCAE v5.0, Neutrophil count decreased)" in out
    assert "leukopenia:" not in out  # a total-count threshold, not shown for neutrophils
    assert main(["check", "4.2", "--unit", "K/uL", "--age", "40", "--sex", "M"]) == 0
    assert "table's flag" not in capsys.readouterr().out
