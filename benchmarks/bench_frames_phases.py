"""Where the time of ``interpret_frame`` goes, phase by phase, for versions of ``frames.py``.

Run from the repository root, in the project's environment:

    git show main:src/cbc_ranges/frames.py > /tmp/frames_main.py
    python benchmarks/bench_frames_phases.py --version main=/tmp/frames_main.py --rounds 5

Each ``--version NAME=FILE`` is an older copy of ``src/cbc_ranges/frames.py``, loaded as a
module of its own next to this tree's (it must use the same row engine, ``cbc_ranges.rows``,
and have a ``_Groups`` class with ``counts``, ``class_numbers`` and ``results``); "this tree"
is always timed too. The CSV file (``--rows`` rows of ``make_data`` from ``bench_frames.py``)
is read once into a pandas and a polars frame; then every version interprets each frame in
turn, for ``--rounds`` rounds, each call with empty row caches. The time of a call is split:

- **parse**: ``_Groups.counts``, one ``RowInterpreter.parse`` per distinct (value, unit) pair;
- **people**: ``_Groups.class_numbers``, one ``RowInterpreter.person`` per distinct person;
- **results**: ``_Groups.results``, one ``RowInterpreter.combine`` per distinct (count, class);
- **array work**: the rest: numbering the distinct keys, building and spreading the columns.

It prints best and median seconds of each phase for each version.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from bench_frames import make_data

import cbc_ranges.frames

OUT = Path(__file__).parent / "out"
KEYS = {"value": "wbc", "unit": "unit", "age": "age", "sex": "sex", "ethnicity": "ethnicity"}
STEPS = {"counts": "parse", "class_numbers": "people", "results": "results"}


def load(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"frames_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def instrument(module: ModuleType, spent: dict[str, float]) -> None:
    """Add each step's time to ``spent``, by wrapping the methods of the module's _Groups."""
    for method, phase in STEPS.items():
        original = getattr(module._Groups, method)

        def timed(self: Any, *args: Any, _original: Any = original, _phase: str = phase) -> Any:
            start = time.perf_counter()
            try:
                return _original(self, *args)
            finally:
                spent[_phase] = spent.get(_phase, 0.0) + time.perf_counter() - start

        setattr(module._Groups, method, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--version", action="append", default=[], metavar="NAME=FILE")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    versions = {name: load(name, path) for name, path in (v.split("=", 1) for v in args.version)}
    versions["this tree"] = cbc_ranges.frames
    spent: dict[str, float] = {}
    for module in versions.values():
        instrument(module, spent)

    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / f"hand_{args.rows}.csv"  # the file of bench_frames_vs_hand.py
    if not source.exists():
        pd.DataFrame(make_data(args.rows)).to_csv(source, index=False)
    frames = {"polars": pl.read_csv(source), "pandas": pd.read_csv(source)}
    for frame in frames.values():
        for module in versions.values():
            module.interpret_frame(frame.head(100), **KEYS)  # load tables and libraries

    phases = ["total", *STEPS.values(), "array work"]
    times: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(args.rounds):
        for library, frame in frames.items():
            for name, module in versions.items():
                spent.clear()
                start = time.perf_counter()
                module.interpret_frame(frame, **KEYS)
                total = time.perf_counter() - start
                split = {"total": total, **spent, "array work": total - sum(spent.values())}
                for phase in phases:
                    times.setdefault((library, name, phase), []).append(split[phase])

    print(f"rows: {args.rows:,}; rounds: {args.rounds}; best / median seconds per call")
    print()
    print("| frame | phase | " + " | ".join(versions) + " |")
    print("| --- | --- |" + " ---: |" * len(versions))
    for library in frames:
        for phase in phases:
            cells = [times[(library, name, phase)] for name in versions]
            shown = [f"{min(c):.2f} / {statistics.median(c):.2f}" for c in cells]
            print(f"| {library} | {phase} | " + " | ".join(shown) + " |")


if __name__ == "__main__":
    main()
