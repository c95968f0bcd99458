"""Benchmark ``cbc-ranges batch`` against a bare csv pass, side by side in one run.

Run from the repository root with the project's venv active::

    python benchmarks/bench_batch.py            # 1,000,000 rows (and 100,000 for memory)
    python benchmarks/bench_batch.py --rows 200000 --repeat 1   # a quicker look

It writes a mixed-unit wide CSV (fixed seed) under ``benchmarks/out/`` and times,
each as a whole process (interpreter start-up and imports included):

* the floor: a bare Python ``csv.reader`` -> ``csv.writer`` pass over the same file;
* ``cbc-ranges batch`` (``python -m cbc_ranges batch FILE -o OUT -q``);
* the naive approach, on a sample: pint parses each row's value and unit text
  (``ureg.parse_expression("4.2 * 1e3 / microliter").to("1e9 / liter")``, after a
  dict maps the lab spelling to pint's), the row is flagged against a fixed adult
  range and written with ``csv.writer``; its time per row is scaled to the file.

Peak RSS is read per child process with ``os.wait4``, for the batch on 100,000 and
on 1,000,000 rows. The runs alternate (floor, batch, floor, batch...) so that a
busy machine slows both alike; the table reports the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

# the bare pass every CSV tool pays: read each record, write it back
FLOOR = """
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f, \\
        open(sys.argv[2], "w", newline="", encoding="utf-8") as g:
    csv.writer(g).writerows(csv.reader(f))
