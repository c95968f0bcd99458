"""Spark: add the ``wbc_*`` result columns to a Spark DataFrame, partition by partition.

:func:`interpret_spark_frame` is :func:`~cbc_ranges.frames.interpret_frame`
for a ``pyspark.sql.DataFrame``: the same arguments, the same appended
columns (:data:`~cbc_ranges.frames.FRAME_COLUMNS`) with the same values, as
Spark types (:data:`SPARK_TYPES`). It returns a new, lazy Spark DataFrame:
nothing runs until an action (``collect``, ``write``, ``count``...).

The work runs on the executors through ``mapInArrow``. Spark's Arrow batches
are gathered into chunks of up to :data:`CHUNK_ROWS` rows (fewer, larger
numberings of the keys; memory stays bounded by the chunk); each chunk's key
columns go through the pandas path of ``interpret_frame`` (vectorised by
distinct keys), and the result columns are appended; the input columns are
passed on as the Arrow data they came in, untouched. The chunks of one
partition share one row interpreter, so a key that repeats across chunks is
read once per partition. A float column's missing value is a Spark ``null``,
never ``NaN``.

Install with ``pip install 'cbc-ranges[spark]'``; every executor needs
cbc-ranges, pandas and pyarrow (pyspark's own Arrow support needs the last
two). ``pyspark`` is imported only when this module is used. Read more in
``docs/embedding.md``.

>>> SPARK_TYPES["wbc_value"], SPARK_TYPES["wbc_leukopenia"], SPARK_TYPES["wbc_grade"]
('double', 'boolean', 'bigint')
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cbc_ranges.frames import FRAME_COLUMNS, PANDAS_DTYPES, _columns, _Groups, _pandas

if TYPE_CHECKING:
    from cbc_ranges.ranges import RangeTable

__all__ = ["CHUNK_ROWS", "SPARK_TYPES", "interpret_spark_frame"]

_SPARK_TYPE_OF_PANDAS = {"float64": "double", "boolean": "boolean", "Int64": "bigint",
                         "string": "string"}  # fmt: skip

#: rows interpreted at once: Arrow batches are gathered up to this many (memory stays bounded)
CHUNK_ROWS = 100_000

#: Spark SQL type (DDL name) of each appended column
SPARK_TYPES: dict[str, str] = {
    name: _SPARK_TYPE_OF_PANDAS[PANDAS_DTYPES[name]] for name in FRAME_COLUMNS
}


def _is_spark_frame(df: object) -> bool:
    return any(
        cls.__name__ == "DataFrame" and cls.__module__.split(".")[0] == "pyspark"
        for cls in type(df).__mro__
    )


def interpret_spark_frame(
    df: Any,
    *,
    value: str,
    unit: str | None = None,
    age: str | None = None,
    sex: str | None = None,
    ethnicity: str | None = None,
    default_unit: str | None = None,
    table: RangeTable | str | None = None,
    decimal_comma: bool | None = None,
) -> Any:
    """The Spark DataFrame ``df`` with the ``wbc_*`` result columns appended.

    The arguments are those of :func:`~cbc_ranges.frames.interpret_frame`, and
    every row gets the values that ``interpret_frame`` gives the same row of
    ``df.toPandas()``. A missing column, a frame that already has result
    columns, or a bad ``default_unit`` raise a
    :class:`~cbc_ranges.errors.CBCError` here, before any Spark job runs; a
    row that cannot be read gets ``wbc_error``. Anything other than a Spark
    DataFrame is a :class:`~cbc_ranges.errors.BatchError`.
    """
    from cbc_ranges.errors import BatchError
    from cbc_ranges.ranges import get_table
    from cbc_ranges.rows import RowInterpreter

    if not _is_spark_frame(df):
        raise BatchError(
            "interpret_spark_frame takes a pyspark.sql.DataFrame, got "
            f"{type(df).__module__}.{type(df).__name__}; for pandas or polars use interpret_frame",
            raw=type(df).__name__,
        )
    from pyspark.sql import types

    picked = _columns(list(df.columns), value, unit, age, sex, ethnicity)
    keys = list(dict.fromkeys(str(name) for name in picked if name is not None))
    # fails here, on the driver, for a bad unit or table name; the executors build their own
    RowInterpreter(table, default_unit=default_unit, decimal_comma=decimal_comma)
    spark_types = {"double": types.DoubleType, "boolean": types.BooleanType,
                   "bigint": types.LongType, "string": types.StringType}  # fmt: skip
    schema = types.StructType(
        [
            *df.schema.fields,  # a new list: the frame's own schema is never changed
            *(types.StructField(name, spark_types[SPARK_TYPES[name]]()) for name in FRAME_COLUMNS),
        ]
    )

    def interpret_partition(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        arrow_types = {"double": pa.float64(), "boolean": pa.bool_(), "bigint": pa.int64(),
                       "string": pa.string()}  # fmt: skip
        result_fields = [pa.field(name, arrow_types[SPARK_TYPES[name]]) for name in FRAME_COLUMNS]
        rows = RowInterpreter(get_table(table), default_unit=default_unit,
                              decimal_comma=decimal_comma)  # fmt: skip

        def interpret_chunk(chunk: list[Any]) -> Iterator[Any]:
            arrow = pa.Table.from_batches(chunk)
            out = _pandas(arrow.select(keys).to_pandas(), picked, _Groups(rows))
            appended = [pa.Array.from_pandas(out[f.name], type=f.type) for f in result_fields]
            both = pa.schema([*arrow.schema, *result_fields])
            yield from pa.Table.from_arrays([*arrow.columns, *appended], schema=both).to_batches()

        # Spark's Arrow batches hold 10,000 rows by default; a chunk of several costs less
        # per row (one numbering of its keys), and memory stays bounded by the chunk
        chunk: list[Any] = []
        size = 0
        for batch in batches:
            chunk.append(batch)
            size += batch.num_rows
            if size >= CHUNK_ROWS:
                yield from interpret_chunk(chunk)
                chunk, size = [], 0
        if chunk:
            yield from interpret_chunk(chunk)

    return df.mapInArrow(interpret_partition, schema)
