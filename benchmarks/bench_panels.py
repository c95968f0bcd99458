"""Whole panels and spreadsheets: the two figures of the lab-file issue, side by side.

1. A long MIMIC-shaped file with whole panels (WBC, the five-part differential as
   percentages, bands now and then, a chemistry row per draw; the rows of a draw
   scattered over the file), checked four ways in turns: WBC rows only
   (``--where itemid=51300,51301``, the default path), the same with ``--careful``
   (the row loop), as whole panels (``--analyte-col itemid``, the columnar panel
   path) and the same with ``--careful`` (the panels' row loop). Wall time, CPU
   time and peak RSS of each whole process, at two sizes (memory: the large size's
   peak over the small size's).
2. The same 100,000 rows of a wide file as CSV and as ``.xlsx`` (written with
   openpyxl, read by the ``excel`` extra).

    python benchmarks/bench_panels.py                  # 1,000,000 and 100,000 rows, 3 rounds
    python benchmarks/bench_panels.py --rows 200000 --rounds 1
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import timed

HEADER = (
    "subject_id,hadm_id,specimen_id,itemid,charttime,value,valuenum,valueuom,"
    "ref_range_lower,ref_range_upper,anchor_age,gender\n"
)
# itemid: unit, mean, spread, lower, upper (MIMIC-IV d_labitems; see ranges/item_maps.toml)
DIFFERENTIAL = {
    "51256": ("%", 60.0, 10.0, "50", "70"),
    "51244": ("%", 28.0, 8.0, "20", "40"),
    "51254": ("%", 7.0, 2.0, "2", "10"),
    "51200": ("%", 2.5, 1.5, "0", "7"),
    "51146": ("%", 0.6, 0.3, "0", "2"),
}


def generate(path: Path, rows: int, seed: int = 5) -> None:
    """About ``rows`` rows: draws of 8 to 9 rows, shuffled in windows of 50,000 rows."""
    rng = random.Random(seed)
    window: list[str] = []
    written = 0
    draw = 0
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(HEADER)
        while written < rows:
            draw += 1
            subject = 10_000_000 + rng.randrange(300_000)
            hadm = "" if draw % 5 == 0 else str(20_000_000 + subject % 1_000_000)
            when = f"2180-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 08:00:00"
            tail = f"{rng.randint(18, 91)},{rng.choice('FM')}\n"
            head = f"{subject},{hadm},{40_000_000 + draw}"
            wbc = max(0.5, rng.gauss(7.5, 3.0))
            lines = [f"{head},51301,{when},{wbc:.1f},{wbc:.1f},K/uL,4,11,{tail}"]
            for itemid, (unit, mean, spread, low, high) in DIFFERENTIAL.items():
                value = max(0.0, rng.gauss(mean, spread))
                lines.append(
                    f"{head},{itemid},{when},{value:.1f},{value:.1f},{unit},{low},{high},{tail}"
                )
            if draw % 6 == 0:
                lines.append(f"{head},51144,{when},4.0,4.0,%,0,5,{tail}")
            lines.append(f"{head},50912,{when},1.0,1.0,mg/dL,0.5,1.2,{tail}")
            window.extend(lines)
            written += len(lines)
            if len(window) >= 50_000:
                rng.shuffle(window)
                file.write("".join(window))
                window.clear()
        rng.shuffle(window)
        file.write("".join(window))


def _cell(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f}"


def panels(folder: Path, rows: int, small: int, rounds: int) -> None:
    print(f"## whole panels: {rows:,} and {small:,} rows, {rounds} rounds (best / median)\n")
    runs = {
        "WBC only (--where itemid=51300,51301)": ["--where", "itemid=51300,51301"],
        "WBC only, --careful": ["--where", "itemid=51300,51301", "--careful"],
        "whole panels (--analyte-col itemid)": ["--analyte-col", "itemid"],
        "whole panels, --careful": ["--analyte-col", "itemid", "--careful"],
    }
    peaks: dict[tuple[str, int], int] = {}
    for size in (rows, small):
        path = folder / f"panels_{size}.csv"
        generate(path, size)
        walls: dict[str, list[float]] = {name: [] for name in runs}
        cpus: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(rounds):
            for name, options in runs.items():
                command = [sys.executable, "-m", "cbc_ranges", "batch", str(path), "-o",
                           str(folder / "out.csv"), "-q", *options]  # fmt: skip
                wall, cpu, peak = timed(command)
                walls[name].append(wall)
                cpus[name].append(cpu)
                peaks[name, size] = max(peaks.get((name, size), 0), peak)
        size_mb = path.stat().st_size / 1e6
        print(f"{size:,} rows ({size_mb:.0f} MB):\n")
        print("| run | wall (s) | CPU (s) | peak RSS (MiB) |")
        print("| --- | ---: | ---: | ---: |")
        for name in runs:
            print(f"| {name} | {_cell(walls[name])} | {_cell(cpus[name])} | "
                  f"{peaks[name, size] / 1024:.0f} |")  # fmt: skip
        base = min(walls["WBC only (--where itemid=51300,51301)"])
        careful = min(walls["WBC only, --careful"])
        whole = min(walls["whole panels (--analyte-col itemid)"])
        loop = min(walls["whole panels, --careful"])
        cpu_ratio = min(cpus["whole panels (--analyte-col itemid)"]) / min(
            cpus["WBC only (--where itemid=51300,51301)"]
        )
        print(f"\npanels / WBC only (best wall): {whole / base:.2f}x (CPU {cpu_ratio:.2f}x); "
              f"panels / WBC only --careful: {whole / careful:.2f}x; "
              f"panels --careful / panels: {loop / whole:.1f}x\n")  # fmt: skip
        path.unlink()
    for name in runs:
        print(f"peak RSS {name}: {rows:,} / {small:,} rows = "
              f"{peaks[name, rows] / peaks[name, small]:.2f}x")  # fmt: skip


def spreadsheet(folder: Path, rows: int, rounds: int) -> None:
    import csv

    from openpyxl import Workbook

    rng = random.Random(3)
    table = [["patient", "age", "sex", "WBC", "unit"]]
    for number in range(rows):
        table.append([f"P{number:07d}", rng.randint(0, 90), rng.choice("FM"),
                      round(max(0.5, rng.gauss(7.0, 3.0)), 1), "K/uL"])  # fmt: skip
    as_csv = folder / "wide.csv"
    with open(as_csv, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(table)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("WBC")
    for row in table:
        sheet.append(row)
    as_xlsx = folder / "wide.xlsx"
    book.save(as_xlsx)
    walls: dict[str, list[float]] = {"csv": [], "xlsx": []}
    for _ in range(rounds):
        for name, path in (("csv", as_csv), ("xlsx", as_xlsx)):
            command = [sys.executable, "-m", "cbc_ranges", "batch", str(path), "-o",
                       str(folder / "out.csv"), "-q"]  # fmt: skip
            walls[name].append(timed(command)[0])
    print(f"\n## {rows:,} rows as CSV and as .xlsx ({rounds} rounds, best / median wall, s)\n")
    print(f"| CSV | {_cell(walls['csv'])} |\n| .xlsx | {_cell(walls['xlsx'])} |")
    print(f"\n.xlsx / CSV (best): {min(walls['xlsx']) / min(walls['csv']):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sheet-rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        panels(folder, args.rows, args.small, args.rounds)
        spreadsheet(folder, args.sheet_rows, args.rounds)


if __name__ == "__main__":
    main()