"""

# unit spellings in the generated file, with the weight of each (how often a row uses it)
UNITS = [
    ("K/uL", 30),
    ("10^9/L", 20),
    ("x10E3/uL", 8),
    ("G/L", 6),
    ("cells/uL", 8),
    ("/mm3", 5),
    ("K/mcL", 5),
    ("10*9/L", 5),
    ("", 8),  # no unit column value: the unit is in the value cell, or missing
    ("x10^3/uL", 5),
]
SEXES = ["F", "M", "female", "male", "Female", "Male", ""]
ETHNICITIES = ["", "", "White", "Black or African American", "Asian", "Middle Eastern", "Hispanic"]
WARDS = ["ICU", "ED", "Ward 3", "Oncology", "Clinic", "Paediatrics"]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """A wide teaching-style CSV: one row per patient, lab-realistic precision and spellings.

    Counts are written as analysers report them: 10^9/L and K/uL with one or
    two decimals, cells/uL rounded to tens; one row in twelve has the unit
    inside the value cell and one in forty has no unit at all.
    """
    rng = random.Random(seed)
    spellings = [unit for unit, _ in UNITS]
    weights = [weight for _, weight in UNITS]
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["patient_id", "age", "sex", "ethnicity", "wbc", "unit", "ward"])
        for number in range(rows):
            value = max(0.3, rng.lognormvariate(1.95, 0.35))
            unit = rng.choices(spellings, weights)[0]
            if unit in ("cells/uL", "/mm3"):
                text = str(round(value * 100) * 10)
            elif unit in ("x10E3/uL", "K/mcL"):
                text = f"{value:.2f}"
            elif unit == "":
                text = f"{value:.1f} x10^9/L" if rng.random() < 0.7 else f"{value:.1f}"
            else:
                text = f"{value:.1f}"
            age = rng.randint(0, 17) if rng.random() < 0.15 else rng.randint(18, 95)
            writer.writerow(
                [
                    f"P{number:07d}",
                    age,
                    rng.choice(SEXES),
                    rng.choice(ETHNICITIES),
                    text,
                    unit,
                    rng.choice(WARDS),
                ]
            )


def timed(command: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{command[:4]} failed with exit code {process.returncode}")
    return elapsed, usage.ru_maxrss


def naive_per_row(path: Path, sample: int) -> float:
    """Seconds per row of the naive approach: pint reads every row, nothing is cached."""
    import pint

    ureg = pint.UnitRegistry()
    # what a first attempt maps lab spellings to, before handing each row to pint
    to_pint = {
        "K/uL": "1e3 / microliter",
        "10^9/L": "1e9 / liter",
        "10*9/L": "1e9 / liter",
        "x10E3/uL": "1e3 / microliter",
        "x10^3/uL": "1e3 / microliter",
        "G/L": "1e9 / liter",
        "cells/uL": "1 / microliter",
        "/mm3": "1 / millimeter ** 3",
        "K/mcL": "1e3 / microliter",
        "": "1e9 / liter",
    }
    out = io_sink = open(os.devnull, "w", newline="")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        writer = csv.writer(out)
        writer.writerow([*next(reader), "wbc_value", "wbc_flag"])
        for n, row in enumerate(reader, start=1):
            if n > sample:
                break
            value_text, unit = row[4], row[5]
            if " " in value_text:
                value_text, unit = value_text.split(" ", 1)
                unit = {"x10^9/L": "10^9/L"}.get(unit, unit)
            try:
                # pint parses the row's text: value and unit, every row, nothing cached
                quantity = ureg.parse_expression(f"{float(value_text)!r} * {to_pint[unit]}")
                value = quantity.to("1e9 / liter").magnitude
            except Exception:  # the naive loop has no better plan for a bad row
                writer.writerow([*row, "", ""])
                continue
            flag = "low" if value < 4.5 else "high" if value > 11.0 else "normal"
            writer.writerow([*row, f"{value:.6g}", flag])
    elapsed = time.perf_counter() - started
    io_sink.close()
    return elapsed / sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000, help="rows for the memory baseline")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive-sample", type=int, default=20_000)
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    big, small = OUT / f"wbc_{args.rows}.csv", OUT / f"wbc_{args.small}.csv"
    for path, rows in ((big, args.rows), (small, args.small)):
        if not path.exists():
            print(f"generating {path.name} ...", file=sys.stderr)
            generate(path, rows)

    python = sys.executable
    floor_cmd = [python, "-c", FLOOR, str(big), str(OUT / "floor.csv")]
    batch_cmd = [python, "-m", "cbc_ranges", "batch", str(big), "-o", str(OUT / "big.wbc.csv")]
    small_cmd = [python, "-m", "cbc_ranges", "batch", str(small), "-o", str(OUT / "small.wbc.csv")]
    floors, batches, rss_big, rss_small = [], [], [], []
    for _ in range(args.repeat):
        floors.append(timed(floor_cmd)[0])
        seconds, rss = timed([*batch_cmd, "-q"])
        batches.append(seconds)
        rss_big.append(rss)
        rss_small.append(timed([*small_cmd, "-q"])[1])
    naive = naive_per_row(big, args.naive_sample)

    floor, batch = min(floors), min(batches)
    figures = {
        "rows": args.rows,
        "file_mb": round(big.stat().st_size / 1e6, 1),
        "floor_s": round(floor, 2),
        "batch_s": round(batch, 2),
        "ratio": round(batch / floor, 2),
        "floor_runs_s": [round(s, 2) for s in floors],
        "batch_runs_s": [round(s, 2) for s in batches],
        "naive_us_per_row": round(naive * 1e6, 1),
        "naive_s_scaled": round(naive * args.rows, 1),
        "rss_small_mib": round(max(rss_small) / 1024, 1),
        "rss_big_mib": round(max(rss_big) / 1024, 1),
        "rss_ratio": round(max(rss_big) / max(rss_small), 2),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    (OUT / "bench_batch.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"| measure ({args.rows:,} rows, {figures['file_mb']} MB) | result |")
    print("| --- | --- |")
    print(f"| bare csv.reader -> csv.writer (floor) | {floor:.2f} s |")
    print(f"| cbc-ranges batch | {batch:.2f} s ({batch / floor:.2f}x the floor) |")
    print(
        f"| naive: pint per row, {args.naive_sample:,}-row sample | {naive * 1e6:.0f} us/row, "
        f"about {naive * args.rows:.0f} s for the file |"
    )
    print(
        f"| peak RSS batch: {args.small:,} rows / {args.rows:,} rows | "
        f"{figures['rss_small_mib']} / {figures['rss_big_mib']} MiB "
        f"({figures['rss_ratio']}x) |"
    )


if __name__ == "__main__":
    main()
