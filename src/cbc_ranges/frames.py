"""DataFrames: interpret a whole pandas or polars column of WBC counts at once.

:func:`interpret_frame` takes a DataFrame with a WBC value column (and
optionally unit, age, sex and ethnicity columns) and returns a DataFrame of
the same library with every row and every column kept, in order, and the
``wbc_*`` result columns of the batch CSV output appended. A row that cannot
be read gets ``wbc_error`` instead of raising. The row-level rules are those
of :mod:`cbc_ranges.rows`, so a frame and ``cbc-ranges batch`` agree cell for
cell.

The appended columns and their types (empty CSV cells are missing values here):

==================  ==================  ==================  ===============================
column              pandas dtype        polars dtype        holds
==================  ==================  ==================  ===============================
``wbc_value``       ``float64``         ``Float64``         the count in 10^9/L
``wbc_comparator``  ``string``          ``String``          ``<``, ``<=``, ``>``, ``>=`` for
                                                            a censored value, else missing
``wbc_flag``        ``string``          ``String``          low, normal, high, indeterminate
``wbc_code``        ``string``          ``String``          HL7 L, N, H
``wbc_leukopenia``  ``boolean``         ``Boolean``         nullable: missing when no
                                                            threshold applies
``wbc_ref_low``     ``float64``         ``Float64``         the reference interval, 10^9/L
``wbc_ref_high``    ``float64``         ``Float64``
``wbc_source``      ``string``          ``String``          source id of the range row
``wbc_warnings``    ``string``          ``String``          joined with ``"; "``
``wbc_error``       ``string``          ``String``          set when the row was not read
==================  ==================  ==================  ===============================

``wbc_comparator`` is the one column the CSV output does not have: there the
comparator is written inside ``wbc_value`` (``<1``), which a float column
cannot hold, and a censored value must never look like an exact one.

Vectorised by distinct keys: rows are grouped by (value, unit) and by (age,
sex, ethnicity); each distinct person is reduced to the ranges that apply to
them, each distinct (value, unit, ranges) combination is interpreted once, and
the results are spread back over the rows with array operations. There is no
Python loop over rows. Neither pandas nor polars is imported unless the frame
is one of theirs. Read more in ``docs/embedding.md``.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from cbc_ranges.errors import BatchError, CBCError

if TYPE_CHECKING:
    from cbc_ranges.models import Count
    from cbc_ranges.ranges import RangeTable
    from cbc_ranges.rows import RowInterpreter, RowResult

__all__ = ["FRAME_COLUMNS", "PANDAS_DTYPES", "POLARS_DTYPES", "interpret_frame"]

#: the appended columns, in order: the batch CSV columns plus ``wbc_comparator``
FRAME_COLUMNS: tuple[str, ...] = (
    "wbc_value",
    "wbc_comparator",
    "wbc_flag",
    "wbc_code",
    "wbc_leukopenia",
    "wbc_ref_low",
    "wbc_ref_high",
    "wbc_source",
    "wbc_warnings",
    "wbc_error",
)

_FLOATS = frozenset({"wbc_value", "wbc_ref_low", "wbc_ref_high"})
_BOOLEANS = frozenset({"wbc_leukopenia"})

#: pandas dtype of each appended column
PANDAS_DTYPES: dict[str, str] = {
    name: "float64" if name in _FLOATS else "boolean" if name in _BOOLEANS else "string"
    for name in FRAME_COLUMNS
}
#: polars dtype (by name) of each appended column
POLARS_DTYPES: dict[str, str] = {
    name: "Float64" if name in _FLOATS else "Boolean" if name in _BOOLEANS else "String"
    for name in FRAME_COLUMNS
}

# a readable count to probe which ranges apply to a person
_PROBE_VALUE = 5.0


class _Columns(NamedTuple):
    """The frame's column for each input, or None when the frame has none."""

    value: Hashable
    unit: Hashable | None
    age: Hashable | None
    sex: Hashable | None
    ethnicity: Hashable | None


def _result_values(result: RowResult) -> tuple[Any, ...]:
    """One typed value per :data:`FRAME_COLUMNS` name; None for a missing one."""
    return (
        result.value,
        result.comparator,
        result.flag,
        result.code,
        result.leukopenia,
        result.ref_low,
        result.ref_high,
        result.source,
        "; ".join(result.warnings) or None,
        result.error,
    )


