"""Benchmark: ``interpret_frame`` against hand-written polars and pandas programs, read to write.

Run from the repository root, in the project's environment:

    python benchmarks/bench_frames_vs_hand.py                 # 1,000,000 rows, 5 rounds
    python benchmarks/bench_frames_vs_hand.py --rows 100000 --rounds 3

One CSV file of lab-shaped rows is written first (``make_data`` of ``bench_frames.py``: ten unit
spellings, a tenth of the values with the unit inside the cell, ages 0-95, five spellings of sex,
a few ethnicities, 0.2 % bad values) to ``benchmarks/out/`` (gitignored). Then four programs
each read that file, work out the WBC columns and write a CSV file, side by side in this process
and alternating (hand polars, ``interpret_frame`` polars, hand pandas, ``interpret_frame``
pandas, then again, for ``--rounds``), so that a busy machine slows them alike:

- **hand polars**: ``pl.read_csv``, a unit-factor dict through ``replace_strict``, ``when/then``
  flags against one adult and one child interval, ``write_csv``;
- **hand pandas**: ``pd.read_csv``, the same unit-factor dict through ``map``, ``np.select``,
  ``to_csv``;
- **interpret_frame polars / pandas**: the same read, ``interpret_frame`` (every result column)
  and the same write;
- **interpret_frame polars, lazy**: ``pl.scan_csv``, ``interpret_frame`` on the LazyFrame,
  ``sink_csv``: reading, interpreting and writing overlap, batch by batch (not in the ratios:
  the hand programs are eager);
- with ``--version NAME=FILE``, the two eager ``interpret_frame`` programs again with an older
  copy of ``src/cbc_ranges/frames.py`` (before and after in the same run).

The hand programs are the baseline a data engineer would write in ten minutes: they know ten
unit spellings, no unit inside the value, no censored values, no warnings and two reference
intervals, so they are a floor, not an equal. Every ``interpret_frame`` call starts with empty
row caches; the libraries and the range tables are loaded by a warm-up before any timing. It
prints a Markdown table: best and median seconds per program and the ratios
``interpret_frame`` / hand, best over best and median over median.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from bench_frames import make_data

from cbc_ranges import interpret_frame

OUT = Path(__file__).parent / "out"
KEYS = {"value": "wbc", "unit": "unit", "age": "age", "sex": "sex", "ethnicity": "ethnicity"}

# the unit spellings of the file and their factor to 10^9/L, as a hand-written program has them
FACTORS: dict[str, float] = {
    "10^9/L": 1.0,
    "x10E3/uL": 1.0,
    "K/uL": 1.0,
    "K/µL": 1.0,
    "G/L": 1.0,
    "10*3/uL": 1.0,
    "THOU/CUMM": 1.0,
    "cells/µL": 0.001,
    "/mm3": 0.001,
    "/uL": 0.001,
}
# (low, high) in 10^9/L for adults (18 and over) and for children
ADULT, CHILD = (4.5, 11.0), (5.0, 13.5)


def hand_polars(source: Path, target: Path) -> None:
    frame = pl.read_csv(source)
    number = pl.col("wbc").str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
    factor = pl.col("unit").replace_strict(FACTORS, default=None, return_dtype=pl.Float64)
    count = (number * factor).alias("wbc_value")
    adult = pl.col("age") >= 18
    low = pl.when(adult).then(ADULT[0]).otherwise(CHILD[0])
    high = pl.when(adult).then(ADULT[1]).otherwise(CHILD[1])
    flag = (
        pl.when(count.is_null())
        .then(None)
        .when(count < low)
        .then(pl.lit("low"))
        .when(count > high)
        .then(pl.lit("high"))
        .otherwise(pl.lit("normal"))
        .alias("wbc_flag")
    )
    frame.with_columns(count, flag).write_csv(target)


def hand_pandas(source: Path, target: Path) -> None:
    frame = pd.read_csv(source)
    number = pd.to_numeric(frame["wbc"].str.replace(",", "", regex=False), errors="coerce")
    count = (number * frame["unit"].map(FACTORS)).to_numpy(dtype=np.float64)
    adult = (frame["age"] >= 18).to_numpy()
    low = np.where(adult, ADULT[0], CHILD[0])
    high = np.where(adult, ADULT[1], CHILD[1])
    frame["wbc_value"] = count
    frame["wbc_flag"] = np.select(
        [np.isnan(count), count < low, count > high], [None, "low", "high"], "normal"
    )
    frame.to_csv(target, index=False)


def frame_polars(source: Path, target: Path) -> None:
    interpret_frame(pl.read_csv(source), **KEYS).write_csv(target)


def frame_polars_lazy(source: Path, target: Path) -> None:
    interpret_frame(pl.scan_csv(source), **KEYS).sink_csv(target)


def frame_pandas(source: Path, target: Path) -> None:
    interpret_frame(pd.read_csv(source), **KEYS).to_csv(target, index=False)


PROGRAMS: dict[str, Callable[[Path, Path], None]] = {
    "hand polars": hand_polars,
    "interpret_frame polars": frame_polars,
    "interpret_frame polars, lazy (scan_csv, sink_csv)": frame_polars_lazy,
    "hand pandas": hand_pandas,
    "interpret_frame pandas": frame_pandas,
}


def slug(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_")


def older(name: str, path: str) -> dict[str, Callable[[Path, Path], None]]:
    """The two eager programs with an older copy of ``frames.py`` (same row engine)."""
    spec = importlib.util.spec_from_file_location(f"frames_{slug(name)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def on_polars(source: Path, target: Path) -> None:
        module.interpret_frame(pl.read_csv(source), **KEYS).write_csv(target)

    def on_pandas(source: Path, target: Path) -> None:
        module.interpret_frame(pd.read_csv(source), **KEYS).to_csv(target, index=False)

    return {
        f"{name}: interpret_frame polars": on_polars,
        f"{name}: interpret_frame pandas": on_pandas,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--version", action="append", default=[], metavar="NAME=FILE",
        help="also time an older copy of src/cbc_ranges/frames.py (git show main:...)",
    )  # fmt: skip
    args = parser.parse_args()
    programs = dict(PROGRAMS)
    for version in args.version:
        programs.update(older(*version.split("=", 1)))
    # each library's programs next to each other, so that they meet the same load
    programs = dict(sorted(programs.items(), key=lambda item: "pandas" in item[0]))

    OUT.mkdir(parents=True, exist_ok=True)
    source = OUT / f"hand_{args.rows}.csv"
    if not source.exists():
        pd.DataFrame(make_data(args.rows)).to_csv(source, index=False)
    warm = OUT / "hand_warm_up.csv"
    pd.read_csv(source, nrows=1000).to_csv(warm, index=False)
    for name, program in programs.items():
        program(warm, OUT / f"hand_warm_up.{slug(name)}.csv")

    times: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(args.rounds):
        for name, program in programs.items():
            start = time.perf_counter()
            program(source, OUT / f"hand_{args.rows}.{slug(name)}.csv")
            times[name].append(time.perf_counter() - start)

    print(f"rows: {args.rows:,}; rounds: {args.rounds}; file: {source.stat().st_size:,} bytes")
    print(f"python {platform.python_version()}, pandas {pd.__version__}, polars {pl.__version__}")
    print()
    print("| program (read + work + write) | best (s) | median (s) | every round (s) |")
    print("| --- | ---: | ---: | --- |")
    for name, seconds in times.items():
        rounds = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"| {name} | {min(seconds):.2f} | {statistics.median(seconds):.2f} | {rounds} |")
    print()
    print("| ratio | best / best | median / median | target |")
    print("| --- | ---: | ---: | ---: |")
    for library, target in (("polars", 1.2), ("pandas", 1.5)):
        hand = times[f"hand {library}"]
        for prefix in ["", *(f"{v.split('=', 1)[0]}: " for v in args.version)]:
            ours = times[f"{prefix}interpret_frame {library}"]
            best = min(ours) / min(hand)
            median = statistics.median(ours) / statistics.median(hand)
            label = f"{prefix}interpret_frame / hand, {library}"
            print(f"| {label} | {best:.2f} | {median:.2f} | {target} |")


if __name__ == "__main__":
    main()
