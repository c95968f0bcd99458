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

Each figure is the median time of one call, every call timed on its own (7 passes over the
mix; the cheaper "caches emptied" row over a tenth of it), the clock's own cost taken off. A
median of single calls is robust to other work on the machine, which a mean is not.
"""

from __future__ import annotations

import gc
import platform
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from cbc_ranges.count import parse_count
from cbc_ranges.interpretation import interpret, interpret_count
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


def _median_per_call(call: Callable[[Any], object], items: list[Any]) -> float:
    """Median seconds of one ``call(item)``, each call timed on its own, over REPEATS passes.

    Timing calls one by one makes the median robust to other work on the machine; the
    cost of reading the clock is measured the same way and taken off.
    """
    clock = time.perf_counter_ns
    samples: list[int] = []
    empty: list[int] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: collections land on arbitrary calls
    try:
        for _ in range(REPEATS):
            for item in items:
                start = clock()
                call(item)
                samples.append(clock() - start)
                start = clock()
                empty.append(clock() - start)
    finally:
        if gc_was_enabled:
            gc.enable()
    return (statistics.median(samples) - statistics.median(empty)) / 1e9


def main() -> None:
    cases = _cases()
    counts = [(parse_count(text, unit), person) for text, unit, person in cases]
    table = get_table()
    for text, unit, person in cases:  # every spelling and person seen once
        interpret(text, unit, **person)

    cache = table.derived_cache()

    def uncached(item: tuple[Any, dict[str, Any]]) -> object:
        cache.clear()
        return interpret_count(item[0], **item[1])

    rows = [
        (
            "`parse_count(value, unit)` alone (baseline)",
            _median_per_call(lambda case: parse_count(case[0], case[1]), cases),
        ),
        (
            "`interpret(value, unit, age=, sex=, ethnicity=)`",
            _median_per_call(lambda case: interpret(case[0], case[1], **case[2]), cases),
        ),
        (
            "`interpret_count(count, ...)` (count parsed beforehand)",
            _median_per_call(lambda item: interpret_count(item[0], **item[1]), counts),
        ),
        (
            "`interpret_count` with the table's caches emptied",
            _median_per_call(uncached, counts[: CALLS // 10]),
        ),
        (
            "`interpret(...).model_dump_json()`",
            _median_per_call(
                lambda case: interpret(case[0], case[1], **case[2]).model_dump_json(), cases
            ),
        ),
    ]
    print(
        f"CPython {platform.python_version()}: median of {REPEATS} x {CALLS:,} calls, "
        "each timed on its own"
    )
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
