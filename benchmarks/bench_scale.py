"""Benchmark ``cbc-ranges batch`` at scale: against hand-written pandas and polars, before/after.

Run from the repository root with the project's venv active (the "after" side)::

    python benchmarks/bench_scale.py --base-python /work/base-c277/.venv/bin/python
    python benchmarks/bench_scale.py --rows 200000 --rounds 1          # a quicker look
    python benchmarks/bench_scale.py --scale-rows 20000000 --scale-dir /tmp   # the long file

The first form times, each as a whole process (interpreter start-up, imports, reading and
writing included; wall time, CPU time (user + system, all threads) and peak RSS from
``os.wait4``), on the 1,000,000-row mixed-unit file of ``bench_batch.py``:

* a bare ``csv.reader`` -> ``csv.writer`` pass (the floor every CSV tool pays);
* pandas written by hand: ``read_csv``, a unit-factor dict, ``np.select`` for the flag, ``to_csv``;
* polars written by hand: ``read_csv``, ``replace_strict`` for the unit, ``when/then``,
  ``write_csv`` (what the issue calls the bar: ``cbc-ranges batch`` at most 1.0x this);
* ``cbc-ranges batch`` before (``--base-python``, the base install) and after, with the
  default ``--jobs`` (all cores), ``--jobs 1``, and ``--careful`` (no columnar fast path);
* ``interpret_frame`` on a polars and on a pandas frame, read and write included, before
  and after.

The hand-written programs flag against one adult range and read one unit column: they do
less than the batch (no units inside value cells, no ages, no byte-for-byte output), which
is why they are the bar. Runs alternate (every program once per round, for ``--rounds``
rounds) so that a busy machine slows all alike; the table gives the best and the median.

``--scale-rows N`` instead writes a MIMIC-like long file (``labevents`` joined with age and
gender, five analytes, WBC rows picked by ``--where itemid=51300,51301``, the lab's own
range columns) of N rows and of 1,000,000 rows under ``--scale-dir``, checks both with
``cbc-ranges batch --jobs`` (and ``--careful`` too with ``--careful``) and prints wall time,
CPU, peak RSS and rows per second, then deletes the files.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from bench_batch import FLOOR, generate  # noqa: E402

# the unit spellings of the benchmark file, as a factor to 10^9/L (hand-written programs)
FACTORS = {
    "K/uL": 1.0, "10^9/L": 1.0, "x10E3/uL": 1.0, "G/L": 1.0, "cells/uL": 0.001,
    "/mm3": 0.001, "K/mcL": 1.0, "10*9/L": 1.0, "x10^3/uL": 1.0, "": 1.0,
}  # fmt: skip

HAND_POLARS = f"""
import sys
import polars as pl
FACTORS = {FACTORS!r}
df = pl.read_csv(sys.argv[1], infer_schema=False)
value = pl.col("wbc").str.split(" ").list.first().cast(pl.Float64, strict=False)
factor = pl.col("unit").fill_null("").replace_strict(FACTORS, default=None,
                                                     return_dtype=pl.Float64)
df = df.with_columns((value * factor).alias("wbc_value"))
df = df.with_columns(
    pl.when(pl.col("wbc_value") < 4.5).then(pl.lit("low"))
    .when(pl.col("wbc_value") > 11.0).then(pl.lit("high"))
    .when(pl.col("wbc_value").is_not_null()).then(pl.lit("normal"))
    .otherwise(pl.lit("")).alias("wbc_flag"))
df.write_csv(sys.argv[2])
"""

HAND_PANDAS = f"""
import sys
import numpy as np
import pandas as pd
FACTORS = {FACTORS!r}
df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
value = pd.to_numeric(df["wbc"].str.split(" ").str[0], errors="coerce")
df["wbc_value"] = value * df["unit"].map(FACTORS)
v = df["wbc_value"]
df["wbc_flag"] = np.select([v < 4.5, v > 11.0, v.notna()], ["low", "high", "normal"], "")
df.to_csv(sys.argv[2], index=False)
"""

# the least a lossless batch can cost: the engine and polars imported, the file read as lines
# and as cells, every line written back with one constant suffix (no evaluation at all)
BATCH_FLOOR = """
import sys
import polars as pl
import cbc_ranges.batch.command
from cbc_ranges.rows import RowInterpreter
RowInterpreter().lookup("4", "K/uL", "40", "F")
data = open(sys.argv[1], "rb").read()
header, _, body = data.partition(b"\\r\\n")  # the benchmark file ends lines with CRLF
lines = pl.read_csv(body, has_header=False, separator="\\x1f", quote_char=None,
                    infer_schema=False, new_columns=["line"])["line"]
cells = pl.read_csv(data, infer_schema=False)
suffix = "6.21,normal,N,false,4.5,11,cleveland-2022,,,,,"
suffixes = pl.Series([suffix]).extend_constant(suffix, len(lines) - 1)
with open(sys.argv[2], "wb") as out:
    out.write(header + b",wbc_value,wbc_flag\\r\\n")
    pl.DataFrame({"line": lines, "suffix": suffixes}).write_csv(
        out, include_header=False, quote_style="never", line_terminator="\\r\\n")
"""

# the least interpret_frame on polars can cost: the engine imported, the frame read, the
# result columns appended as constants of their dtypes, written
FRAME_FLOOR = """
import sys
import polars as pl
from cbc_ranges import interpret_frame
from cbc_ranges.frames import FRAME_COLUMNS, _polars_schema
from cbc_ranges.rows import RowInterpreter
RowInterpreter().lookup("4", "K/uL", "40", "F")
df = pl.read_csv(sys.argv[1], infer_schema=False)
values = {"wbc_value": 6.21, "wbc_flag": "normal", "wbc_code": "N", "wbc_leukopenia": False,
          "wbc_ref_low": 4.5, "wbc_ref_high": 11.0, "wbc_source": "cleveland-2022"}
schema = _polars_schema()
df = df.with_columns(pl.lit(values.get(name), schema[name]).alias(name) for name in FRAME_COLUMNS)
df.write_csv(sys.argv[2])
"""

FRAME = """
import sys
from cbc_ranges import interpret_frame
library = sys.argv[3]
if library == "polars":
    import polars as pl
    df = pl.read_csv(sys.argv[1], infer_schema=False)
    out = interpret_frame(df, value="wbc", unit="unit", age="age", sex="sex", ethnicity="ethnicity")
    out.write_csv(sys.argv[2])
else:
    import pandas as pd
    df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
    out = interpret_frame(df, value="wbc", unit="unit", age="age", sex="sex", ethnicity="ethnicity")
    out.to_csv(sys.argv[2], index=False)
