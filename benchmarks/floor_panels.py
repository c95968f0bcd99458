"""The least whole panels can cost, beside the WBC-only run of the same file: one round each.

A long file read as whole panels must be read twice (a panel's WBC may come after its
percentages, anywhere in the file) and written with a result on every row (about 2.9 times
the input here). This "floor" program imports the engine and polars, reads the file twice
with polars (the first time as cells, the second as lines and cells) and writes every line
with a constant suffix as long as the real result cells on average: no evaluation at all.

    python benchmarks/floor_panels.py --rows 1000000 --rounds 3

Prints wall and CPU time (best / median) of the floor, of ``cbc-ranges batch --where
itemid=51300,51301`` (WBC only) and of whole panels (``--analyte-col itemid``), alternating.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_panels import generate
from bench_scale import timed

FLOOR = """
import sys
import polars as pl
import cbc_ranges.batch.command
from cbc_ranges.rows import RowInterpreter
RowInterpreter().lookup("4", "K/uL", "40", "F")
path, out_path, suffix_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path, "rb") as file:
    body = file.read().partition(b"\\n")[2]
first = pl.read_csv(body, has_header=False, infer_schema=False)  # every column: ragged rows
with open(path, "rb") as file:
    header, _, body = file.read().partition(b"\\n")
lines = pl.read_csv(body, has_header=False, separator="\\x1f", quote_char=None,
                    infer_schema=False, new_columns=["line"])["line"]
cells = pl.read_csv(body, has_header=False, infer_schema=False)
suffix = "x" * suffix_bytes
with open(out_path, "wb") as out:
    out.write(header + b",cbc\\n")
    pl.DataFrame({"line": lines,
                  "suffix": pl.Series([suffix]).extend_constant(suffix, len(lines) - 1)}
                 ).write_csv(out, include_header=False, quote_style="never")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "panels.csv"
        generate(data, args.rows)
        out = Path(folder) / "out.csv"
        batch = [sys.executable, "-m", "cbc_ranges", "batch", str(data), "-o", str(out), "-q"]
        panels = [*batch, "--analyte-col", "itemid"]
        timed(panels)  # the real output's size gives the floor's suffix length
        rows = data.read_bytes().count(b"\n") - 1
        suffix = round((out.stat().st_size - data.stat().st_size) / rows)
        programs = {
            "floor: two reads + the output's bytes, no evaluation": [
                sys.executable, "-c", FLOOR, str(data), str(out), str(suffix)],
            "WBC only (--where itemid=51300,51301)": [*batch, "--where", "itemid=51300,51301"],
            "whole panels (--analyte-col itemid)": panels,
        }  # fmt: skip
        walls: dict[str, list[float]] = {name: [] for name in programs}
        cpus: dict[str, list[float]] = {name: [] for name in programs}
        for _ in range(args.rounds):
            for name, command in programs.items():
                wall, cpu, _ = timed(command)
                walls[name].append(wall)
                cpus[name].append(cpu)
    print(f"{rows:,} rows, {args.rounds} rounds, best / median; suffix {suffix} bytes a row\n")
    print("| program | wall (s) | CPU (s) |\n| --- | ---: | ---: |")
    for name in programs:
        print(
            f"| {name} | {min(walls[name]):.2f} / {statistics.median(walls[name]):.2f} | "
            f"{min(cpus[name]):.2f} / {statistics.median(cpus[name]):.2f} |"
        )
    wbc = min(walls["WBC only (--where itemid=51300,51301)"])
    for name in programs:
        print(f"{name}: {min(walls[name]) / wbc:.2f}x WBC only (best wall)")


if __name__ == "__main__":
    main()
