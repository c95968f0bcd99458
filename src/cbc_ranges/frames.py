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

Vectorised by distinct keys, with the three steps of the row engine: each
distinct (value, unit) pair is parsed once; each distinct (age, sex,
ethnicity) triple is reduced once to its *person class* (the ranges and
warnings that apply to it); spellings that read as the same count share one
result, so each distinct (count, person class) combination is classified once.
The distinct keys are numbered with array operations (pandas ``factorize``; polars
``unique`` joined back to the rows), and the results are spread back with
``take``/``gather``: a row's count and comparator from its (count, class) group,
its other columns (flag, limits, source, warnings...) from the group's
*outcome*, of which there are only a few hundred. There is no Python loop over
rows. A polars ``LazyFrame`` gives a ``LazyFrame`` that interprets each batch
when collected (``map_batches``, streamable), the batches sharing one row
interpreter. Neither pandas nor polars is imported unless the frame is one of
theirs. Read more in ``docs/embedding.md``; figures in ``docs/performance.md``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple

from cbc_ranges.errors import BatchError, suggest
from cbc_ranges.rows import RESULT_COLUMNS, RowResult

if TYPE_CHECKING:
    from cbc_ranges.ranges import RangeTable
    from cbc_ranges.rows import ParsedCell, PersonClass, RowInterpreter

__all__ = ["FRAME_COLUMNS", "PANDAS_DTYPES", "POLARS_DTYPES", "interpret_frame"]

#: the appended columns, in order: the batch CSV columns plus ``wbc_comparator``
FRAME_COLUMNS: tuple[str, ...] = (RESULT_COLUMNS[0], "wbc_comparator", *RESULT_COLUMNS[1:])

_FLOATS = frozenset({"wbc_value", "wbc_ref_low", "wbc_ref_high"})
_BOOLEANS = frozenset({"wbc_leukopenia"})
_INTEGERS = frozenset({"wbc_grade"})


def _dtype(name: str, floats: str, booleans: str, integers: str, texts: str) -> str:
    if name in _FLOATS:
        return floats
    if name in _BOOLEANS:
        return booleans
    return integers if name in _INTEGERS else texts


#: pandas dtype of each appended column
PANDAS_DTYPES: dict[str, str] = {
    name: _dtype(name, "float64", "boolean", "Int64", "string") for name in FRAME_COLUMNS
}
#: polars dtype (by name) of each appended column
POLARS_DTYPES: dict[str, str] = {
    name: _dtype(name, "Float64", "Boolean", "Int64", "String") for name in FRAME_COLUMNS
}


class _Columns(NamedTuple):
    """The frame's column for each input, or None when the frame has none."""

    value: Hashable
    unit: Hashable | None
    age: Hashable | None
    sex: Hashable | None
    ethnicity: Hashable | None


def _outcome_values(result: RowResult) -> tuple[Any, ...]:
    """The typed values of :data:`FRAME_COLUMNS` after the count and its comparator."""
    return (
        result.flag,
        result.code,
        result.leukopenia,
        result.ref_low,
        result.ref_high,
        result.source,
        result.severity,
        result.grade,
        result.ancestry,
        "; ".join(result.warnings) or None,
        result.error,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class _Results(NamedTuple):
    """The results of the distinct (count, class) groups, split in two for spreading.

    A row's count and comparator come from its group (``values``,
    ``comparators``); the other columns from its group's *outcome* (flag,
    limits, warnings...), of which there are far fewer: ``outcomes`` numbers
    each group's outcome, ``outcome_rows`` holds one tuple of typed values per
    outcome (see :func:`_outcome_values`).
    """

    values: list[float | None]
    comparators: list[str | None]
    outcomes: list[int]
    outcome_rows: list[tuple[Any, ...]]


class _Groups:
    """The work done once per distinct key, the same for pandas and polars.

    The row engine's three steps: :meth:`counts` parses each distinct (value,
    unit) pair and numbers the distinct counts they read as; :meth:`class_numbers`
    reduces each distinct (age, sex, ethnicity) triple to the number of its
    person class; :meth:`results` combines one parsed cell with one class per
    distinct (count, class) pair.
    """

    def __init__(self, rows: RowInterpreter) -> None:
        self.rows = rows
        self.parsed: list[ParsedCell] = []
        #: for each count number, the first parsed cell that reads as it
        self.count_cells: list[ParsedCell] = []
        self.classes: list[PersonClass] = []

    def counts(self, values: Sequence[Any], units: Sequence[Any]) -> list[int]:
        """The count number of each (value, unit) pair; equal counts share a number."""
        from cbc_ranges.rows import plain_cell

        numbers: dict[Hashable, int] = {}
        out = []
        for value, unit in zip(values, units, strict=True):
            parsed = self.rows.parse(plain_cell(value), _text(plain_cell(unit)))
            self.parsed.append(parsed)
            count = parsed.count
            key: Hashable
            if parsed.error is not None or count is None:
                key = ("error", parsed.error)
            elif count.comparator is not None:
                # a censored count is kept apart: its warnings may quote the value as written
                key = ("censored", len(self.parsed))
            else:
                key = (count.value, tuple(count.warnings))
            number = numbers.setdefault(key, len(numbers))
            if number == len(self.count_cells):
                self.count_cells.append(parsed)
            out.append(number)
        return out

    def class_numbers(
        self, ages: Sequence[Any], sexes: Sequence[Any], ethnicities: Sequence[Any]
    ) -> list[int]:
        """The person-class number of each (age, sex, ethnicity) triple."""
        from cbc_ranges.rows import plain_cell

        numbers: dict[PersonClass, int] = {}
        out = []
        for age, sex, ethnicity in zip(ages, sexes, ethnicities, strict=True):
            person = self.rows.person(
                plain_cell(age), _text(plain_cell(sex)), _text(plain_cell(ethnicity))
            )
            number = numbers.setdefault(person, len(numbers))
            if number == len(self.classes):
                self.classes.append(person)
            out.append(number)
        return out

    def results(self, counts: Sequence[int], classes: Sequence[int]) -> _Results:
        """The results of (count number, class number) pairs, one group each."""
        combine, count_cells, person_classes = self.rows.combine, self.count_cells, self.classes
        values: list[float | None] = []
        comparators: list[str | None] = []
        outcomes: list[int] = []
        numbers: dict[tuple[Any, ...], int] = {}
        for c, k in zip(counts, classes, strict=True):
            result = combine(count_cells[c], person_classes[k]).result
            values.append(result.value)
            comparators.append(result.comparator)
            # the flag, limits and warnings: one of few outcomes, shared by many groups
            shape = result[2:]
            number = numbers.get(shape)
            if number is None:
                number = numbers[shape] = len(numbers)
            outcomes.append(number)
        rows = [_outcome_values(RowResult(None, None, *shape)) for shape in numbers]
        return _Results(values, comparators, outcomes, rows)


def _pick_column(columns: Sequence[Hashable], name: Hashable | None, role: str) -> Hashable | None:
    if name is None:
        return None
    if name in columns:
        return name
    close = suggest(str(name), [str(c) for c in columns], n=3)
    raise BatchError(
        f"the frame has no {role} column {name!r}; its columns are "
        + ", ".join(repr(c) for c in columns[:20])
        + (" ..." if len(columns) > 20 else ""),
        raw=name,
        suggestions=close,
    )


def refuse_clash(columns: Sequence[Hashable], names: Sequence[str]) -> None:
    """A :class:`~cbc_ranges.errors.BatchError` when the frame has a result column already."""
    clash = [name for name in names if name in columns]
    if clash:
        raise BatchError(
            "the frame already has result columns "
            + ", ".join(clash)
            + "; rename or drop them first (every input column is kept as it is)",
            raw=clash,
        )


def _columns(
    columns: Sequence[Hashable],
    value: Hashable,
    unit: Hashable | None,
    age: Hashable | None,
    sex: Hashable | None,
    ethnicity: Hashable | None,
) -> _Columns:
    refuse_clash(columns, FRAME_COLUMNS)
    return _Columns(
        value=_pick_column(columns, value, "value"),
        unit=_pick_column(columns, unit, "unit"),
        age=_pick_column(columns, age, "age"),
        sex=_pick_column(columns, sex, "sex"),
        ethnicity=_pick_column(columns, ethnicity, "ethnicity"),
    )


def _library(df: object) -> str:
    """'pandas', 'polars' or 'polars-lazy', from the classes of the object (a subclass is fine)."""
    for cls in type(df).__mro__:
        library = cls.__module__.split(".")[0]
        if cls.__name__ == "DataFrame" and library in ("pandas", "polars"):
            return library
        if cls.__name__ == "LazyFrame" and library == "polars":
            return "polars-lazy"
    hint = ""
    if type(df).__module__.split(".")[0] == "dask":
        hint = "; on a Dask frame, run it per partition with map_partitions"
    raise BatchError(
        f"interpret_frame takes a pandas or polars DataFrame (or a polars LazyFrame), got "
        f"{type(df).__module__}.{type(df).__name__}{hint}",
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
    analyte_col: Hashable | None = None,
    analyte_map: str | Mapping[str, str] | None = None,
    panel_cols: str | Sequence[Hashable] | None = None,
    differential: bool | Mapping[Hashable, str] = False,
    text: bool = False,
) -> Any:
    """Interpret every row of a pandas or polars DataFrame; returns a new frame.

    A polars ``LazyFrame`` gives a ``LazyFrame``: nothing runs until it is
    collected, then batch by batch (the streaming engine need not hold it all).

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

    Whole panels (:mod:`cbc_ranges.frame_panels`): ``analyte_col``,
    ``analyte_map`` or ``panel_cols`` read a long frame (one row per test) and
    append the ``cbc_*`` columns instead of the ``wbc_*`` ones;
    ``differential=True`` (or a mapping of column to analyte) adds each
    differential analyte's columns to a wide frame.

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
    # a LazyFrame's column names come from its schema, which runs none of its plan
    names = list(df.collect_schema().names() if library == "polars-lazy" else df.columns)
    panels = analyte_col is not None or analyte_map is not None or panel_cols is not None
    if library == "polars-lazy" and (panels or differential or text):
        raise BatchError(
            "whole panels (analyte_col, analyte_map, panel_cols, differential) and text=True "
            "need an eager frame: collect() the LazyFrame first",
            raw=type(df).__name__,
        )
    rows = RowInterpreter(get_table(table), default_unit=default_unit, decimal_comma=decimal_comma)
    if panels:
        from cbc_ranges.frame_panels import long_frame

        cells = _Columns(*(_pick_column(names, c, r) for c, r in (
            (value, "value"), (unit, "unit"), (age, "age"), (sex, "sex"),
            (ethnicity, "ethnicity"),
        )))  # fmt: skip
        return long_frame(
            df,
            library,
            rows,
            cells,
            analyte_col=analyte_col,
            analyte_map=analyte_map,
            panel_cols=panel_cols,
        )
    picked = _columns(names, value, unit, age, sex, ethnicity)
    if library == "polars-lazy":
        return _polars_lazy(df, picked, rows)
    if library == "pandas":
        out = _pandas(df, picked, _Groups(rows))
    else:
        out = _polars(df, picked, _Groups(rows))
    if text:
        from cbc_ranges.frame_panels import text_frame

        out = text_frame(df, out, library, rows, picked)
    if differential:
        from cbc_ranges.frame_panels import wide_frame

        out = wide_frame(df, out, library, rows, picked, differential)
    return out


# --------------------------------------------------------------------------- pandas


def _pandas(df: Any, picked: _Columns, groups: _Groups) -> Any:
    import numpy as np
    import pandas as pd

    n = len(df)

    def codes_of(names: Sequence[Hashable | None]) -> tuple[Any, int]:
        """A group number per row for the distinct combinations of these columns."""
        combined, count = np.zeros(n, dtype=np.int64), 1
        for name in names:
            if name is not None:
                try:
                    codes, uniques = pd.factorize(df[name], use_na_sentinel=False)
                except TypeError:  # unhashable cells (lists, dicts): number them by type and text
                    keys = df[name].map(lambda cell: (type(cell).__name__, repr(cell)))
                    codes, uniques = pd.factorize(keys, use_na_sentinel=False)
                combined, distinct = pd.factorize(combined * len(uniques) + codes)
                count = len(distinct)
        return combined, count if n else 0

    def first_rows(codes: Any, count: int) -> Any:
        """The position of the first row of each group."""
        first = np.empty(count, dtype=np.int64)
        first[codes[::-1]] = np.arange(n - 1, -1, -1, dtype=np.int64)
        return first

    def cells(name: Hashable | None, positions: Any) -> Sequence[Any]:
        if name is None:
            return [None] * len(positions)
        return list(df[name].take(positions).to_numpy(dtype=object))

    pair_codes, pairs = codes_of([picked.value, picked.unit])
    pair_first = first_rows(pair_codes, pairs)
    count_of_pair = np.array(
        groups.counts(cells(picked.value, pair_first), cells(picked.unit, pair_first)),
        dtype=np.int64,
    )
    person_codes, persons = codes_of([picked.age, picked.sex, picked.ethnicity])
    person_first = first_rows(person_codes, persons)
    class_of_person = np.array(
        groups.class_numbers(
            cells(picked.age, person_first),
            cells(picked.sex, person_first),
            cells(picked.ethnicity, person_first),
        ),
        dtype=np.int64,
    )
    if n:
        width = len(groups.classes)
        combined = count_of_pair[pair_codes] * width + class_of_person[person_codes]
        # sorted, so that the groups of one count come together (its cell's cache stays warm)
        group_codes, distinct = pd.factorize(combined, sort=True)
        results = groups.results((distinct // width).tolist(), (distinct % width).tolist())
    else:
        group_codes, results = np.zeros(0, dtype=np.int64), _Results([], [], [], [])

    out = df.copy(deep=False)
    values = np.array([np.nan if v is None else v for v in results.values], dtype=np.float64)
    out["wbc_value"] = values[group_codes]
    out["wbc_comparator"] = pd.array(results.comparators, dtype="string").take(group_codes)
    # the other columns come from the few outcomes: one take of the outcome number per row
    outcome_codes = np.asarray(results.outcomes, dtype=np.int64)[group_codes]
    for index, name in enumerate(FRAME_COLUMNS[2:]):
        per_outcome = [row[index] for row in results.outcome_rows]
        dtype: Any = PANDAS_DTYPES[name]
        if dtype == "float64":
            array = np.array([np.nan if v is None else v for v in per_outcome], dtype=np.float64)
            out[name] = array[outcome_codes]
        else:
            out[name] = pd.array(per_outcome, dtype=dtype).take(outcome_codes)
    return out


# --------------------------------------------------------------------------- polars


#: rows from which a polars frame's key numbers are joined on two threads (below: no threads)
JOIN_THREADS_ROWS = 50_000


def _polars(df: Any, picked: _Columns, groups: _Groups) -> Any:
    import polars as pl

    n = df.height
    key_name = "__cbc_ranges_key"
    while key_name in df.columns:
        key_name += "_"

    def keyed_of(names: Sequence[Hashable | None]) -> Any:
        columns = list(dict.fromkeys(str(name) for name in names if name is not None))
        return df.select(columns) if columns else None

    def cells(distinct: Any, name: Hashable | None) -> Sequence[Any]:
        if name is None:
            return [None] * distinct.height
        return list(distinct[str(name)].to_list())

    if n:
        pair_keyed = keyed_of([picked.value, picked.unit])
        person_keyed = keyed_of([picked.age, picked.sex, picked.ethnicity])
        pairs = _polars_distinct(pair_keyed, key_name)
        persons = _polars_distinct(person_keyed, key_name)
        # on a large frame the rows' numbers are joined on other threads (polars lets go of
        # the GIL) while this one works out what each distinct key gives
        joins = ((pair_keyed, pairs), (person_keyed, persons))
        pool = ThreadPoolExecutor(2) if n >= JOIN_THREADS_ROWS else None
        try:
            jobs = [
                pool.submit(_polars_join_codes, keyed, distinct, key_name, n)
                for keyed, distinct in joins
            ] if pool is not None else []  # fmt: skip
            count_of_pair = pl.Series(
                groups.counts(cells(pairs, picked.value), cells(pairs, picked.unit)),
                dtype=pl.Int64,
            )
            class_of_person = pl.Series(
                groups.class_numbers(
                    cells(persons, picked.age), cells(persons, picked.sex),
                    cells(persons, picked.ethnicity),
                ),
                dtype=pl.Int64,
            )  # fmt: skip
            pair_codes, person_codes = (
                [job.result() for job in jobs]
                if pool is not None
                else [_polars_join_codes(keyed, distinct, key_name, n) for keyed, distinct in joins]
            )
        finally:
            if pool is not None:
                pool.shutdown()
        width = len(groups.classes)
        combined = count_of_pair.gather(pair_codes) * width + class_of_person.gather(person_codes)
        # sorted, so that the groups of one count come together (its cell's cache stays warm)
        group_codes, distinct = _polars_codes(
            pl.DataFrame({"combined": combined}), key_name, sort=True
        )
        keys = distinct["combined"].to_list()
        results = groups.results([k // width for k in keys], [k % width for k in keys])
    else:
        group_codes = pl.Series(key_name, [], dtype=pl.Int64)
        results = _Results([], [], [], [])

    schema = _polars_schema()
    per_group = pl.DataFrame(
        {"wbc_value": results.values, "wbc_comparator": results.comparators,
         key_name: results.outcomes},
        schema={"wbc_value": pl.Float64, "wbc_comparator": pl.String, key_name: pl.Int64},
    )  # fmt: skip
    outcome_table = pl.DataFrame(
        results.outcome_rows, schema={name: schema[name] for name in FRAME_COLUMNS[2:]},
        orient="row",
    )  # fmt: skip
    # two gathers: the groups over the rows, then the few outcomes over the rows
    by_row = per_group.select(pl.all().gather(group_codes))
    appended = outcome_table.select(pl.all().gather(by_row[key_name]))
    return df.with_columns(by_row["wbc_value"], by_row["wbc_comparator"], *appended.get_columns())


def _polars_schema() -> dict[str, Any]:
    """The polars dtype of each appended column."""
    import polars as pl

    dtypes = {"Float64": pl.Float64, "Boolean": pl.Boolean, "Int64": pl.Int64, "String": pl.String}
    return {name: dtypes[POLARS_DTYPES[name]] for name in FRAME_COLUMNS}


def _polars_lazy(lf: Any, picked: _Columns, rows: RowInterpreter) -> Any:
    """A LazyFrame that interprets each batch of ``lf`` when it is collected.

    Each batch goes through the eager path, one batch at a time; the batches share
    one row interpreter, so a key seen in an earlier batch is not parsed again.
    ``streamable``: the streaming engine (``collect(engine="streaming")``,
    ``sink_csv``) runs it batch by batch.
    """
    import threading

    schema = {**lf.collect_schema(), **_polars_schema()}
    # polars runs batches on several threads; one at a time, a batch finds the keys of the
    # batches before it in the interpreter's caches instead of parsing them at the same time
    one_at_a_time = threading.Lock()

    def interpret_batch(batch: Any) -> Any:
        with one_at_a_time:
            return _polars(batch, picked, _Groups(rows))

    return lf.map_batches(interpret_batch, schema=schema, streamable=True)


def _polars_codes(keyed: Any, key_name: str, *, sort: bool = False) -> tuple[Any, Any]:
    """A number per row of ``keyed`` for its distinct rows, and the distinct rows numbered.

    The distinct rows come in order of first appearance (sorted with ``sort``), with
    their number in ``key_name``; they are joined back to the rows (quicker than
    ranking the columns).
    """
    distinct = _polars_distinct(keyed, key_name, sort=sort)
    return _polars_join_codes(keyed, distinct, key_name, keyed.height), distinct


def _polars_distinct(keyed: Any, key_name: str, *, sort: bool = False) -> Any:
    """The distinct rows of ``keyed`` numbered in ``key_name`` (None: one row, number 0)."""
    import polars as pl

    if keyed is None:
        return pl.DataFrame({key_name: [0]})
    if sort:
        return keyed.unique().sort(keyed.columns).with_row_index(key_name)
    return keyed.unique(maintain_order=True).with_row_index(key_name)


def _polars_join_codes(keyed: Any, distinct: Any, key_name: str, n: int) -> Any:
    """The number of each row of ``keyed`` among ``distinct`` (None: all 0)."""
    import polars as pl

    if keyed is None:
        return pl.Series(key_name, [0] * n, dtype=pl.Int64)
    return keyed.join(
        distinct, on=keyed.columns, how="left", nulls_equal=True, maintain_order="left",
        validate="m:1",
    )[key_name].cast(pl.Int64)  # fmt: skip
