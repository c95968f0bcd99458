"""The least whole panels can cost, beside the WBC-only run of the same file: one round each.

A long file read as whole panels must be read twice (a panel's WBC may come after its
percentages, anywhere in the file) and written with a result on every row (about 2.9 times
the input here). This "floor" program imports the engine and polars, reads the file twice
with polars (the first time as cells, the second as lines and cells) and writes every line
with a constant suffix as long as the real result cells on average: no evaluation at all.

Beside it, "by hand": what a person would write with polars for whole panels, the whole
file read once into memory (not streamed), each panel's WBC by a group-by, every row joined
to it and flagged with fixed adult limits per item (no person classes, lab ranges, checks or
warnings besides the note of a worked-out count), each line kept and its results after it.

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

# what a person would write by hand with polars for whole panels: the whole file read once
# into memory (not streamed), every row evaluated with fixed adult limits per item (no
# person classes, no lab ranges, no checks, no warnings but the note of a worked-out count),
# each line kept as its bytes, the results after it
HAND = """
import sys
import polars as pl
import cbc_ranges.batch.command
path, out_path = sys.argv[1], sys.argv[2]
with open(path, "rb") as file:
    header, _, body = file.read().partition(b"\\n")
names = header.decode().split(",")
lines = pl.read_csv(body, has_header=False, separator="\\x1f", quote_char=None,
                    infer_schema=False, new_columns=["line"])["line"]
cells = pl.read_csv(body, has_header=False, infer_schema=False, new_columns=names)
wbc = (cells.filter(pl.col("itemid").is_in(["51300", "51301"]))
       .group_by("specimen_id").agg(pl.col("value").cast(pl.Float64, strict=False).first()
                                    .alias("wbc")))
items = pl.DataFrame({
    "itemid": ["51300", "51301", "51256", "51244", "51254", "51200", "51146"],
    "analyte": ["wbc", "wbc", "neutrophils", "lymphocytes", "monocytes", "eosinophils",
                "basophils"],
    "percent": [False, False, True, True, True, True, True],
    "low": [4.5, 4.5, 1.8, 1.0, 0.2, 0.0, 0.0], "high": [11.0, 11.0, 7.7, 4.8, 0.8, 0.45, 0.2],
})
rows = cells.join(items, on="itemid", how="left", maintain_order="left").join(
    wbc, on="specimen_id", how="left", maintain_order="left")
value = pl.col("value").cast(pl.Float64, strict=False)
count = pl.when(pl.col("percent")).then(value * pl.col("wbc") / 100).otherwise(value).round(4)
flag = (pl.when(count < pl.col("low")).then(pl.lit("low"))
        .when(count > pl.col("high")).then(pl.lit("high"))
        .when(count.is_not_null()).then(pl.lit("normal")))
note = pl.when(pl.col("percent") & count.is_not_null()).then(pl.concat_str(
    pl.lit('"worked out as '), pl.col("value"), pl.lit(" % of the panel's white cell count of "),
    pl.col("wbc").cast(pl.String), pl.lit(" × 10⁹/L; the lab's range is for the percentage, "
    "not the count\\""), ignore_nulls=True))
pieces = [
    pl.col("analyte"), count.cast(pl.String),
    pl.when(pl.col("percent")).then(pl.col("value")), flag,
    flag.replace_strict({"low": "L", "high": "H", "normal": "N"}, default=None),
    pl.col("low").cast(pl.String), pl.col("high").cast(pl.String), pl.lit(""),
    pl.lit("labcorp-henry"), note, pl.lit(""),
]
suffix = (pl.when(pl.col("analyte").is_null()).then(pl.lit(",,,,,,,,,,"))
          .otherwise(pl.concat_str([p.fill_null("") for p in pieces], separator=",")))
out = rows.select(suffix.alias("suffix")).with_columns(lines)
with open(out_path, "wb") as file:
    file.write(header + b",cbc\\n")
    out.select("line", "suffix").write_csv(file, include_header=False, quote_style="never")
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
            "by hand: one read in memory, every row evaluated (fixed limits)": [
                sys.executable, "-c", HAND, str(data), str(out)],
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
