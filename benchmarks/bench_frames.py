"""Benchmark: ``interpret_frame`` on 1,000,000-row pandas and polars frames vs the batch CSV path.

Run from the repository root, in the project's environment:

    python benchmarks/bench_frames.py            # 1,000,000 rows
    python benchmarks/bench_frames.py --rows 100000

One run builds a frame of lab-shaped rows with a fixed seed (mixed units: 10^9/L,
K/uL, G/L, per-microlitre spellings with thousands separators, some units inside
the value cell, a few bad values; ages 0-95 as numbers, five spellings of sex, a
few ethnicities), then times side by side, in this process:

- ``interpret_frame`` on the pandas frame;
- ``interpret_frame`` on the polars frame built from the same data;
- ``check_csv`` (the ``cbc-ranges batch`` engine) on a CSV file written from the
  same frame, with its output written to ``benchmarks/out/`` (gitignored).

Each is run ``--repeats`` times (default 2) and the best time is kept. Every call
starts with empty row caches (each builds its own row interpreter); the range
tables, the unit registry and the libraries are loaded by a warm-up call on 100
rows before any timing, and the CSV file is written before timing. It prints
a Markdown table, the one in the ``## DataFrames`` section of docs/performance.md,
and checks that the frame and the CSV output agree on the flag of every row.
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from cbc_ranges import check_csv, interpret_frame

OUT = Path(__file__).parent / "out"

# (unit spelling, scale from 10^9/L to the unit, how the lab writes the number)
UNITS: list[tuple[str, float, str]] = [
    ("10^9/L", 1.0, "{:.1f}"),
    ("x10E3/uL", 1.0, "{:.1f}"),
    ("K/uL", 1.0, "{:.1f}"),
    ("K/µL", 1.0, "{:.2f}"),
    ("G/L", 1.0, "{:.1f}"),
    ("10*3/uL", 1.0, "{:.1f}"),
    ("THOU/CUMM", 1.0, "{:.1f}"),
    ("cells/µL", 1000.0, "{:,.0f}"),
    ("/mm3", 1000.0, "{:.0f}"),
    ("/uL", 1000.0, "{:.0f}"),
]
SEXES = ["F", "M", "female", "male", ""]
ETHNICITIES = ["", "", "", "African", "Irish", "Middle Eastern"]
BAD_VALUES = ["", "clotted", "see note", "-1"]


def make_data(rows: int, seed: int = 20260101) -> dict[str, Any]:
    """Columns of a lab export; vectorised with numpy so that building 1M rows is quick."""
    rng = np.random.default_rng(seed)
    counts = np.clip(rng.lognormal(mean=np.log(6.5), sigma=0.45, size=rows), 0.1, 80.0)
    unit_index = rng.integers(0, len(UNITS), size=rows)
    values = np.empty(rows, dtype=object)
    units = np.empty(rows, dtype=object)
    for index, (spelling, scale, pattern) in enumerate(UNITS):
        mask = unit_index == index
        scaled = np.round(counts[mask] * scale, 2 if scale == 1.0 else -1)
        distinct, inverse = np.unique(scaled, return_inverse=True)
        formatted = np.array([pattern.format(v) for v in distinct], dtype=object)
        values[mask] = formatted[inverse]
        units[mask] = spelling
    # a tenth of the rows carry the unit in the value cell, as some exports do
    inline = rng.random(rows) < 0.1
    values[inline] = values[inline] + " " + units[inline]
    units[inline] = ""
    bad = rng.random(rows) < 0.002
    values[bad] = rng.choice(np.array(BAD_VALUES, dtype=object), size=int(bad.sum()))
    return {
        "patient_id": np.arange(rows, dtype=np.int64) + 100_000,
        "wbc": values,
        "unit": units,
        "age": rng.integers(0, 96, size=rows),
        "sex": rng.choice(np.array(SEXES, dtype=object), size=rows),
        "ethnicity": rng.choice(np.array(ETHNICITIES, dtype=object), size=rows),
    }


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    data = make_data(args.rows)
    pandas_frame = pd.DataFrame(
        {name: pd.array(column, dtype="string") if column.dtype == object else column
         for name, column in data.items()}
    )  # fmt: skip
    polars_frame = pl.DataFrame({name: list(column) for name, column in data.items()})
    source = OUT / f"frames_{args.rows}.csv"
    target = OUT / f"frames_{args.rows}.wbc.csv"
    pandas_frame.to_csv(source, index=False, quoting=csv.QUOTE_MINIMAL)
    keys = {"value": "wbc", "unit": "unit", "age": "age", "sex": "sex", "ethnicity": "ethnicity"}

    # load the tables, the unit registry and both libraries before any timing
    warm = OUT / "frames_warm_up.csv"
    pandas_frame.head(100).to_csv(warm, index=False)
    interpret_frame(pandas_frame.head(100), **keys)
    interpret_frame(polars_frame.head(100), **keys)
    check_csv(warm, OUT / "frames_warm_up.wbc.csv", value_col="wbc", unit_col="unit")

    pandas_time, pandas_out = best_of(args.repeats, lambda: interpret_frame(pandas_frame, **keys))
    polars_time, polars_out = best_of(args.repeats, lambda: interpret_frame(polars_frame, **keys))
    csv_time, summary = best_of(
        args.repeats,
        lambda: check_csv(
            source,
            target,
            value_col="wbc",
            unit_col="unit",
            age_col="age",
            sex_col="sex",
            ethnicity_col="ethnicity",
        ),
    )

    # the three paths must agree before their times mean anything
    csv_flags = pd.read_csv(target, usecols=["wbc_flag"], dtype="string", keep_default_na=False)
    frame_flags = pandas_out["wbc_flag"].fillna("")
    assert (csv_flags["wbc_flag"].to_numpy() == frame_flags.to_numpy()).all()
    assert polars_out["wbc_flag"].fill_null("").to_list() == frame_flags.tolist()
    distinct = len(pandas_frame[list(keys.values())].drop_duplicates())
    pairs = len(pandas_frame[["wbc", "unit"]].drop_duplicates())
    people = len(pandas_frame[["age", "sex", "ethnicity"]].drop_duplicates())

    rows = args.rows
    print(f"rows: {rows:,}; distinct (value, unit, age, sex, ethnicity) rows: {distinct:,}")
    print(f"distinct (value, unit) pairs: {pairs:,}; distinct (age, sex, ethnicity): {people:,}")
    print(f"rows read by check_csv: {summary.rows_read:,}; errors: {summary.errors:,}")
    print(f"python {platform.python_version()}, pandas {pd.__version__}, polars {pl.__version__}")
    print()
    print("| path | time (s) | rows/s | vs batch CSV |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in (
        ("`interpret_frame`, pandas", pandas_time),
        ("`interpret_frame`, polars", polars_time),
        ("`check_csv` (batch CSV path, read + write)", csv_time),
    ):
        print(f"| {name} | {seconds:.2f} | {rows / seconds:,.0f} | {seconds / csv_time:.2f}x |")


if __name__ == "__main__":
    main()
