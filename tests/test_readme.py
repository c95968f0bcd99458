"""The README's Python example runs as written, and its quick start names real files."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_python_example_runs() -> None:
    results = doctest.testfile(
        str(README), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert results.attempted >= 5
    assert results.failed == 0


def test_quick_start_is_two_commands_on_shipped_files() -> None:
    text = README.read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", quick_start)
    assert len(commands) == 2
    install_and_run, install_and_test = commands
    example = re.search(r"cbc-ranges batch (\S+)", install_and_run)
    assert example is not None and (ROOT / example[1]).is_file()
    assert install_and_test.endswith("pip install -e '.[test]' && pytest")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    text = README.read_text(encoding="utf-8")
    quick_start = text.split("## Quick start", 1)[1]
    test_command = re.findall(r"```sh\n(.+?)\n```", quick_start)[1]
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines
