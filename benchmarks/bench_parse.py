"""Benchmark: parse_count with already-seen spellings, against pint alone; import cost.

Run from the repository root, in the project's environment:

    python benchmarks/bench_parse.py

It prints a Markdown table (the one in docs/performance.md) measured in one run:

- ``parse_count(value, unit)`` per call, result model included, over a mix of lab
  spellings that have all been seen before (the steady state of any real file);
- the naive way with pint alone: ``ureg.Quantity(text).to(...)`` per value, with the
  spelling fixed by hand into something pint reads correctly (pint cannot read the lab
  spellings themselves: it takes K for kelvin and G for gauss);
- ``import cbc_ranges`` against ``import pydantic`` (``python -X importtime``, the
  cumulative time of the top-level import, median of several fresh processes), and
  whether importing cbc_ranges loads pint.
"""

from __future__ import annotations

import random
import re
import statistics
import subprocess
import sys
import timeit

from cbc_ranges import parse_count

# (lab spelling, the same unit fixed by hand for pint, factor to 10^9/L)
SPELLINGS = [
    ("K/uL", "1e3 / microliter"),
    ("10*9/L", "1e9 / liter"),
    ("x10E3/uL", "1e3 / microliter"),
    ("G/L", "1e9 / liter"),
    ("cells/µL", "1 / microliter"),
    ("/mm3", "1 / millimeter ** 3"),
    ("THOU/CUMM", "1e3 / millimeter ** 3"),
    ("10^9/l", "1e9 / liter"),
]
CALLS = 20_000
REPEATS = 7


def _cases(seed: int = 7) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(CALLS):
        spelling, fixed = rng.choice(SPELLINGS)
        value = rng.uniform(1.0, 15.0)
        if fixed.startswith("1 /"):
            value *= 1000
        cases.append((f"{value:.1f}", spelling, fixed))
    return cases


def _per_call(function: object, repeats: int = REPEATS) -> float:
    """Median seconds per call of ``function()``, which loops over all the cases."""
    timer = timeit.Timer(function)  # type: ignore[arg-type]
    runs = timer.repeat(repeat=repeats, number=1)
    return statistics.median(runs) / CALLS


def bench_parse() -> tuple[float, float]:
    cases = _cases()
    for value, spelling, _ in cases[:100]:  # every spelling seen once
        parse_count(value, spelling)

    def ours() -> None:
        for value, spelling, _ in cases:
            parse_count(value, spelling)

    import pint

    ureg = pint.UnitRegistry()
    target = ureg.Unit("1 / liter")
    pint_cases = cases[: CALLS // 10]  # pint is slow; a tenth of the cases, same mix

    def naive() -> None:
        for value, _, fixed in pint_cases:
            ureg.Quantity(f"{value} * {fixed}").to(target).magnitude / 1e9

    ours_s = _per_call(ours)
    naive_s = _per_call(naive, repeats=3) * 10  # per call: the loop ran a tenth of the cases
    return ours_s, naive_s


_IMPORT_LINE = re.compile(r"import time:\s+\d+\s+\|\s+(\d+)\s+\|\s*(\S+)\s*$")


def import_microseconds(statement: str, module: str, runs: int = 9) -> float:
    """Median cumulative import time of ``module`` in fresh processes, by -X importtime."""
    times = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", statement],
            capture_output=True,
            text=True,
            check=True,
        )
        for line in result.stderr.splitlines():
            match = _IMPORT_LINE.match(line)
            if match and match[2] == module:
                times.append(float(match[1]))
    return statistics.median(times)


def wall_milliseconds(code: str, runs: int = 9) -> float:
    """Median wall time of ``code`` in fresh processes (imports and class building)."""
    timed = (
        "import time\n_t = time.perf_counter()\n"
        + code
        + "\nprint((time.perf_counter() - _t) * 1000)"
    )
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", timed], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


ONE_MODEL = """
from pydantic import BaseModel, ConfigDict
class Example(BaseModel):
    model_config = ConfigDict(frozen=True)
    value: float
"""


def loads_pint() -> bool:
    code = "import sys, cbc_ranges; print('pint' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return result.stdout.strip() == "True"


def main() -> None:
    ours_s, naive_s = bench_parse()
    pydantic_us = import_microseconds("import pydantic", "pydantic")
    ours_us = import_microseconds("import cbc_ranges", "cbc_ranges")
    one_model_ms = wall_milliseconds(ONE_MODEL)
    core_ms = wall_milliseconds("from cbc_ranges import parse_count")
    print(f"Python {sys.version.split()[0]}, {CALLS} calls x {REPEATS} repeats\n")
    print("| measurement | result | target |")
    print("| --- | --- | --- |")
    print(f"| `parse_count`, seen spelling, median per call | {ours_s * 1e6:.2f} µs | ≤ 5 µs |")
    print(
        f"| pint alone, `ureg.Quantity(text).to(...)`, median per call | {naive_s * 1e6:.1f} µs | |"
    )
    print(f"| speed-up over pint alone | {naive_s / ours_s:.0f}× | ≥ 20× |")
    print(f"| `import pydantic` (cumulative, median) | {pydantic_us / 1000:.1f} ms | |")
    print(
        f"| `import cbc_ranges` (cumulative, median) | {ours_us / 1000:.1f} ms "
        f"({ours_us / pydantic_us:.2f}× pydantic) | ≤ 1.5× |"
    )
    print(
        f"| `from pydantic import BaseModel` and one frozen model (wall, median) | "
        f"{one_model_ms:.1f} ms | |"
    )
    print(
        f"| `from cbc_ranges import parse_count` (parser and result models, wall, median) | "
        f"{core_ms:.1f} ms ({core_ms / one_model_ms:.2f}× pydantic with one model) | |"
    )
    print(f"| `import cbc_ranges` loads pint | {'yes' if loads_pint() else 'no'} | no |")


if __name__ == "__main__":
    main()
