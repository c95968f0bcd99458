"""Benchmark: ``interpret_frame`` on Spark (local mode) and on a Dask cluster of processes.

Run from the repository root, in the project's environment (``pip install -e '.[test]'``
brings pyspark and distributed; Spark needs Java 17 or later):

    python benchmarks/bench_cluster.py                       # identity on 100,000 rows,
                                                             # throughput on 1,000,000
    python benchmarks/bench_cluster.py --rows 1000000 --long-rows 20000000 --rounds 1

Two parts, Spark (``local[N]``, ``--cores``, default 2) and Dask (a ``LocalCluster`` of
``--cores`` worker processes, one thread each):

1. **identity**: ``--rows`` lab-shaped rows (``make_data`` of ``bench_frames.py``, fixed seed)
   go through ``interpret_spark_frame`` and through ``map_partitions(interpret_frame)``; every
   result cell of every row must equal what one ``interpret_frame`` call in this process gives
   (missing values compared as missing). The script stops with an error otherwise.
2. **throughput**: a CSV file of ``--long-rows`` rows is read, interpreted and reduced to the
   count of each flag (``groupBy("wbc_flag").count()``, ``value_counts()``), so that the time
   covers reading and interpreting every row but writing almost nothing. The same is timed in
   one process with pandas (``pd.read_csv`` + ``interpret_frame``) as the baseline, alternating
   with the cluster runs for ``--rounds``. Best and median seconds and rows/s are printed.
   Two Spark control rows show where its time goes: reading the file and counting alone, and
   the same with every batch sent to a Python worker and back through ``mapInArrow`` unchanged.

The CSV files are written to ``benchmarks/out/`` (gitignored) once and reused. Spark's
start-up (a JVM, seconds) and the Dask cluster's are not timed; the first Spark job is a
warm-up on 1,000 rows.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bench_frames import make_data

from cbc_ranges import interpret_frame
from cbc_ranges.frames import FRAME_COLUMNS

OUT = Path(__file__).parent / "out"
KEYS = {"value": "wbc", "unit": "unit", "age": "age", "sex": "sex", "ethnicity": "ethnicity"}


def lab_frame(rows: int) -> pd.DataFrame:
    data = make_data(rows)
    return pd.DataFrame(
        {
            name: pd.array(column, dtype="string") if column.dtype == object else column
            for name, column in data.items()
        }
    )


def lab_file(rows: int) -> Path:
    path = OUT / f"cluster_{rows}.csv"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        chunk = 1_000_000
        for start in range(0, rows, chunk):
            part = pd.DataFrame(make_data(min(chunk, rows - start), seed=20260101 + start))
            part["patient_id"] += start
            part.to_csv(path, index=False, mode="a" if start else "w", header=not start)
    return path


def plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def cells(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    ordered = frame.sort_values("patient_id")[list(FRAME_COLUMNS)].astype(object)
    return [tuple(plain(cell) for cell in row) for row in ordered.itertuples(index=False)]


def check_identity(name: str, got: pd.DataFrame, expected: list[tuple[Any, ...]]) -> None:
    found = cells(got)
    wrong = sum(1 for g, e in zip(found, expected, strict=True) if g != e)
    if len(found) != len(expected) or wrong:
        raise SystemExit(f"{name}: {wrong} of {len(expected)} rows differ from interpret_frame")
    print(f"{name}: all {len(expected):,} rows identical to interpret_frame in one process")


def timed(rounds: int, runs: dict[str, Callable[[], Any]]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def spark_session(cores: int, batch: int) -> Any:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("cbc-ranges bench_cluster")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", "2g")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows for the identity check")
    parser.add_argument("--long-rows", type=int, default=1_000_000, help="rows for throughput")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--arrow-batch", type=int, default=10_000,
        help="spark.sql.execution.arrow.maxRecordsPerBatch (Spark's default: 10,000)",
    )  # fmt: skip
    parser.add_argument(
        "--skip", default="", help="spark, dask or one-process (comma-separated), to leave out"
    )
    args = parser.parse_args()

    import warnings

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    labs = lab_frame(args.rows)
    expected = cells(interpret_frame(labs, **KEYS))
    source = lab_file(args.long_rows)
    runs: dict[str, Callable[[], Any]] = {}

    def one_process() -> Any:
        return interpret_frame(pd.read_csv(source), **KEYS)["wbc_flag"].value_counts()

    if "one-process" not in args.skip:
        runs["one process, pandas"] = one_process

    if "spark" not in args.skip:
        from cbc_ranges.spark import interpret_spark_frame

        spark = spark_session(args.cores, args.arrow_batch)
        spark_df = spark.createDataFrame(labs)
        check_identity("Spark", interpret_spark_frame(spark_df, **KEYS).toPandas(), expected)
        interpret_spark_frame(spark_df.limit(1000), **KEYS).count()  # warm-up

        def spark_run() -> Any:
            frame = spark.read.csv(str(source), header=True, inferSchema=False)
            checked = interpret_spark_frame(frame, **KEYS)
            return checked.groupBy("wbc_flag").count().collect()

        def spark_read_only() -> Any:
            frame = spark.read.csv(str(source), header=True, inferSchema=False)
            return frame.groupBy("sex").count().collect()

        def spark_arrow_only() -> Any:
            frame = spark.read.csv(str(source), header=True, inferSchema=False)
            passed = frame.mapInArrow(lambda batches: batches, frame.schema)
            return passed.groupBy("sex").count().collect()

        runs[f"Spark local[{args.cores}], Arrow batches of {args.arrow_batch:,}"] = spark_run
        runs["(control) Spark, read + count only"] = spark_read_only
        runs["(control) Spark, read + Arrow to Python and back + count"] = spark_arrow_only

    if "dask" not in args.skip:
        import dask.dataframe as dd
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=args.cores, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        big = dd.from_pandas(labs, npartitions=8)
        meta = interpret_frame(big._meta, **KEYS)
        got = client.compute(big.map_partitions(interpret_frame, meta=meta, **KEYS)).result()
        check_identity("Dask distributed", got, expected)

        def dask_run() -> Any:
            text = {name: "string" for name in ("wbc", "unit", "sex", "ethnicity")}
            frame = dd.read_csv(str(source), blocksize="16MB", dtype=text)
            meta = interpret_frame(frame._meta, **KEYS)
            checked = frame.map_partitions(interpret_frame, meta=meta, **KEYS)
            return client.compute(checked["wbc_flag"].value_counts()).result()

        runs[f"Dask, {args.cores} worker processes"] = dask_run

    times = timed(args.rounds, runs)
    print()
    print(f"throughput: {args.long_rows:,} rows read from CSV, interpreted, flags counted; "
          f"{args.rounds} rounds")  # fmt: skip
    print(f"python {platform.python_version()}, pandas {pd.__version__}, cores {args.cores}")
    print()
    print("| path | best (s) | median (s) | rows/s (best) | every round (s) |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, seconds in times.items():
        every = ", ".join(f"{s:.1f}" for s in seconds)
        best = min(seconds)
        print(
            f"| {name} | {best:.2f} | {statistics.median(seconds):.2f} | "
            f"{args.long_rows / best:,.0f} | {every} |"
        )
    if "dask" not in args.skip:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
