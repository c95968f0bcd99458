"""The examples of docs/embedding.md run, and print what the page says they print."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

PAGE = Path(__file__).parents[1] / "docs" / "embedding.md"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _sections() -> list[tuple[str, str]]:
    """The page cut at its ``##`` headings: (heading, text), so a failure names its section."""
    text = PAGE.read_text(encoding="utf-8")
    parts = re.split(r"^(## .+)$", text, flags=re.MULTILINE)
    return [(parts[i][3:], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def test_the_page_has_examples_in_every_section() -> None:
    parser = doctest.DocTestParser()
    counts = {title: len(parser.get_examples(text)) for title, text in _sections()}
    assert set(counts) >= {
        "FHIR in and out",
        "DataFrames",
        "Data that outgrows one machine: Dask and Spark",
        "JSON and JSON Schema",
        "Threads",
    }
    assert [title for title, count in counts.items() if count == 0] == ["A light import"]


def test_every_python_block_is_run() -> None:
    # a ```pycon block is run here; a ```python block needs a cluster (Dask, Spark), so it is
    # marked <!-- run by tests/test_x.py -->, and that test file runs the page's marked blocks
    text = PAGE.read_text(encoding="utf-8")
    blocks = re.findall(r"(?:<!-- run by (\S+) -->\n)?```python\n", text)
    assert blocks, "no python block: drop this test or the markers"
    for runner in blocks:
        assert runner, "a ```python block that no test runs"
        source = (PAGE.parents[1] / runner).read_text(encoding="utf-8")
        assert f'run_blocks("{runner}"' in source, runner


def test_the_examples_run_in_page_order() -> None:
    # one namespace for the whole page, section after section, as a reader would run them
    globs: dict[str, object] = {}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for heading, text in _sections():
        test = parser.get_doctest(text, globs, heading, str(PAGE), 0)
        runner.run(test, out=report.append, clear_globs=False)
        globs = test.globs  # a DocTest works on a copy: carry the names on
    assert runner.tries > 20
    assert runner.failures == 0, "".join(report)
