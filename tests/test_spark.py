"""``cbc_ranges.spark`` on a local Spark (``local[2]``): the same columns and values as
``interpret_frame``, and the Spark recipe of docs/embedding.md runs.

One SparkSession serves the whole test session (starting one takes seconds). The
tests that need it are skipped, with the reason, when pyspark or a Java runtime is
missing; the others run anyway.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from docs_blocks import run_blocks

from cbc_ranges import BatchError, UnitError, interpret_frame
from cbc_ranges.frames import FRAME_COLUMNS
from cbc_ranges.spark import SPARK_TYPES, interpret_spark_frame

KEYS = {"value": "wbc", "unit": "unit", "age": "age", "sex": "sex", "ethnicity": "ethnicity"}

pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning"
)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip(
        "pyspark", reason="pyspark is not installed (pip install 'cbc-ranges[spark]')"
    )
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime (java on PATH or JAVA_HOME): Spark local mode needs one")
    from pyspark.sql import SparkSession

    # the Python workers must be this interpreter, with this environment's cbc-ranges
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("cbc-ranges tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


VALUES = ["3.1", "4.2 K/uL", "4200 cells/µL", "12,500", "<1.0", ">=100", "4,2", "abc", "", None,
          "-3", "7.4", "11.0", "5.0 mg/dL", "3.2 L", "0"]  # fmt: skip
UNITS = ["10^9/L", "K/uL", "/uL", "G/L", None, "", "%", "x10E3/uL"]
AGES = [None, "40", "17.9", "18", "6 months", "-3 years", "8", "2y", "old"]
SEXES = [None, "F", "male", "M", "x", "female"]
ETHNICITIES = [None, "African", "Irish", "Middle Eastern", ""]


def lab_rows(n: int, seed: int = 12) -> pd.DataFrame:
    """Text columns of every kind the row engine meets, nulls included."""
    rng = random.Random(seed)
    return pd.DataFrame(
        {
            "patient": [f"p{i}" for i in range(n)],
            "wbc": [rng.choice(VALUES) for _ in range(n)],
            "unit": [rng.choice(UNITS) for _ in range(n)],
            "age": [rng.choice(AGES) for _ in range(n)],
            "sex": [rng.choice(SEXES) for _ in range(n)],
            "ethnicity": [rng.choice(ETHNICITIES) for _ in range(n)],
        },
        dtype=object,
    )


def _plain(value: Any) -> Any:
    """A cell as Python: None for every kind of missing value."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def frame_rows(out: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [
        tuple(_plain(cell) for cell in row)
        for row in out[list(FRAME_COLUMNS)].astype(object).itertuples(index=False)
    ]


def spark_rows(out: Any) -> list[tuple[Any, ...]]:
    return [tuple(row[name] for name in FRAME_COLUMNS) for row in out.orderBy("patient").collect()]


def test_spark_rows_are_those_of_interpret_frame(spark: Any) -> None:
    labs = lab_rows(600)
    df = spark.createDataFrame(labs).repartition(3)
    got = spark_rows(interpret_spark_frame(df, **KEYS))
    expected = frame_rows(interpret_frame(labs, **KEYS).sort_values("patient"))
    assert len(got) == len(expected) == 600
    mismatches = [(g, e) for g, e in zip(got, expected, strict=True) if g != e]
    assert mismatches == []
    # the rows are not all alike: flags, errors and censored values are all there
    flags = {row[FRAME_COLUMNS.index("wbc_flag")] for row in got}
    assert {"low", "normal", "high", None} <= flags
    assert any(row[FRAME_COLUMNS.index("wbc_comparator")] == "<" for row in got)


def test_batches_gathered_into_chunks_give_the_same_rows(
    spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cbc_ranges.spark

    # batches of 5 rows gathered into chunks of at least 7: chunk edges cut through batches
    monkeypatch.setattr(cbc_ranges.spark, "CHUNK_ROWS", 7)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "5")
    try:
        labs = lab_rows(203, seed=3)
        df = spark.createDataFrame(labs).repartition(2)
        got = spark_rows(interpret_spark_frame(df, **KEYS))
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert got == frame_rows(interpret_frame(labs, **KEYS).sort_values("patient"))


def test_spark_columns_and_types(spark: Any) -> None:
    labs = lab_rows(20)
    df = spark.createDataFrame(labs)
    before = df.schema.simpleString()
    out = interpret_spark_frame(df, **KEYS)
    assert out.columns == [*labs.columns, *FRAME_COLUMNS]
    types = dict(out.dtypes)
    assert {name: types[name] for name in FRAME_COLUMNS} == SPARK_TYPES
    assert df.schema.simpleString() == before  # the input frame is not changed
    # a value that cannot be read is a null, not a NaN, in a Spark double column
    bad = out.where(out.wbc == "abc").select("wbc_value", "wbc_error").first()
    assert bad is not None
    assert bad["wbc_value"] is None and "abc" in bad["wbc_error"]


def test_spark_refuses_bad_arguments_before_any_job(spark: Any) -> None:
    df = spark.createDataFrame(lab_rows(5))
    with pytest.raises(BatchError, match=r"no value column 'wcb'.*did you mean 'wbc'"):
        interpret_spark_frame(df, value="wcb")
    with pytest.raises(UnitError):
        interpret_spark_frame(df, value="wbc", default_unit="mg/dL")
    checked = interpret_spark_frame(df, value="wbc")
    with pytest.raises(BatchError, match="wbc_flag"):
        interpret_spark_frame(checked, value="wbc")


def test_importing_the_module_imports_no_spark_nor_dataframe_library() -> None:
    import subprocess

    code = (
        "import sys, cbc_ranges.spark; "
        "print(sorted(m for m in ('pyspark', 'pyarrow', 'pandas', 'numpy') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_something_that_is_not_a_spark_frame_is_refused() -> None:
    with pytest.raises(BatchError, match=r"pyspark\.sql\.DataFrame.*interpret_frame"):
        interpret_spark_frame(pd.DataFrame({"wbc": ["4.2"]}), value="wbc")


def test_the_spark_recipe_of_the_docs_runs(spark: Any) -> None:
    labs = lab_rows(50)
    namespace: dict[str, Any] = {"spark_df": spark.createDataFrame(labs)}
    assert run_blocks("tests/test_spark.py", namespace) >= 1
    checked = namespace["checked"]
    assert spark_rows(checked) == frame_rows(interpret_frame(labs, **KEYS).sort_values("patient"))
