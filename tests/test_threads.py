"""``interpret`` from many threads at once gives what one thread gives.

Two situations: a warm library (tables and unit spellings already loaded), and
a cold start in a fresh interpreter, where 8 threads released together by a
barrier all trigger the lazy loading at the same moment. The thread switch
interval is made tiny there so that an unlocked lazy load would interleave.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cbc_ranges import interpret

THREADS = 8

VALUES = [("3.1", "10*9/L"), ("4200", "cells/µL"), ("12.5", "K/uL"), ("<1.0", None), ("4,2", "G/L")]
PEOPLE: list[dict[str, Any]] = [
    {"age": age, "sex": sex, "ethnicity": ethnicity}
    for age, sex, ethnicity in itertools.product(
        [None, 8, "6 months", 40], [None, "F", "male"], [None, "African"]
    )
]
CASES = [(value, unit, person) for (value, unit), person in itertools.product(VALUES, PEOPLE)]


def _one(case: tuple[str, str | None, dict[str, Any]]) -> str:
    value, unit, person = case
    return interpret(value, unit, **person).model_dump_json()


def test_eight_threads_give_the_single_threaded_results() -> None:
    expected = [_one(case) for case in CASES]
    start = threading.Barrier(THREADS)

    def worker(offset: int) -> list[str]:
        start.wait()
        # each thread walks the cases from a different place, so they overlap in time
        order = CASES[offset:] + CASES[:offset]
        got = [_one(case) for case in order]
        return got[len(CASES) - offset :] + got[: len(CASES) - offset]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(worker, [i * len(CASES) // THREADS for i in range(THREADS)]))
    for got in results:
        assert got == expected


COLD_START = """
import json, sys, threading
sys.setswitchinterval(1e-6)
import cbc_ranges
from cbc_ranges.explain import blocks
from cbc_ranges.ranges import get_table

cases = json.loads(sys.argv[1])
start = threading.Barrier(len(cases))
out = [None] * len(cases)
tables = [None] * len(cases)

def worker(i):
    value, unit, person = cases[i]
    start.wait()
    out[i] = cbc_ranges.interpret(value, unit, **person).model_dump_json()
    tables[i] = (id(get_table(None)), id(blocks()))

threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(cases))]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"results": out, "distinct_loads": len(set(tables))}))
"""


def test_a_cold_start_from_eight_threads_loads_once_and_agrees() -> None:
    cases = [CASES[i * 7 % len(CASES)] for i in range(THREADS)]
    expected = [_one(case) for case in cases]
    for _ in range(2):  # two fresh interpreters: a race has two chances to show
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(COLD_START), json.dumps(cases)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        # every thread sees the one table and the one set of text blocks
        assert report["distinct_loads"] == 1
        assert report["results"] == expected