class _PersonClasses:
    """Maps a person's (age, sex, ethnicity) cells to the ranges that apply to them.

    Two people in one class get the same result cells for the same value and
    unit: the class holds everything of the person the cells can show (the
    reference interval, the leukopenia threshold, the person-level warnings,
    the sex and ethnicity read) or the error the person's cells raise.
    """

    def __init__(self, table: RangeTable) -> None:
        from cbc_ranges.models import Count

        self.table = table
        self.probe: Count = Count(value=_PROBE_VALUE, unit="10*9/L", unit_text="10*9/L")
        self.ids: dict[Hashable, int] = {}

    def of(self, age: Any, sex: Any, ethnicity: Any) -> int:
        from cbc_ranges.interpret import interpret_count
        from cbc_ranges.rows import plain_cell

        def cell(raw: Any) -> Any:
            plain = plain_cell(raw)
            return None if isinstance(plain, str) and not plain.strip() else plain

        signature: Hashable
        try:
            probe = interpret_count(
                self.probe,
                age=cell(age),
                sex=_text(cell(sex)),
                ethnicity=_text(cell(ethnicity)),
                table=self.table,
            )
        except CBCError as error:
            signature = ("error", str(error))
        except Exception as error:  # the row interpreter turns these into wbc_error too
            signature = ("error", type(error).__name__, str(error))
        else:
            signature = (
                probe.reference,
                probe.leukopenia_threshold,
                tuple(probe.warnings),
                probe.person.sex,
                probe.person.ethnicity,
            )
        return self.ids.setdefault(signature, len(self.ids))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _pick_column(columns: Sequence[Hashable], name: Hashable | None, role: str) -> Hashable | None:
    if name is None:
        return None
    if name in columns:
        return name
    close = difflib.get_close_matches(str(name), [str(c) for c in columns], n=3)
    raise BatchError(
        f"the frame has no {role} column {name!r}; its columns are "
        + ", ".join(repr(c) for c in columns[:20])
        + (" ..." if len(columns) > 20 else ""),
        raw=name,
        suggestions=close,
    )


def _columns(
    columns: Sequence[Hashable],
    value: Hashable,
    unit: Hashable | None,
    age: Hashable | None,
    sex: Hashable | None,
    ethnicity: Hashable | None,
) -> _Columns:
    clash = [name for name in FRAME_COLUMNS if name in columns]
    if clash:
        raise BatchError(
            "the frame already has result columns "
            + ", ".join(clash)
            + "; rename or drop them first (every input column is kept as it is)",
            raw=clash,
        )
    picked = _Columns(
        value=_pick_column(columns, value, "value"),
        unit=_pick_column(columns, unit, "unit"),
        age=_pick_column(columns, age, "age"),
        sex=_pick_column(columns, sex, "sex"),
        ethnicity=_pick_column(columns, ethnicity, "ethnicity"),
    )
    return picked


def _library(df: object) -> str:
    module = type(df).__module__.split(".")[0]
    if module in ("pandas", "polars"):
        return module
    raise BatchError(
        f"interpret_frame takes a pandas or polars DataFrame, got {type(df).__module__}."
        f"{type(df).__name__}",
        raw=type(df).__name__,
    )


def interpret_frame(
    df: Any,
    *,
    value: Hashable,
    unit: Hashable | None = None,
    age: Hashable | None = None,
    sex: Hashable | None = None,
    ethnicity: Hashable | None = None,
    default_unit: str | None = None,
    table: RangeTable | str | None = None,
    decimal_comma: bool | None = None,
) -> Any:
    """Interpret every row of a pandas or polars DataFrame; returns a new frame.

    ``value`` names the column of WBC values (numbers, or text that may hold
    the unit, like ``"4.2 K/uL"``); ``unit``, ``age``, ``sex`` and
    ``ethnicity`` name optional columns. ``default_unit`` is used where the
    unit cell is empty and the value holds no unit; ``decimal_comma`` is as
    for :func:`~cbc_ranges.count.parse_count`; ``table`` is a range table or
    the name of a shipped one. The input frame is not modified.

    The result has every input row and column, then :data:`FRAME_COLUMNS`
    (dtypes in :data:`PANDAS_DTYPES` / :data:`POLARS_DTYPES`). A row that
    cannot be read has ``wbc_error`` set and no flag. A missing column, a
    frame that already has ``wbc_*`` result columns, or a bad
    ``default_unit`` raise a :class:`~cbc_ranges.errors.CBCError`.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"wbc": ["3.1", "7400", "abc"], "unit": ["10^9/L", "/uL", None],
    ...                       "age": [40, 40, 40], "sex": ["F", "F", "F"]})
    >>> out = interpret_frame(frame, value="wbc", unit="unit", age="age", sex="sex")
    >>> out["wbc_value"].tolist(), out["wbc_flag"].tolist()
    ([3.1, 7.4, nan], ['low', 'normal', <NA>])
    >>> out["wbc_leukopenia"].tolist()
    [True, False, <NA>]
    >>> out["wbc_error"].notna().tolist()
    [False, False, True]
    """
    from cbc_ranges.ranges import get_table
    from cbc_ranges.rows import RowInterpreter

    library = _library(df)
    columns = list(df.columns)
    picked = _columns(columns, value, unit, age, sex, ethnicity)
    loaded = get_table(table)
    rows = RowInterpreter(loaded, default_unit=default_unit, decimal_comma=decimal_comma)
    persons = _PersonClasses(loaded)
    if library == "pandas":
        return _pandas(df, picked, rows, persons)
    return _polars(df, picked, rows, persons)


# --------------------------------------------------------------------------- pandas


