"""``interpret_frame`` on pandas and polars: rows, columns, types, agreement with batch.

The expected result of every row is what the batch row engine
(:class:`cbc_ranges.rows.RowInterpreter`) gives for that row on its own, so a
frame and ``cbc-ranges batch`` agree cell for cell.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cbc_ranges import BatchError, CBCError, UnitError, interpret_frame
from cbc_ranges.frames import FRAME_COLUMNS, PANDAS_DTYPES, POLARS_DTYPES
from cbc_ranges.rows import RESULT_COLUMNS, RowInterpreter, plain_cell

VALUES: list[Any] = [
    "3.1", "4.2 K/uL", "4200 cells/µL", "12,500", "<1.0", ">=100", "4,2", "abc", "", None,
    "-3", 7.4, 4200, 11.0, 4.5, "4.0", "5.0 mg/dL", "3.2 L",
]  # fmt: skip
UNITS: list[Any] = ["10^9/L", "K/uL", "/uL", "G/L", None, "", "%", "x10E3/uL"]
AGES: list[Any] = [None, 40, 17.9, 18, "6 months", "-3 years", 8, "2y", "old"]
SEXES: list[Any] = [None, "F", "male", "M", "x", "female"]
ETHNICITIES: list[Any] = [None, "African", "Irish", "Middle Eastern", ""]


def _table(n: int, seed: int = 5) -> dict[str, list[Any]]:
    """A fixed pseudo-random mix, so that every value meets every kind of person."""
    rng = random.Random(seed)
    return {
        "patient": [f"p{i}" for i in range(n)],
        "wbc": [rng.choice(VALUES) for _ in range(n)],
        "unit": [rng.choice(UNITS) for _ in range(n)],
        "age": [None if a is None else str(a) for a in (rng.choice(AGES) for _ in range(n))],
        "sex": [rng.choice(SEXES) for _ in range(n)],
        "ethnicity": [rng.choice(ETHNICITIES) for _ in range(n)],
    }


def _text_table(n: int) -> dict[str, list[Any]]:
    """The same rows with every cell as text, as a polars String column needs them."""
    data = _table(n)
    data["wbc"] = [None if v is None else str(v) for v in data["wbc"]]
    return data


KEYS = {"value": "wbc", "unit": "unit", "age": "age", "sex": "sex", "ethnicity": "ethnicity"}


def _expected(rows: Sequence[dict[str, Any]], **options: Any) -> list[tuple[Any, ...]]:
    interpreter = RowInterpreter(**options)
    out = []
    for row in rows:
        cells = [plain_cell(row.get(key)) for key in ("wbc", "unit", "age", "sex", "ethnicity")]
        value, unit, age, sex, ethnicity = cells
        parsed = interpreter.parse(value, None if unit is None else str(unit))
        person = interpreter.person(
            age, None if sex is None else str(sex), None if ethnicity is None else str(ethnicity)
        )
        r = interpreter.combine(parsed, person).result
        out.append(
            (
                r.value, r.comparator, r.flag, r.code, r.leukopenia, r.ref_low, r.ref_high,
                r.source, r.severity, r.grade, r.ancestry, "; ".join(r.warnings) or None,
                r.error,
            )
        )  # fmt: skip
    return out


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _same(a: Any, b: Any) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    return bool(a == b)


def _pandas_results(out: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in out[list(FRAME_COLUMNS)].astype(object).itertuples(index=False)]


def _polars_results(out: pl.DataFrame) -> list[tuple[Any, ...]]:
    return out.select(FRAME_COLUMNS).rows()


def _assert_rows_agree(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    assert len(got) == len(expected)
    for index, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert all(_same(a, b) for a, b in zip(g, e, strict=True)), (index, g, e)


# ------------------------------------------------------------------ pandas


def test_pandas_keeps_every_row_and_column_and_agrees_with_the_row_engine() -> None:
    data = _table(400)
    frame = pd.DataFrame(data, index=pd.Index([f"r{i % 37}" for i in range(400)], name="id"))
    before = frame.copy()
    out = interpret_frame(frame, **KEYS)
    assert list(out.columns) == [*frame.columns, *FRAME_COLUMNS]
    assert out.index.equals(frame.index)  # duplicate labels and all
    pd.testing.assert_frame_equal(out[list(frame.columns)], before)
    pd.testing.assert_frame_equal(frame, before)  # the input is not modified
    rows = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
    _assert_rows_agree(_pandas_results(out), _expected(rows))


def test_pandas_dtypes_are_as_documented() -> None:
    out = interpret_frame(pd.DataFrame(_table(50)), **KEYS)
    assert {name: str(out[name].dtype) for name in FRAME_COLUMNS} == PANDAS_DTYPES
    assert PANDAS_DTYPES["wbc_value"] == "float64"
    assert PANDAS_DTYPES["wbc_leukopenia"] == "boolean"


def test_pandas_numeric_columns_are_read() -> None:
    frame = pd.DataFrame(
        {"wbc": [3.1, 7.4, float("nan"), 12.5], "age": [40.0, 8.0, 40.0, float("nan")],
         "sex": pd.Categorical(["F", "M", "F", None])}
    )  # fmt: skip
    out = interpret_frame(frame, value="wbc", age="age", sex="sex", default_unit="10^9/L")
    assert out["wbc_flag"].tolist() == ["low", "normal", pd.NA, "high"]
    assert out["wbc_error"].notna().tolist() == [False, False, True, False]
    assert out["wbc_leukopenia"].tolist() == [True, pd.NA, pd.NA, False]


def test_a_censored_value_keeps_its_comparator() -> None:
    out = interpret_frame(pd.DataFrame({"wbc": ["<1.0", "1.0"]}), value="wbc")
    assert out["wbc_value"].tolist() == [1.0, 1.0]
    assert out["wbc_comparator"].tolist() == ["<", pd.NA]


def test_bad_rows_get_an_error_and_no_flag() -> None:
    frame = pd.DataFrame({"wbc": ["abc", "4.2", "-1", "5 mg/dL", None], "age": [40] * 5})
    out = interpret_frame(frame, value="wbc", age="age", default_unit="K/uL")
    assert out["wbc_error"].isna().tolist() == [False, True, False, False, False]
    assert out["wbc_flag"].isna().tolist() == [True, False, True, True, True]
    assert all("\n" not in message for message in out["wbc_error"].dropna())


def test_cells_of_any_python_type_are_row_errors_not_exceptions() -> None:
    odd: list[Any] = [[4.2], {"wbc": 4.2}, b"4.2", object(), (4.2,), "4.2"]
    frame = pd.DataFrame({"wbc": odd, "age": [[40], 40, 40, 40, 40, 40]})
    out = interpret_frame(frame, value="wbc", age="age", default_unit="K/uL")
    assert out["wbc_error"].notna().tolist() == [True, True, True, True, True, False]
    assert out["wbc_flag"].tolist()[-1] == "low"
    expected = _expected([{"wbc": v, "age": a} for v, a in zip(odd, frame["age"], strict=True)],
                         default_unit="K/uL")  # fmt: skip
    _assert_rows_agree(_pandas_results(out), expected)


def test_a_bad_age_is_a_row_error_not_an_exception() -> None:
    frame = pd.DataFrame({"wbc": ["4.2", "4.2"], "age": ["-3 years", "40"]})
    out = interpret_frame(frame, value="wbc", age="age", default_unit="K/uL")
    assert out["wbc_error"].notna().tolist() == [True, False]


def test_an_empty_pandas_frame_gives_an_empty_frame_with_the_columns() -> None:
    frame = pd.DataFrame({"wbc": pd.Series([], dtype=object), "age": pd.Series([], dtype=float)})
    out = interpret_frame(frame, value="wbc", age="age")
    assert len(out) == 0
    assert {name: str(out[name].dtype) for name in FRAME_COLUMNS} == PANDAS_DTYPES


# ------------------------------------------------------------------ polars


def test_polars_keeps_every_row_and_column_and_agrees_with_the_row_engine() -> None:
    data = _text_table(400)
    frame = pl.DataFrame(data)
    out = interpret_frame(frame, **KEYS)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == [*frame.columns, *FRAME_COLUMNS]
    assert out.select(frame.columns).equals(frame)
    rows = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
    _assert_rows_agree(_polars_results(out), _expected(rows))


@pytest.mark.parametrize("threads_from", [0, 10**9], ids=["threads", "no threads"])
def test_polars_key_numbers_joined_with_or_without_threads_agree_with_the_row_engine(
    threads_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cbc_ranges.frames

    monkeypatch.setattr(cbc_ranges.frames, "JOIN_THREADS_ROWS", threads_from)
    data = _text_table(300)
    out = interpret_frame(pl.DataFrame(data), **KEYS)
    rows = [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
    _assert_rows_agree(_polars_results(out), _expected(rows))


def test_polars_dtypes_are_as_documented() -> None:
    out = interpret_frame(pl.DataFrame(_text_table(50)), **KEYS)
    assert {name: str(out.schema[name]) for name in FRAME_COLUMNS} == POLARS_DTYPES


def test_polars_numeric_and_null_columns_are_read() -> None:
    frame = pl.DataFrame(
        {"wbc": [3.1, 7.4, None, float("nan")], "age": [40, 8, 40, 40], "sex": ["F", "M", "F", "F"]}
    )
    out = interpret_frame(frame, value="wbc", age="age", sex="sex", default_unit="10*9/L")
    assert out["wbc_flag"].to_list() == ["low", "normal", None, None]
    assert out["wbc_leukopenia"].to_list() == [True, None, None, None]


def test_an_empty_polars_frame_gives_an_empty_frame_with_the_columns() -> None:
    out = interpret_frame(pl.DataFrame({"wbc": []}, schema={"wbc": pl.String}), value="wbc")
    assert out.height == 0
    assert {name: str(out.schema[name]) for name in FRAME_COLUMNS} == POLARS_DTYPES


def test_pandas_and_polars_give_the_same_results() -> None:
    data = _text_table(300)
    from_pandas = _pandas_results(interpret_frame(pd.DataFrame(data), **KEYS))
    from_polars = _polars_results(interpret_frame(pl.DataFrame(data), **KEYS))
    _assert_rows_agree(from_pandas, from_polars)


# ------------------------------------------------------------------ both


FRAMES: list[Callable[[dict[str, list[Any]]], Any]] = [pd.DataFrame, pl.DataFrame]


@pytest.mark.parametrize("make", FRAMES, ids=["pandas", "polars"])
def test_options_reach_the_row_engine(make: Callable[[dict[str, list[Any]]], Any]) -> None:
    data = {"wbc": ["4,2", "4200"], "unit": [None, "/uL"]}
    out = interpret_frame(make(data), value="wbc", unit="unit", default_unit="G/L",
                          decimal_comma=True)  # fmt: skip
    values = list(out["wbc_value"])
    assert values == [4.2, 4.2]


@pytest.mark.parametrize("make", FRAMES, ids=["pandas", "polars"])
def test_a_missing_column_is_named_with_a_suggestion(
    make: Callable[[dict[str, list[Any]]], Any],
) -> None:
    with pytest.raises(BatchError, match=r"no value column 'wcb'.*did you mean 'wbc'"):
        interpret_frame(make({"wbc": ["4.2"]}), value="wcb")
    with pytest.raises(BatchError, match="no age column"):
        interpret_frame(make({"wbc": ["4.2"]}), value="wbc", age="age")


@pytest.mark.parametrize("make", FRAMES, ids=["pandas", "polars"])
def test_existing_result_columns_are_refused_not_overwritten(
    make: Callable[[dict[str, list[Any]]], Any],
) -> None:
    with pytest.raises(BatchError, match="wbc_flag"):
        interpret_frame(make({"wbc": ["4.2"], "wbc_flag": ["mine"]}), value="wbc")


@pytest.mark.parametrize("make", FRAMES, ids=["pandas", "polars"])
def test_a_bad_default_unit_is_refused_at_once(make: Callable[[dict[str, list[Any]]], Any]) -> None:
    with pytest.raises(UnitError):
        interpret_frame(make({"wbc": ["4.2"]}), value="wbc", default_unit="mg/dL")


@pytest.mark.parametrize(
    "thing",
    [
        [{"wbc": "4.2"}],
        {"wbc": ["4.2"]},
        "wbc",
        None,
        pd.Series(["4.2"], name="wbc"),
        pl.Series("wbc", ["4.2"]),
    ],
    ids=["list", "dict", "str", "None", "pandas Series", "polars Series"],
)
def test_something_that_is_not_a_frame_is_refused(thing: Any) -> None:
    with pytest.raises(CBCError, match="pandas or polars DataFrame"):
        interpret_frame(thing, value="wbc")


@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_a_lazy_frame_gives_a_lazy_frame_with_the_same_rows(engine: Any) -> None:
    frame = pl.DataFrame(_text_table(3000))
    eager = interpret_frame(frame, **KEYS)
    lazy = interpret_frame(frame.lazy(), **KEYS)
    assert isinstance(lazy, pl.LazyFrame)
    assert dict(lazy.collect_schema()) == dict(eager.schema)
    collected = lazy.collect(engine=engine)
    assert collected.equals(eager)  # same rows in the same order, same dtypes and values


def test_a_lazy_frame_runs_nothing_until_it_is_collected() -> None:
    seen: list[str] = []

    def spy(cell: str) -> str:
        seen.append(cell)
        return cell

    lazy = pl.LazyFrame({"wbc": ["4.2", "12.5"]}).with_columns(
        pl.col("wbc").map_elements(spy, return_dtype=pl.String)
    )
    out = interpret_frame(lazy, value="wbc", default_unit="K/uL")
    assert seen == []
    assert out.collect()["wbc_flag"].to_list() == ["low", "high"]
    assert sorted(seen) == ["12.5", "4.2"]


def test_a_lazy_frame_with_panel_options_is_refused_with_a_hint() -> None:
    lazy = pl.LazyFrame({"wbc": ["4.2"], "test": ["WBC"]})
    with pytest.raises(BatchError, match=r"collect\(\) the LazyFrame"):
        interpret_frame(lazy, value="wbc", differential=True)
    with pytest.raises(BatchError, match=r"collect\(\) the LazyFrame"):
        interpret_frame(lazy, value="wbc", analyte_col="test")


def test_a_lazy_frame_with_a_missing_column_is_refused_at_once() -> None:
    with pytest.raises(BatchError, match=r"no value column 'wcb'.*did you mean 'wbc'"):
        interpret_frame(pl.LazyFrame({"wbc": ["4.2"]}), value="wcb")
    with pytest.raises(BatchError, match="wbc_flag"):
        interpret_frame(pl.LazyFrame({"wbc": ["4.2"], "wbc_flag": ["x"]}), value="wbc")


def test_a_dask_frame_is_refused_with_a_hint() -> None:
    dd = pytest.importorskip("dask.dataframe")
    with pytest.raises(BatchError, match="map_partitions"):
        interpret_frame(dd.from_pandas(pd.DataFrame({"wbc": ["4.2"]}), npartitions=1), value="wbc")


def test_a_subclass_of_a_pandas_frame_is_accepted() -> None:
    class LabFrame(pd.DataFrame):
        pass

    out = interpret_frame(LabFrame({"wbc": ["3.1"]}), value="wbc", default_unit="K/uL")
    assert out["wbc_value"].tolist() == [3.1]


@pytest.mark.parametrize("make", FRAMES, ids=["pandas", "polars"])
def test_each_step_runs_once_per_distinct_key_not_per_row(
    make: Callable[[dict[str, list[Any]]], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, int] = {"parse": 0, "person": 0, "combine": 0}

    def counted(step: str) -> Callable[..., Any]:
        original = getattr(RowInterpreter, step)

        def wrapper(self: RowInterpreter, *args: Any) -> Any:
            calls[step] += 1
            return original(self, *args)

        return wrapper

    for step in calls:
        monkeypatch.setattr(RowInterpreter, step, counted(step))
    n = 30_000
    data = {
        "wbc": ["3.1", "7.4", "3.1 K/uL"] * (n // 3),
        "age": [40, 41, 8] * (n // 3),
        "sex": ["F"] * n,
    }
    out = interpret_frame(make(data), value="wbc", age="age", sex="sex")
    assert len(out) == n
    assert list(out["wbc_flag"][:3]) == ["low", "normal", "low"]
    # 3 distinct (value, unit) pairs and 3 distinct people: one step each
    assert calls["parse"] == 3
    assert calls["person"] == 3
    # "3.1" and "3.1 K/uL" read as one count, ages 40 and 41 are one class:
    # (3.1, adult), (7.4, adult), (3.1, child)
    assert calls["combine"] == 3


# ------------------------------------------------------------------ properties

_cells = st.one_of(
    st.none(),
    st.sampled_from(VALUES).map(lambda v: None if v is None else str(v)),
    st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(_cells, st.sampled_from(UNITS), st.sampled_from(AGES).map(
            lambda a: None if a is None else str(a)), st.sampled_from(SEXES)),
        max_size=30,
    )
)  # fmt: skip
def test_any_frame_keeps_its_rows_and_matches_the_row_engine(
    rows: list[tuple[Any, Any, Any, Any]],
) -> None:
    data = {
        "wbc": [r[0] for r in rows],
        "unit": [r[1] for r in rows],
        "age": [r[2] for r in rows],
        "sex": [r[3] for r in rows],
    }
    keys = {"value": "wbc", "unit": "unit", "age": "age", "sex": "sex"}
    expected = _expected(
        [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]
    )
    pandas_out = interpret_frame(pd.DataFrame(data, dtype=object), **keys)
    assert len(pandas_out) == len(rows)
    _assert_rows_agree(_pandas_results(pandas_out), expected)
    polars_out = interpret_frame(pl.DataFrame(data, schema=dict.fromkeys(data, pl.String)), **keys)
    _assert_rows_agree(_polars_results(polars_out), expected)


_any_cell = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | st.binary(
        max_size=4),
    lambda children: st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=3),
                                                                     children, max_size=2),
    max_leaves=4,
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.tuples(_any_cell, _any_cell, _any_cell), max_size=12))
def test_any_python_cells_in_pandas_give_rows_not_exceptions(
    cells: list[tuple[Any, Any, Any]],
) -> None:
    data = {
        "wbc": [c[0] for c in cells],
        "unit": [c[1] for c in cells],
        "age": [c[2] for c in cells],
    }
    frame = pd.DataFrame({name: pd.Series(column, dtype=object) for name, column in data.items()})
    out = interpret_frame(frame, value="wbc", unit="unit", age="age")
    assert len(out) == len(cells)
    expected = _expected([dict(zip(data, row, strict=True)) for row in cells])
    _assert_rows_agree(_pandas_results(out), expected)


# ------------------------------------------------------------------ Dask


def test_dask_map_partitions_gives_the_same_as_one_call() -> None:
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame(_table(240))
    whole = interpret_frame(frame, **KEYS)
    # keep the input columns as they are (dask would turn text columns into Arrow strings)
    with dask.config.set({"dataframe.convert-string": False}):
        parted = dd.from_pandas(frame, npartitions=4)
        meta = interpret_frame(frame.iloc[:0], **KEYS)
        lazy = parted.map_partitions(interpret_frame, meta=meta, **KEYS)
        assert lazy.npartitions == 4
        got = lazy.compute(scheduler="threads")
    pd.testing.assert_frame_equal(got, whole)


def test_the_result_columns_are_the_batch_columns_plus_the_comparator() -> None:
    assert [name for name in FRAME_COLUMNS if name != "wbc_comparator"] == list(RESULT_COLUMNS)