"""


def timed(command: list[str]) -> tuple[float, float, int]:
    """Wall time (s), CPU time (user + system, s) and peak RSS (KiB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[:5]} failed with exit code {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def _cell(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f}"


def compare(args: argparse.Namespace) -> None:
    OUT.mkdir(exist_ok=True)
    data = OUT / f"wbc_{args.rows}.csv"
    if not data.exists():
        print(f"generating {data.name} ...", file=sys.stderr)
        generate(data, args.rows)
    after = sys.executable
    base = args.base_python
    target = str(OUT / "scale.out.csv")
    batch = ["-m", "cbc_ranges", "batch", str(data), "-o", target, "-q"]
    programs: list[tuple[str, str, list[str]]] = [
        ("bare csv.reader -> csv.writer (floor)", "control",
         [after, "-c", FLOOR, str(data), target]),
        ("pandas by hand", "control", [after, "-c", HAND_PANDAS, str(data), target]),
        ("polars by hand (the bar)", "control", [after, "-c", HAND_POLARS, str(data), target]),
        ("floor: lossless batch, no evaluation", "control",
         [after, "-c", BATCH_FLOOR, str(data), target]),
        ("floor: interpret_frame polars I/O, no evaluation", "control",
         [after, "-c", FRAME_FLOOR, str(data), target]),
        ("`cbc-ranges batch`", "after", [after, *batch]),
        ("`cbc-ranges batch --jobs 1`", "after", [after, *batch, "--jobs", "1"]),
        ("`cbc-ranges batch --careful`", "after", [after, *batch, "--careful"]),
        ("`interpret_frame`, polars, read + write", "after",
         [after, "-c", FRAME, str(data), target, "polars"]),
        ("`interpret_frame`, pandas, read + write", "after",
         [after, "-c", FRAME, str(data), target, "pandas"]),
    ]  # fmt: skip
    if base:
        programs += [
            ("`cbc-ranges batch`", "before", [base, *batch]),
            ("`interpret_frame`, polars, read + write", "before",
             [base, "-c", FRAME, str(data), target, "polars"]),
            ("`interpret_frame`, pandas, read + write", "before",
             [base, "-c", FRAME, str(data), target, "pandas"]),
        ]  # fmt: skip
    walls: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    rss: dict[tuple[str, str], list[int]] = {}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for label, side, command in programs:
            wall, cpu, peak = timed(command)
            walls.setdefault((label, side), []).append(wall)
            cpus.setdefault((label, side), []).append(cpu)
            rss.setdefault((label, side), []).append(peak)
        loads.append(os.getloadavg()[0])
    Path(target).unlink(missing_ok=True)
    size = data.stat().st_size / 1e6
    print(
        f"{args.rows:,} rows ({size:.1f} MB), {args.rounds} rounds, best / median; "
        f"Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {min(loads):.1f}-{max(loads):.1f}\n"
    )
    print("| program | side | wall (s) | CPU (s) | peak RSS (MiB) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (label, side), seconds in walls.items():
        mib = max(rss[label, side]) / 1024
        print(f"| {label} | {side} | {_cell(seconds)} | {_cell(cpus[label, side])} | {mib:.0f} |")
    print("\n| ratio to polars by hand (best / median) | before | after |")
    print("| --- | ---: | ---: |")
    for label in ("`cbc-ranges batch`", "`cbc-ranges batch --jobs 1`",
                  "`cbc-ranges batch --careful`"):  # fmt: skip
        for measure, figures in (("wall", walls), ("CPU", cpus)):
            bar = figures["polars by hand (the bar)", "control"]
            cells = []
            for side in ("before", "after"):
                runs = figures.get((label, side))
                cells.append(
                    f"{min(runs) / min(bar):.2f} / "
                    f"{statistics.median(runs) / statistics.median(bar):.2f}"
                    if runs
                    else ""
                )
            print(f"| {label}, {measure} | {cells[0]} | {cells[1]} |")


# a MIMIC-IV labevents-like long file: itemid -> (unit, typical value, spread, low, high)
ITEMS = {
    "51301": ("K/uL", 7.5, 3.0, "4", "11"),
    "51300": ("K/uL", 7.5, 3.0, "4", "11"),
    "51222": ("g/dL", 12.5, 1.8, "12", "16"),
    "51265": ("K/uL", 240.0, 70.0, "150", "440"),
    "50912": ("mg/dL", 1.0, 0.4, "0.5", "1.2"),
}
LONG_HEADER = (
    "labevent_id,subject_id,hadm_id,specimen_id,itemid,charttime,value,valuenum,valueuom,"
    "ref_range_lower,ref_range_upper,flag,anchor_age,gender\n"
)


def generate_long(path: Path, rows: int, seed: int = 11) -> None:
    """A long lab file: a pool of 200,000 random lab results, repeated with fresh event ids."""
    rng = random.Random(seed)
    pool: list[str] = []
    weights = [4, 1, 3, 3, 2]
    for _ in range(200_000):
        subject, age = 10_000_000 + rng.randrange(300_000), rng.randint(18, 91)
        itemid = rng.choices(list(ITEMS), weights)[0]
        unit, mean, spread, low, high = ITEMS[itemid]
        value = f"{max(0.1, rng.gauss(mean, spread)):.1f}"
        numeric = value
        if itemid in ("51300", "51301") and rng.random() < 0.03:
            value, numeric = "<0.1", ""
        flag = "abnormal" if numeric and not float(low) <= float(value) <= float(high) else ""
        when = (
            f"2180-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:00:00"
        )
        pool.append(
            f"{subject},{subject + 10_000_000},{{}},{itemid},{when},{value},{numeric},{unit},"
            f"{low},{high},{flag},{age},{rng.choice('FM')}\n"
        )
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(LONG_HEADER)
        batch: list[str] = []
        for event in range(rows):
            line = pool[event % len(pool)]
            batch.append(f"{event + 1},{line.format(30_000_000 + event)}")
            if len(batch) == 100_000:
                file.write("".join(batch))
                batch.clear()
        file.write("".join(batch))


def scale(args: argparse.Namespace) -> None:
    folder = Path(args.scale_dir) / "cbc_ranges_scale"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        free = shutil.disk_usage(folder).free
        need = args.scale_rows * 200  # input ~95 B a row, output ~125 B a row
        if free < need:
            raise SystemExit(f"{folder}: {free / 1e9:.1f} GB free, {need / 1e9:.1f} GB needed")
        print("| rows | file (MB) | jobs | wall (s) | CPU (s) | peak RSS (MiB) | rows/s |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for rows in (1_000_000, args.scale_rows):
            path = folder / f"labevents_{rows}.csv"
            started = time.perf_counter()
            generate_long(path, rows)
            print(f"generated {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            output = folder / "out.csv"
            command = [sys.executable, "-m", "cbc_ranges", "batch", str(path), "-o", str(output),
                       "--where", "itemid=51300,51301", "-q"]  # fmt: skip
            if args.jobs:
                command += ["--jobs", str(args.jobs)]
            size = path.stat().st_size / 1e6
            runs = [(str(args.jobs or os.cpu_count()), command)]
            if args.careful:
                runs.append(("--careful", [*command, "--careful"]))
            for jobs, run in runs:
                wall, cpu, peak = timed(run)
                print(f"| {rows:,} | {size:,.0f} | {jobs} | {wall:.1f} | {cpu:.1f} | "
                      f"{peak / 1024:.0f} | {rows / wall:,.0f} |")  # fmt: skip
            path.unlink()
            output.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base-python", help="the base install's python (the before side)")
    parser.add_argument("--scale-rows", type=int, help="write and check a long file this big")
    parser.add_argument("--scale-dir", default="/tmp", help="where the long file goes")
    parser.add_argument("--jobs", type=int, help="--jobs of the scale run (default: all cores)")
    parser.add_argument("--careful", action="store_true", help="scale run: also time --careful")
    args = parser.parse_args()
    if args.scale_rows:
        scale(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