def _pandas(df: Any, picked: _Columns, rows: RowInterpreter, persons: _PersonClasses) -> Any:
    import numpy as np
    import pandas as pd

    n = len(df)

    def codes_of(names: Sequence[Hashable | None]) -> Any:
        """One group number per row for the distinct combinations of these columns."""
        combined = np.zeros(n, dtype=np.int64)
        for name in names:
            if name is None:
                continue
            codes, uniques = pd.factorize(df[name], use_na_sentinel=False)
            combined, _ = pd.factorize(combined * len(uniques) + codes)
        return combined

    def first_rows(codes: Any, groups: int) -> Any:
        """The position of the first row of each group."""
        first = np.empty(groups, dtype=np.int64)
        first[codes[::-1]] = np.arange(n - 1, -1, -1, dtype=np.int64)
        return first

    def cells(name: Hashable | None, positions: Any) -> list[Any]:
        if name is None:
            return [None] * len(positions)
        return list(df[name].to_numpy(dtype=object)[positions])

    parse_codes = codes_of([picked.value, picked.unit])
    person_codes = codes_of([picked.age, picked.sex, picked.ethnicity])
    person_count = int(person_codes.max()) + 1 if n else 0
    person_first = first_rows(person_codes, person_count)
    person_class = np.array(
        [
            persons.of(a, s, e)
            for a, s, e in zip(
                cells(picked.age, person_first),
                cells(picked.sex, person_first),
                cells(picked.ethnicity, person_first),
                strict=True,
            )
        ],
        dtype=np.int64,
    )
    if n:
        class_codes = person_class[person_codes]
        group_codes, _ = pd.factorize(parse_codes * (len(persons.ids) or 1) + class_codes)
        group_count = int(group_codes.max()) + 1
    else:
        group_codes, group_count = np.zeros(0, dtype=np.int64), 0
    group_first = first_rows(group_codes, group_count)
    results = [
        _result_values(rows.result(*raw))
        for raw in zip(
            cells(picked.value, group_first),
            cells(picked.unit, group_first),
            cells(picked.age, group_first),
            cells(picked.sex, group_first),
            cells(picked.ethnicity, group_first),
            strict=True,
        )
    ]
    out = df.copy(deep=False)
    for index, name in enumerate(FRAME_COLUMNS):
        per_group = [result[index] for result in results]
        dtype = PANDAS_DTYPES[name]
        if dtype == "float64":
            array = np.array([np.nan if v is None else v for v in per_group], dtype=np.float64)
            out[name] = array[group_codes]
        elif dtype == "boolean":
            out[name] = pd.array(per_group, dtype="boolean").take(group_codes)
        else:
            out[name] = pd.array(per_group, dtype="string").take(group_codes)
    return out


# --------------------------------------------------------------------------- polars


def _polars(df: Any, picked: _Columns, rows: RowInterpreter, persons: _PersonClasses) -> Any:
    import polars as pl

    n = df.height

    def codes_of(names: Sequence[Hashable | None]) -> Any:
        """One group number (from 0) per row for the distinct combinations of these columns."""
        present = [str(name) for name in names if name is not None]
        if not present or not n:
            return pl.Series("g", [0] * n, dtype=pl.Int64)
        return df.select((pl.struct(present).rank("dense").cast(pl.Int64) - 1).alias("g"))["g"]

    def first_rows(codes: Any) -> Any:
        """The position of the first row of each group, in group order."""
        frame = pl.DataFrame({"g": codes}).with_row_index("row")
        return frame.group_by("g").agg(pl.col("row").first()).sort("g")["row"]

    def cells(name: Hashable | None, positions: Any) -> list[Any]:
        if name is None:
            return [None] * len(positions)
        return list(df[str(name)].gather(positions).to_list())

    parse_codes = codes_of([picked.value, picked.unit])
    person_codes = codes_of([picked.age, picked.sex, picked.ethnicity])
    person_first = first_rows(person_codes) if n else pl.Series("row", [], dtype=pl.UInt32)
    person_class = pl.Series(
        "c",
        [
            persons.of(a, s, e)
            for a, s, e in zip(
                cells(picked.age, person_first),
                cells(picked.sex, person_first),
                cells(picked.ethnicity, person_first),
                strict=True,
            )
        ],
        dtype=pl.Int64,
    )
    if n:
        combined = parse_codes * (len(persons.ids) or 1) + person_class.gather(person_codes)
        group_codes = combined.rank("dense").cast(pl.Int64) - 1
        group_first = first_rows(group_codes)
    else:
        group_codes = pl.Series("g", [], dtype=pl.Int64)
        group_first = pl.Series("row", [], dtype=pl.UInt32)
    results = [
        _result_values(rows.result(*raw))
        for raw in zip(
            cells(picked.value, group_first),
            cells(picked.unit, group_first),
            cells(picked.age, group_first),
            cells(picked.sex, group_first),
            cells(picked.ethnicity, group_first),
            strict=True,
        )
    ]
    dtypes = {"Float64": pl.Float64, "Boolean": pl.Boolean, "String": pl.String}
    appended = [
        pl.Series(
            name, [result[index] for result in results], dtype=dtypes[POLARS_DTYPES[name]]
        ).gather(group_codes)
        for index, name in enumerate(FRAME_COLUMNS)
    ]
    return df.with_columns(appended)
