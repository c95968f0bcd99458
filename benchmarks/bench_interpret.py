"""Benchmark: interpret() per call with already-seen spellings and people, result and text included.

Run from the repository root, in the project's environment:

    python benchmarks/bench_interpret.py

It prints a Markdown table (the one in docs/performance.md) measured side by side in one
run, over the same mix of 20,000 calls (values 0.5-20 with a few censored ones, eight lab
spellings, people of every age group, sex and ethnicity group the table knows):

- ``parse_count(value, unit)`` alone: the baseline, the parse every interpretation starts with;
- ``interpret(value, unit, age=, sex=, ethnicity=)``: parse, person, rows, flag, text and the
  ``Interpretation`` model; every spelling and person already seen (the steady state);
- ``interpret_count(count, ...)`` on counts parsed beforehand (what batch and DataFrames call);
- the same ``interpret_count`` with the table's caches emptied before every call, so the
  person is read and the text assembled each time: what the caches save;
- ``interpret(...).model_dump_json()``: the result all the way to JSON.

Each figure is the median over 7 runs of the mean time per call within a run.
"""

from __future__ import annotations

import platform
import random
import statistics
import timeit
from collections.abc import Callable
from typing import Any

from cbc_ranges.count import parse_count
from cbc_ranges.interpret import interpret, interpret_count
from cbc_ranges.ranges import get_table

SPELLINGS = [
    ("{v:.1f}", "K/uL"),
    ("{v:.1f}", "10*9/L"),
    ("{v:.1f}", "G/L"),
    ("{v:.2f}", "x10E3/uL"),
    ("{c:,.0f}", "cells/µL"),
    ("{c:.0f}", "/mm3"),
    ("{v:.1f} x10^9/L", None),
    ("<{v:.1f}", "K/uL"),
]
PEOPLE: list[dict[str, Any]] = [
    {"age": 45, "sex": "female"},
    {"age": 45, "sex": "male"},
    {"age": 70, "sex": None},
    {"age": "6 months", "sex": "M"},
    {"age": 8, "sex": "F"},
    {"age": None, "sex": "female"},
    {"age": 30, "sex": "F", "ethnicity": "Black"},
    {"age": 52, "sex": "m", "ethnicity": "Arab"},
]
CALLS = 20_000
REPEATS = 7


def _cases(seed: int = 3) -> list[tuple[str, str | None, dict[str, Any]]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(CALLS):
        value = rng.uniform(0.5, 20.0)
        pattern, unit = rng.choice(SPELLINGS)
        text = pattern.format(v=value, c=value * 1000)
        cases.append((text, unit, rng.choice(PEOPLE)))
    return cases


def _per_call(loop: Callable[[], None], calls: int) -> float:
    """Median over REPEATS runs of the mean seconds per call of ``loop()``."""
    runs = timeit.Timer(loop).repeat(repeat=REPEATS, number=1)
    return statistics.median(runs) / calls


def main() -> None:
    cases = _cases()
    counts = [(parse_count(text, unit), person) for text, unit, person in cases]
    table = get_table()
    for text, unit, person in cases:  # every spelling and person seen once
        interpret(text, unit, **person)

    def parse_only() -> None:
        for text, unit, _ in cases:
            parse_count(text, unit)

    def full() -> None:
        for text, unit, person in cases:
            interpret(text, unit, **person)

    def parsed() -> None:
        for count, person in counts:
            interpret_count(count, **person)

    few = counts[: CALLS // 10]
    cache = table.derived_cache()

    def uncached() -> None:
        for count, person in few:
            cache.clear()
            interpret_count(count, **person)

    def to_json() -> None:
        for text, unit, person in cases:
            interpret(text, unit, **person).model_dump_json()

    rows = [
        ("`parse_count(value, unit)` alone (baseline)", _per_call(parse_only, CALLS)),
        ("`interpret(value, unit, age=, sex=, ethnicity=)`", _per_call(full, CALLS)),
        ("`interpret_count(count, ...)` (count parsed beforehand)", _per_call(parsed, CALLS)),
        ("`interpret_count` with the table's caches emptied", _per_call(uncached, len(few))),
        ("`interpret(...).model_dump_json()`", _per_call(to_json, CALLS)),
    ]
    print(f"CPython {platform.python_version()}, {CALLS:,} calls per run, median of {REPEATS}")
    print()
    print("| what | µs per call |")
    print("| --- | ---: |")
    for label, seconds in rows:
        print(f"| {label} | {seconds * 1e6:.1f} |")
    overhead = rows[1][1] - rows[0][1]
    print()
    print(f"interpretation on top of parsing: {overhead * 1e6:.1f} µs per call")


if __name__ == "__main__":
    main()
